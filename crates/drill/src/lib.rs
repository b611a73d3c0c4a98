//! oxtcp-drill: runs packetdrill scripts against oxtcp's sans-IO stack in virtual time.
//!
//! A script is parsed once (`parse`) into the `ast` form, then executed (`run`) against a
//! fresh `oxtcp_core::Stack`: inbound packet lines are built and handed to the stack, outbound
//! lines are compared with what the stack transmits (`packets`), syscall lines go through a
//! small socket layer that maps oxtcp's user calls onto file descriptors and errno names
//! (`syscalls`), and shell lines become configuration or state checks (`shell`). What a
//! script written for FreeBSD or Linux expects of that OS lives in its `profile`.

pub mod ast;
mod packets;
pub mod parse;
pub mod profile;
mod run;
mod shell;
pub mod suite;
mod syscalls;
pub mod verdict;

pub use profile::{Profile, ProfileKind};
pub use run::{run_script, run_source, RunOptions};
pub use verdict::{Failure, Unsupported, Verdict};
