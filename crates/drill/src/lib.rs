//! oxtcp-drill: runs packetdrill scripts against oxtcp's sans-IO stack in virtual time.
//!
//! A script is parsed once (`parse`) into the `ast` form, then executed (`run`) against a
//! fresh `oxtcp_core::Stack`: inbound packet lines are built and handed to the stack, outbound
//! lines are compared with what the stack transmits, syscall lines go through a small socket
//! layer that maps oxtcp's user calls onto file descriptors and errno names.

pub mod ast;
pub mod parse;
