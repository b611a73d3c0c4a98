//! The core's per-call errors as `std::io::Error`s, with the kinds std::net uses.

use std::io::{Error, ErrorKind};

use oxtcp_core::{
    AcceptError, CloseError, ConnError, ConnectError, ListenError, RecvError, SendError,
};

pub(crate) fn conn(e: ConnError) -> Error {
    let kind = match e {
        ConnError::Refused => ErrorKind::ConnectionRefused,
        ConnError::Reset => ErrorKind::ConnectionReset,
        ConnError::TimedOut => ErrorKind::TimedOut,
        ConnError::Aborted => ErrorKind::ConnectionAborted,
    };
    Error::new(kind, e)
}

pub(crate) fn not_connected() -> Error {
    Error::new(ErrorKind::NotConnected, "socket is not connected")
}

pub(crate) fn connect(e: ConnectError) -> Error {
    let kind = match e {
        ConnectError::AddrInUse => ErrorKind::AddrInUse,
        ConnectError::NoPortAvailable | ConnectError::AddrNotAvailable => {
            ErrorKind::AddrNotAvailable
        }
        ConnectError::InvalidArgument => ErrorKind::InvalidInput,
        ConnectError::ResourceLimit => ErrorKind::OutOfMemory,
    };
    Error::new(kind, e)
}

pub(crate) fn listen(e: ListenError) -> Error {
    let kind = match e {
        ListenError::AddrInUse => ErrorKind::AddrInUse,
        ListenError::AddrNotAvailable => ErrorKind::AddrNotAvailable,
        ListenError::InvalidArgument => ErrorKind::InvalidInput,
    };
    Error::new(kind, e)
}

pub(crate) fn accept(e: AcceptError) -> Error {
    match e {
        AcceptError::WouldBlock => ErrorKind::WouldBlock.into(),
        AcceptError::InvalidHandle(_) => Error::new(ErrorKind::InvalidInput, "listener is closed"),
    }
}

/// `None` for WouldBlock, which callers wait on.
pub(crate) fn send(e: SendError) -> Option<Error> {
    match e {
        SendError::WouldBlock => None,
        // Writing after our own shutdown(Write) is EPIPE on every Unix.
        SendError::Closing => Some(Error::new(ErrorKind::BrokenPipe, e)),
        SendError::Conn(c) => Some(conn(c)),
        SendError::InvalidHandle(_) => Some(not_connected()),
    }
}

/// `None` for WouldBlock, which callers wait on.
pub(crate) fn recv(e: RecvError) -> Option<Error> {
    match e {
        RecvError::WouldBlock => None,
        RecvError::Conn(c) => Some(conn(c)),
        RecvError::InvalidHandle(_) => Some(not_connected()),
    }
}

/// shutdown(Write) twice is not an error, as on Linux.
pub(crate) fn close(e: CloseError) -> Result<(), Error> {
    match e {
        CloseError::Closing => Ok(()),
        CloseError::Conn(c) => Err(conn(c)),
        CloseError::InvalidHandle(_) => Err(not_connected()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_std_net() {
        assert_eq!(
            conn(ConnError::Refused).kind(),
            ErrorKind::ConnectionRefused
        );
        assert_eq!(conn(ConnError::Reset).kind(), ErrorKind::ConnectionReset);
        assert_eq!(conn(ConnError::TimedOut).kind(), ErrorKind::TimedOut);
        assert_eq!(
            send(SendError::Closing).unwrap().kind(),
            ErrorKind::BrokenPipe
        );
        assert!(send(SendError::WouldBlock).is_none());
        assert_eq!(listen(ListenError::AddrInUse).kind(), ErrorKind::AddrInUse);
        assert_eq!(
            connect(ConnectError::AddrInUse).kind(),
            ErrorKind::AddrInUse
        );
        assert_eq!(
            accept(AcceptError::WouldBlock).kind(),
            ErrorKind::WouldBlock
        );
        assert!(close(CloseError::Closing).is_ok());
    }
}
