//! Header prediction (Van Jacobson's, as in 4.4BSD's `tcp_input` and Linux's fast path): in
//! ESTABLISHED almost every segment is the next one expected, carrying either the next
//! in-order data or an ACK of new data, with nothing else to notice. For such a segment most of
//! RFC 9293 §3.10.7.4's steps are known in advance to pass or to do nothing, so they are not
//! run. Whatever the prediction does not cover goes the whole way (`input.rs`), and what a
//! predicted segment does is what the whole way would have done with it: the steps below are
//! the ones of `on_segment_synchronizing` that can change something for it, in its order.

use oxtcp_wire::TcpFlags;

use super::flags::Flags;
use super::input::{ts_recent_expired, SegIn};
use super::{ts_before, Connection, Ctx};
use crate::state::State;

impl Connection {
    /// Handle `seg` by the prediction if it fits it; false (having changed nothing) if the
    /// whole processing must judge it.
    pub(super) fn handle_predicted(&mut self, ctx: &mut Ctx<'_>, seg: &SegIn<'_>) -> bool {
        if !ctx.cfg.header_prediction || !self.is_predicted(ctx, seg) {
            return false;
        }
        *ctx.predicted += 1;
        let seg_ts = seg.options.timestamps;
        // PAWS passed (`is_predicted`); the sequence number is RCV.NXT and the segment fits
        // the window, so nothing is trimmed; no RST, no SYN; the ACK lies in
        // [SND.UNA, SND.MAX], so neither of RFC 5961's ACK checks applies.
        self.update_ts_recent(ctx.now, seg_ts, seg.seq, false);
        // With no cold part and no SACK blocks, the recovery step has nothing to do and lets
        // cwnd grow (`on_ack_for_recovery`'s common case).
        if seg.ack.after(self.snd_una) {
            self.on_ack_advance(ctx, seg.ack, seg_ts.map(|t| t.tsecr), true);
        }
        // The window is the one already held; only the record of the segment that set it moves.
        if self.may_update_window(seg.seq, seg.ack, false) {
            self.snd_wl1 = seg.seq;
            self.snd_wl2 = seg.ack;
        }
        self.on_text_and_fin(ctx, *seg);
        true
    }

