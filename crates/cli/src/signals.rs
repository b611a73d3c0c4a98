//! SIGINT and SIGTERM as a message: the command closes its connections gracefully instead of
//! dying with them half-open.

use std::sync::mpsc::{channel, Receiver, Sender};

use anyhow::{Context, Result};

/// Why a long-running command is stopping.
#[derive(Debug)]
pub enum Stop {
    /// SIGINT or SIGTERM.
    Signal,
    /// The command's own work ended (the peer closed, or the runtime failed).
    Done(Result<(), String>),
}

/// A channel that receives `Stop::Signal` on SIGINT/SIGTERM, and a sender for the rest.
pub fn install() -> Result<(Sender<Stop>, Receiver<Stop>)> {
    let (tx, rx) = channel();
    let t = tx.clone();
    ctrlc::set_handler(move || {
        let _ = t.send(Stop::Signal);
    })
    .context("cannot install the SIGINT/SIGTERM handler")?;
    Ok((tx, rx))
}
