//! Choosing the local end of an active OPEN: an ephemeral port for a destination (RFC 6056),
//! whether a 4-tuple is already owned, and when a TIME-WAIT entry may give its 4-tuple up to
//! a new connection (`StackConfig::connect_reuses_time_wait`).

use std::net::{IpAddr, SocketAddr};

use super::time_wait::TwAt;
use super::Stack;
use crate::error::ConnectError;
use crate::seq::SeqNum;
use crate::tuple::FourTuple;

/// The 4-tuple an active OPEN gets.
pub(super) struct LocalEnd {
    pub(super) tuple: FourTuple,
    /// A TIME-WAIT entry holding the 4-tuple, to be ended first, and the ISS the new
    /// connection must then use.
    pub(super) takes_over: Option<(TwAt, SeqNum)>,
}

impl Stack {
    /// RFC 6056 §3.3.3 (Algorithm 3): a keyed hash of the destination picks where the search
    /// through the ephemeral range starts, so ports are hard to predict but reuse is spread.
    /// The first port whose 4-tuple is free, or held by a TIME-WAIT entry that may give it
    /// up, is taken, as Linux's search does.
    pub(super) fn ephemeral_tuple(
        &mut self,
        local_ip: IpAddr,
        remote: SocketAddr,
    ) -> Result<LocalEnd, ConnectError> {
        let lo = u32::from(*self.cfg.ephemeral_ports.start());
        let hi = u32::from(*self.cfg.ephemeral_ports.end());
        if hi < lo || lo == 0 {
            return Err(ConnectError::NoPortAvailable);
        }
        let count = hi - lo + 1;
        let offset = self.port_key.hash_one_u64((local_ip, remote)) as u32;
        for i in 0..count {
            let port = lo + (offset.wrapping_add(self.next_port).wrapping_add(i)) % count;
            if self.listener_by_port.contains_key(&(port as u16)) {
                continue;
            }
            let tuple = FourTuple {
                local: SocketAddr::new(local_ip, port as u16),
                remote,
            };
            if let Some(end) = self.local_end(tuple) {
                self.next_port = self.next_port.wrapping_add(i + 1);
                return Ok(end);
            }
        }
        Err(ConnectError::NoPortAvailable)
    }

    /// `tuple` for an active OPEN, if nothing keeps it: no connection or half-open entry
    /// owns it, and no TIME-WAIT entry does that may not give it up.
    pub(super) fn local_end(&self, tuple: FourTuple) -> Option<LocalEnd> {
        let hash = self.by_tuple.hash(&tuple);
        if self.by_tuple.get(hash, &tuple, &self.slots).is_some() {
            return None;
        }
        let Some(at) = self.time_wait_find(hash, &tuple) else {
            return Some(LocalEnd {
                tuple,
                takes_over: None,
            });
        };
        let after = self.cfg.connect_reuses_time_wait?;
        let iss = self
            .time_wait_unpack(at)?
            .reusable_by_connect(self.now, after)?;
        Some(LocalEnd {
            tuple,
            takes_over: Some((at, iss)),
        })
    }
}