    /// Whether `seg` is one the prediction covers: in ESTABLISHED with nothing unusual held
    /// (no cold part: no recovery, SACK scoreboard or report, persist timer or TIME-WAIT),
    /// flags ACK and maybe PSH, at RCV.NXT, whole within the window, the send window
    /// unchanged, no SACK blocks, a timestamp that passes PAWS if they are in use, and either
    /// data (acknowledging nothing past SND.MAX) or an ACK of new data. Data or a FIN held
    /// out of order needs no test here: the text step is the whole way's own.
    fn is_predicted(&self, ctx: &Ctx<'_>, seg: &SegIn<'_>) -> bool {
        const ACK: u8 = TcpFlags::ACK.bits();
        const ACK_PSH: u8 = TcpFlags::ACK.union(TcpFlags::PSH).bits();
        if self.state != State::Established
            || self.cold.is_some()
            || !matches!(seg.flags.bits(), ACK | ACK_PSH)
            || seg.seq != self.rcv_nxt
            || !seg.options.sack_blocks.is_empty()
            || u32::from(seg.wnd) << self.snd_wind_shift != self.snd_wnd
        {
            return false;
        }
        if self.flags.has(Flags::TS_OK) {
            let Some(ts) = seg.options.timestamps else {
                return false;
            };
            if ts_before(ts.tsval, self.ts_recent) || ts_recent_expired(ctx.now, self.ts_recent_age)
            {
                return false;
            }
        }
        if seg.payload.is_empty() {
            // A bare ACK is predicted only when it acknowledges new data: one at SND.UNA may
            // be a duplicate ACK, which recovery counts.
            seg.ack.after(self.snd_una) && seg.ack.before_eq(self.snd_max)
        } else {
            !seg.ack.before(self.snd_una)
                && seg.ack.before_eq(self.snd_max)
                && seg.payload.len() <= self.rcv_wnd() as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use oxtcp_wire::{SackBlock, TcpFlags, TcpOptions, Timestamps};
    use proptest::prelude::*;

    use crate::conn::rig::Rig;
    use crate::conn::{ts_clock, Connection, SegIn};
    use crate::seq::SeqNum;
    use crate::state::State;

    /// A segment from the peer, at the rig's connection (window 512 << 7 unless `wnd`).
    struct Seg {
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        wnd: u16,
        tsval: Option<u32>,
        sack: Option<(u32, u32)>,
        payload: Vec<u8>,
    }

    impl Seg {
        fn new(seq: u32, ack: u32, tsval: u32, payload: &[u8]) -> Seg {
            Seg {
                seq,
                ack,
                flags: TcpFlags::ACK,
                wnd: 512,
                tsval: Some(tsval),
                sack: None,
                payload: payload.to_vec(),
            }
        }
    }

    /// Hand `c` the segment; the disposition, and whether the prediction took it.
    fn arrive(r: &mut Rig, c: &mut Connection, s: &Seg) -> (super::super::Disposition, bool) {
        let mut options = TcpOptions {
            timestamps: s.tsval.map(|tsval| Timestamps {
                tsval,
                tsecr: ts_clock(r.now, 0),
            }),
            ..TcpOptions::default()
        };
        if let Some((l, e)) = s.sack {
            options.sack_blocks.push(SackBlock { left: l, right: e });
        }
        let seg = SegIn {
            seq: SeqNum::new(s.seq),
            ack: SeqNum::new(s.ack),
            flags: s.flags,
            wnd: s.wnd,
            options: &options,
            payload: &s.payload,
        };
        let before = r.predicted;
        let d = c.handle_segment(&mut r.ctx(), seg);
        (d, r.predicted > before)
    }

    /// Everything `c` sends now.
    fn drain(r: &mut Rig, c: &mut Connection) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..64 {
            match c.poll_transmit(&mut r.ctx(), 1500) {
                Some(s) => out.push(format!("{s:?}")),
                None => return out,
            }
        }
        panic!("a connection kept sending");
    }

    #[test]
    fn in_order_data_and_acks_of_new_data_are_predicted_and_nothing_else() {
        let mut r = Rig::new();
        let mut c = r.established();
        // In-order data acknowledging nothing new: predicted, delivered, ACK owed.
        let (d, p) = arrive(&mut r, &mut c, &Seg::new(1001, 5001, 102, b"abc"));
        assert_eq!((d, p), (super::super::Disposition::Accepted, true));
        assert_eq!(c.rcv_nxt, SeqNum::new(1004));
        assert_eq!(c.ts_recent, 102, "TS.Recent moves as on the whole way");
        drain(&mut r, &mut c);
        // We send 100 bytes; the ACK of them is predicted and moves SND.UNA.
        c.send(&[7; 100], &mut r.bufs).unwrap();
        assert_eq!(drain(&mut r, &mut c).len(), 1);
        r.now += Duration::from_millis(5);
        assert!(arrive(&mut r, &mut c, &Seg::new(1004, 5101, 103, b"")).1);
        assert_eq!(c.snd_una, SeqNum::new(5101));
        // Not predicted: a bare ACK at SND.UNA (maybe a duplicate), a window change, data
        // out of order, a FIN, an old TSval, no timestamp, a SACK block, URG.
        let not = [
            Seg::new(1004, 5101, 104, b""),
            Seg {
                wnd: 500,
                ..Seg::new(1004, 5101, 104, b"x")
            },
            Seg::new(1010, 5101, 104, b"y"),
            Seg {
                flags: TcpFlags::ACK.union(TcpFlags::FIN),
                ..Seg::new(1004, 5101, 104, b"")
            },
            Seg::new(1004, 5101, 90, b"z"),
            Seg {
                tsval: None,
                ..Seg::new(1004, 5101, 104, b"w")
            },
            Seg {
                sack: Some((5000, 5001)),
                ..Seg::new(1004, 5101, 104, b"v")
            },
            Seg {
                flags: TcpFlags::ACK.union(TcpFlags::URG),
                ..Seg::new(1004, 5101, 104, b"u")
            },
        ];
        for (i, s) in not.iter().enumerate() {
            let mut r = Rig::new();
            let mut c = r.established();
            arrive(&mut r, &mut c, &Seg::new(1001, 5001, 102, b"abc"));
            c.send(&[7; 100], &mut r.bufs).unwrap();
            drain(&mut r, &mut c);
            arrive(&mut r, &mut c, &Seg::new(1004, 5101, 103, b""));
            assert!(!arrive(&mut r, &mut c, s).1, "case {i} was predicted");
        }
        // With the prediction off, nothing is.
        let mut r = Rig::new();
        r.cfg.header_prediction = false;
        let mut c = r.established();
        assert!(!arrive(&mut r, &mut c, &Seg::new(1001, 5001, 102, b"abc")).1);
        assert_eq!(c.rcv_nxt, SeqNum::new(1004));
    }

    /// One step of the differential test: something arrives, the application sends or
    /// reads, or time passes.
    #[derive(Clone, Debug)]
    enum Step {
        Arrive(Near),
        Send(usize),
        Read,
        Wait(u64),
    }

    /// A segment near the connection's position: `seq` bytes past RCV.NXT (-1 to 5), its ACK
    /// one of SND.UNA, SND.UNA + 1, SND.MAX and SND.MAX + 1, its flags one of five sets, its
    /// window one of three, its TSval one of TS.Recent, +1, -1 or none, `len` bytes of data,
    /// and maybe a SACK block.
    #[derive(Clone, Debug)]
    struct Near {
        seq: i32,
        ack: u8,
        flags: u8,
        wnd: u8,
        ts: u8,
        len: usize,
        sack: bool,
    }

    /// Steps weighted towards segments the prediction takes, so that most runs mix them
    /// with the ones it leaves to the whole processing.
    fn step() -> impl Strategy<Value = Step> {
        let seq = prop_oneof![6 => Just(0i32), 1 => -1i32..=5];
        let flags = prop_oneof![4 => 0u8..2, 1 => 2u8..5];
        let wnd = prop_oneof![6 => Just(0u8), 1 => 1u8..3];
        let ts = prop_oneof![4 => 0u8..2, 1 => 2u8..4];
        let arrive = (
            seq,
            0u8..4,
            flags,
            wnd,
            ts,
            0usize..=4,
            proptest::bool::weighted(0.1),
        )
            .prop_map(|(seq, ack, flags, wnd, ts, len, sack)| {
                Step::Arrive(Near {
                    seq,
                    ack,
                    flags,
                    wnd,
                    ts,
                    len,
                    sack,
                })
            });
        prop_oneof![
            6 => arrive,
            2 => (1usize..=300).prop_map(Step::Send),
            1 => Just(Step::Read),
            1 => (1u64..=300).prop_map(Step::Wait),
        ]
    }

    /// The segment `n` stands for, at `c`'s position.
    fn segment(c: &Connection, n: &Near) -> Seg {
        let ack = match n.ack {
            0 => c.snd_una,
            1 => c.snd_una.add(1),
            2 => c.snd_max,
            _ => c.snd_max.add(1),
        };
        let flags = [
            TcpFlags::ACK,
            TcpFlags::ACK.union(TcpFlags::PSH),
            TcpFlags::ACK.union(TcpFlags::FIN),
            TcpFlags::ACK.union(TcpFlags::ECE),
            TcpFlags::EMPTY,
        ][usize::from(n.flags)];
        Seg {
            seq: c.rcv_nxt.add(n.seq as u32).get(),
            ack: ack.get(),
            flags,
            wnd: [512, 384, 0][usize::from(n.wnd)],
            tsval: [
                Some(c.ts_recent),
                Some(c.ts_recent.wrapping_add(1)),
                Some(c.ts_recent.wrapping_sub(1)),
                None,
            ][usize::from(n.ts)],
            sack: n
                .sack
                .then(|| (c.snd_una.add(1).get(), c.snd_una.add(2).get())),
            payload: (0..n.len as u8).collect(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The prediction changes nothing: two connections, one with it and one without, given
        /// the same segments and calls, end every step in the same state (every field of the
        /// TCB), with the same dispositions and the same segments sent.
        #[test]
        fn predicted_segments_end_as_the_whole_processing_would(
            steps in proptest::collection::vec(step(), 1..60)
        ) {
            let mut on = Rig::new();
            let mut off = Rig::new();
            off.cfg.header_prediction = false;
            // A receive buffer of a few segments, so that the window fills and shuts.
            on.cfg.recv_buffer = 12;
            off.cfg.recv_buffer = 12;
            let mut a = on.established();
            let mut b = off.established();
            for (i, s) in steps.iter().enumerate() {
                match s {
                    Step::Arrive(n) => {
                        let seg = segment(&a, n);
                        let (da, _) = arrive(&mut on, &mut a, &seg);
                        let (db, _) = arrive(&mut off, &mut b, &seg);
                        prop_assert_eq!(da, db, "step {}", i);
                    }
                    Step::Send(n) => {
                        let data = vec![9u8; *n];
                        prop_assert_eq!(a.send(&data, &mut on.bufs), b.send(&data, &mut off.bufs));
                    }
                    Step::Read => {
                        let mut buf = [0u8; 4096];
                        prop_assert_eq!(a.recv(&mut buf, &mut on.bufs), b.recv(&mut buf, &mut off.bufs));
                    }
                    Step::Wait(ms) => {
                        on.now += Duration::from_millis(*ms);
                        off.now += Duration::from_millis(*ms);
                        a.handle_timeout(&mut on.ctx());
                        b.handle_timeout(&mut off.ctx());
                    }
                }
                prop_assert_eq!(drain(&mut on, &mut a), drain(&mut off, &mut b), "step {}", i);
                prop_assert_eq!(format!("{a:?}"), format!("{b:?}"), "step {}", i);
                if a.state() != State::Established {
                    break;
                }
            }
            prop_assert_eq!(off.predicted, 0);
        }
    }
}
