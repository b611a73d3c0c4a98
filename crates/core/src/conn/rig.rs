//! A connection without a stack, for the connection's own unit tests: what its calls need
//! besides the connection, and one established through its handshake.

use std::net::SocketAddr;

use oxtcp_wire::{TcpOptions, Timestamps};

use super::{ts_clock, BufPool, Connection, Ctx, PeerSyn, SegIn, ACK};
use crate::config::{SocketOptions, StackConfig};
use crate::event::Trace;
use crate::handle::ConnId;
use crate::seq::SeqNum;
use crate::stack::ratelimit::AckLimits;
use crate::state::State;
use crate::time::Instant;
use crate::tuple::FourTuple;

/// What a connection's calls need besides the connection: the configuration (the
/// default: CUBIC, HyStart, SACK, timestamps, window scaling), a trace, limits and a pool.
pub(super) struct Rig {
    pub(super) cfg: StackConfig,
    pub(super) trace: Trace,
    pub(super) limits: AckLimits,
    pub(super) bufs: BufPool,
    pub(super) now: Instant,
    pub(super) predicted: u64,
}

impl Rig {
    pub(super) fn new() -> Rig {
        Rig {
            cfg: StackConfig::default(),
            trace: Trace::new(false, 1),
            limits: AckLimits::new(),
            bufs: BufPool::default(),
            now: Instant::from_secs(1),
            predicted: 0,
        }
    }

    pub(super) fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            now: self.now,
            cfg: &self.cfg,
            trace: &mut self.trace,
            id: ConnId { index: 0, gen: 0 },
            limits: &mut self.limits,
            bufs: &mut self.bufs,
            predicted: &mut self.predicted,
        }
    }

    /// A passive connection with every option negotiated, through its handshake: the
    /// peer's ISS is 1000 and ours 5000, and the peer scales its window by 2^7.
    pub(super) fn established(&mut self) -> Connection {
        let tuple = FourTuple {
            local: SocketAddr::from(([10, 0, 0, 1], 80)),
            remote: SocketAddr::from(([10, 0, 0, 2], 40_000)),
        };
        let syn = PeerSyn {
            irs: SeqNum::new(1000),
            window: 65_535,
            mss: Some(1460),
            wscale: Some(7),
            tsval: Some(100),
            sack_permitted: true,
        };
        let opts = SocketOptions::default();
        let iss = SeqNum::new(5000);
        let mut c = Connection::from_half_open(&self.cfg, opts, tuple, iss, syn, 0, self.now);
        self.deliver(&mut c, 1001, 5001, 101, &[]);
        assert_eq!(c.state(), State::Established);
        c
    }

    /// Hand `c` a segment from the peer, ACK set, window 512 << 7, with timestamps.
    pub(super) fn deliver(
        &mut self,
        c: &mut Connection,
        seq: u32,
        ack: u32,
        tsval: u32,
        payload: &[u8],
    ) {
        let seg = SegIn {
            seq: SeqNum::new(seq),
            ack: SeqNum::new(ack),
            flags: ACK,
            wnd: 512,
            options: &TcpOptions {
                timestamps: Some(Timestamps {
                    tsval,
                    tsecr: ts_clock(self.now, 0),
                }),
                ..TcpOptions::default()
            },
            payload,
        };
        c.handle_segment(&mut self.ctx(), seg);
    }
}
