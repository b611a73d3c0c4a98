//! Choosing the local end of an active OPEN: an ephemeral port for a destination (RFC 6056),
//! and whether a 4-tuple is already owned.

use std::net::{IpAddr, SocketAddr};

use super::Stack;
use crate::error::ConnectError;
use crate::tuple::FourTuple;

impl Stack {
    /// RFC 6056 §3.3.3 (Algorithm 3): a keyed hash of the destination picks where the search
    /// through the ephemeral range starts, so ports are hard to predict but reuse is spread.
    pub(super) fn ephemeral_tuple(
        &mut self,
        local_ip: IpAddr,
        remote: SocketAddr,
    ) -> Result<FourTuple, ConnectError> {
        let lo = u32::from(*self.cfg.ephemeral_ports.start());
        let hi = u32::from(*self.cfg.ephemeral_ports.end());
        if hi < lo || lo == 0 {
            return Err(ConnectError::NoPortAvailable);
        }
        let count = hi - lo + 1;
        let offset = self.port_key.hash_one_u64((local_ip, remote)) as u32;
        for i in 0..count {
            let port = lo + (offset.wrapping_add(self.next_port).wrapping_add(i)) % count;
            let tuple = FourTuple {
                local: SocketAddr::new(local_ip, port as u16),
                remote,
            };
            if !self.tuple_taken(&tuple) && !self.listener_by_port.contains_key(&(port as u16)) {
                self.next_port = self.next_port.wrapping_add(i + 1);
                return Ok(tuple);
            }
        }
        Err(ConnectError::NoPortAvailable)
    }

    /// Does a connection, half-open or TIME-WAIT entry own `tuple`?
    pub(super) fn tuple_taken(&self, tuple: &FourTuple) -> bool {
        let hash = self.by_tuple.hash(tuple);
        self.by_tuple.get(hash, tuple, &self.slots).is_some()
            || self.time_wait_find(hash, tuple).is_some()
    }
}
