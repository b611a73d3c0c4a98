//! Received bytes kept in the driver's buffer (`Stack::handle_packet_buffer`).
//!
//! A datagram whose payload is a connection's next in-order bytes, at least 8 KiB and at least
//! half of the driver's buffer, stays where it is: the application reads those bytes from it, and the
//! driver gets another buffer back. Anything else is copied into the receive buffer, as with
//! `handle_packet`. Either way the peer sees the same segments and the application reads the
//! same bytes.

mod common;

use common::*;
use oxtcp_core::{RecvError, State};
use proptest::prelude::*;

/// The driver's buffer in these tests.
const BUF: usize = 24_000;

/// A segment's bytes that are kept: at least 8 KiB, and at least half of `BUF`.
const BIG: usize = 16_000;

/// The default receive buffer, the window of an empty connection.
const WINDOW: usize = 65535;

/// Segment `len` bytes from stream offset `off`, as the peer sends them in order.
fn data(off: usize, len: usize) -> Seg {
    seg()
        .ack()
        .seq(1 + off as u32)
        .ack_no(1)
        .data(&pattern(off, len))
}

/// oxtcp's ACK of everything up to stream offset `end`, with `held` bytes unread.
fn ack(end: usize, held: usize) -> Seg {
    seg()
        .ack()
        .seq(1)
        .ack_no(1 + end as u32)
        .win((WINDOW - held) as u16)
}

#[test]
fn a_large_in_order_segment_stays_in_the_drivers_buffer() {
    let mut t = Harness::established_server();
    let kept = t.inject_in_buffer(data(0, BIG), BUF);
    assert!(
        kept.is_some(),
        "16,000 bytes of a 24,000-byte buffer are kept"
    );
    assert_eq!(t.stack.stats().datagrams_kept, 1);
    // Counted received at once: the ACK and the window are as if copied.
    t.expect(ack(BIG, BIG));
    assert_eq!(t.info().recv_queue, BIG);
    assert_eq!(t.app_recv(1000), pattern(0, 1000), "read in parts");
    assert_eq!(t.app_recv(100_000), pattern(1000, BIG - 1000));
    t.stack.check_invariants().unwrap();
    t.drain();
}

#[test]
fn a_segment_under_half_the_buffer_or_under_8_kib_is_copied() {
    let mut t = Harness::established_server();
    let kept = t.inject_in_buffer(data(0, 11_000), BUF);
    assert_eq!(kept, None, "11,000 bytes of 24,000: less than half");
    t.expect(ack(11_000, 11_000));
    let kept = t.inject_in_buffer(data(11_000, 6000), 6100);
    assert_eq!(kept, None, "nearly all of the buffer, but under 8 KiB");
    t.expect(ack(17_000, 17_000));
    assert_eq!(t.stack.stats().datagrams_kept, 0);
    assert_eq!(t.app_recv(100_000), pattern(0, 17_000));
    t.drain();
}

#[test]
fn kept_and_copied_bytes_are_read_in_stream_order() {
    let mut t = Harness::established_server();
    let send = |t: &mut Harness, off: usize, len: usize| {
        let kept = t.inject_in_buffer(data(off, len), BUF);
        t.drain();
        kept.is_some()
    };
    assert!(send(&mut t, 0, BIG), "kept: nothing held before it");
    assert!(send(&mut t, BIG, BIG), "kept: after kept bytes only");
    assert!(!send(&mut t, 2 * BIG, 100), "small: copied into the ring");
    let last = 2 * BIG + 100;
    assert!(
        !send(&mut t, last, BIG),
        "not kept: copied bytes wait before it in the ring"
    );
    assert_eq!(t.info().recv_queue, last + BIG);
    assert_eq!(t.app_recv(20_000), pattern(0, 20_000));
    assert_eq!(t.app_recv(100_000), pattern(20_000, last + BIG - 20_000));
    t.stack.check_invariants().unwrap();
    assert!(
        send(&mut t, last + BIG, BIG),
        "kept again: everything was read"
    );
    assert_eq!(t.app_recv(100_000), pattern(last + BIG, BIG));
    t.drain();
}

#[test]
fn an_emptied_buffer_goes_back_to_the_driver() {
    let mut t = Harness::established_server();
    let first = t.inject_in_buffer(data(0, BIG), BUF).expect("kept");
    t.drain();
    assert_eq!(t.app_recv(100_000).len(), BIG);
    t.inject_in_buffer(data(BIG, BIG), BUF).expect("kept");
    assert_eq!(
        t.returned_buffers().last(),
        Some(&first),
        "the driver's next buffer is the one the application emptied"
    );
    t.drain();
}

#[test]
fn out_of_order_data_and_the_segment_that_fills_the_gap_are_copied() {
    let mut t = Harness::established_server();
    let ahead = t.inject_in_buffer(data(BIG, BIG), BUF);
    assert_eq!(ahead, None, "out of order: reassembled in the ring");
    t.expect(seg().ack().seq(1).ack_no(1));
    let fill = t.inject_in_buffer(data(0, BIG), BUF);
    assert_eq!(fill, None, "bytes beyond it wait in the ring");
    t.expect(ack(2 * BIG, 2 * BIG));
    assert_eq!(t.app_recv(100_000), pattern(0, 2 * BIG));
    t.drain();
}

#[test]
fn a_connection_reset_with_kept_bytes_unread_lets_them_go_when_released() {
    let mut t = Harness::established_server();
    t.inject_in_buffer(data(0, BIG), BUF).expect("kept");
    t.drain();
    t.send(seg().rst().seq(1 + BIG as u32));
    t.assert_state(State::Closed);
    let first = t.app_recv(1000);
    assert_eq!(first, pattern(0, 1000), "as copied bytes would be");
    t.app_close();
    t.drain();
    assert_eq!(t.stack.resources().connections, 0, "gone, buffer and all");
    t.stack.check_invariants().unwrap();
}

#[test]
fn a_segment_with_a_fin_keeps_its_bytes_and_closes_the_stream_after_them() {
    let mut t = Harness::established_server();
    t.inject_in_buffer(data(0, BIG).fin(), BUF).expect("kept");
    t.expect(
        seg()
            .ack()
            .seq(1)
            .ack_no(2 + BIG as u32)
            .win((WINDOW - BIG) as u16),
    );
    assert_eq!(t.app_recv(100_000), pattern(0, BIG));
    assert_eq!(t.app_recv(100), b"", "end of stream after the bytes");
}

#[test]
fn a_released_connection_keeps_the_buffer_its_bytes_are_counted_in() {
    // Found by the stack fuzzer: the stack looked the taker up among the connections the
    // application holds, so a closed one counted the bytes but never got their buffer.
    let mut t = Harness::established_server();
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(1));
    t.send(seg().ack().seq(1).ack_no(2));
    t.assert_state(State::FinWait2);
    t.inject_in_buffer(data(0, BIG), BUF).expect("kept");
    t.stack.check_invariants().unwrap();
    t.drain();
}

/// What reading in place up to `max` bytes showed: the runs' lengths and their bytes.
fn read_in_place(t: &mut Harness, max: usize) -> (Vec<usize>, Vec<u8>) {
    let (mut runs, mut bytes) = (Vec::new(), Vec::new());
    let n = t
        .stack
        .recv_with(t.conn.unwrap(), max, |run| {
            runs.push(run.len());
            bytes.extend_from_slice(run);
        })
        .unwrap_or(0);
    assert_eq!(n, bytes.len(), "the count is what was shown");
    (runs, bytes)
}

#[test]
fn reading_in_place_shows_kept_bytes_in_their_buffer_then_the_ring() {
    let mut t = Harness::established_server();
    let first = t.inject_in_buffer(data(0, BIG), BUF).expect("kept");
    t.drain();
    t.inject_in_buffer(data(BIG, 5000), BUF);
    t.drain();
    assert_eq!(t.info().recv_queue, BIG + 5000);
    let (runs, bytes) = read_in_place(&mut t, 1000);
    assert_eq!(
        (runs, bytes),
        (vec![1000], pattern(0, 1000)),
        "no more than asked"
    );
    // The rest of the kept datagram in one run; the ring's bytes in runs of at most a page.
    let (runs, bytes) = read_in_place(&mut t, usize::MAX);
    assert_eq!(runs[0], BIG - 1000, "the datagram's bytes in one run");
    assert!(runs[1..].iter().all(|&r| r <= 4096), "ring runs: {runs:?}");
    assert_eq!(bytes, pattern(1000, BIG + 4000));
    assert_eq!(t.info().recv_queue, 0, "all counted read");
    t.stack.check_invariants().unwrap();
    t.inject_in_buffer(data(BIG + 5000, BIG), BUF)
        .expect("kept");
    assert_eq!(
        t.returned_buffers().last(),
        Some(&first),
        "the driver's next buffer is the one read in place"
    );
    t.drain();
}

#[test]
fn a_reader_in_place_that_panics_leaves_the_rest_readable() {
    // The kept datagram is the first run, the ring's bytes two more (4,096 and 904).
    for (panics_on, read) in [(1, BIG), (2, BIG + 4096)] {
        let mut t = Harness::established_server();
        t.inject_in_buffer(data(0, BIG), BUF).expect("kept");
        t.drain();
        t.inject_in_buffer(data(BIG, 5000), BUF);
        t.drain();
        let id = t.conn.unwrap();
        let mut runs = 0;
        let stack = &mut t.stack;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            stack.recv_with(id, usize::MAX, |_| {
                runs += 1;
                assert!(runs < panics_on, "the reader gives up on run {runs}");
            })
        }));
        assert!(r.is_err(), "the reader panicked");
        t.stack.check_invariants().unwrap();
        let left = BIG + 5000 - read;
        assert_eq!(
            t.info().recv_queue,
            left,
            "the runs shown, the last one too, are read"
        );
        assert_eq!(
            t.app_recv(100_000),
            pattern(read, left),
            "and the rest readable"
        );
        t.inject_in_buffer(data(BIG + 5000, BIG), BUF)
            .expect("kept: nothing left in the ring");
        assert_eq!(t.app_recv(100_000), pattern(BIG + 5000, BIG));
        t.drain();
    }
}

#[test]
fn reading_in_place_with_nothing_readable_shows_nothing() {
    let mut t = Harness::established_server();
    let id = t.conn.unwrap();
    let mut called = false;
    let r = t.stack.recv_with(id, 100, |_| called = true);
    assert!(matches!(r, Err(RecvError::WouldBlock)), "{r:?}");
    t.send(data(0, 10).fin());
    t.drain();
    assert_eq!(read_in_place(&mut t, usize::MAX).1, pattern(0, 10));
    let r = t.stack.recv_with(id, 100, |_| called = true);
    assert!(matches!(r, Ok(0)), "end of stream: {r:?}");
    assert!(!called, "nothing was shown");
}

/// One step of a peer's script.
#[derive(Clone, Debug)]
enum Step {
    /// A segment `len` bytes long, `skip` bytes past the peer's next new byte (0: in order),
    /// or `back` bytes before it (old, partly or wholly), in a buffer `slack` bytes larger
    /// than the datagram (kept only if `slack` is at most about `len`).
    Data {
        skip: usize,
        back: usize,
        len: usize,
        slack: usize,
    },
    /// The application reads up to this many bytes.
    Read(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0usize..3, 0usize..3, 1usize..24_000, 0usize..150).prop_map(|(s, b, len, pct)| {
            Step::Data {
                skip: if s == 0 { 1 + len % 3000 } else { 0 },
                back: if b == 0 { 1 + len % 2000 } else { 0 },
                len,
                slack: len * pct / 100,
            }
        }),
        1 => (1usize..70_000).prop_map(Step::Read),
    ]
}

/// Up to `n` bytes the application reads, none if it would block.
fn read(t: &mut Harness, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    let got = t.stack.recv(t.conn.unwrap(), &mut buf).unwrap_or(0);
    buf.truncate(got);
    buf
}

proptest! {
    /// The same script delivered with `handle_packet` and with `handle_packet_buffer`, and
    /// read by copying or in place (`recv_with`), draws the same segments from the stack and
    /// gives the application the same bytes.
    #[test]
    fn keeping_buffers_changes_nothing_the_peer_or_application_sees(
        steps in prop::collection::vec(step(), 1..40)
    ) {
        let mut copied = Harness::established_server();
        let mut kept = Harness::established_server();
        let mut in_place = Harness::established_server();
        // The peer's highest byte sent so far: what `skip` and `back` count from.
        let mut next = 0usize;
        let (mut read_copied, mut read_kept, mut read_in) = (Vec::new(), Vec::new(), Vec::new());
        for s in steps {
            match s {
                Step::Data { skip, back, len, slack } => {
                    let off = (next + skip).saturating_sub(back);
                    let s = || seg().ack().seq(1 + off as u32).ack_no(1).data(&pattern(off, len));
                    copied.inject(s());
                    kept.inject_in_buffer(s(), 40 + len + slack);
                    in_place.inject_in_buffer(s(), 40 + len + slack);
                    next = next.max(off + len);
                }
                Step::Read(n) => {
                    read_copied.extend(read(&mut copied, n));
                    read_kept.extend(read(&mut kept, n));
                    read_in.extend(read_in_place(&mut in_place, n).1);
                }
            }
            let segments = copied.drain_raw();
            prop_assert_eq!(&segments, &kept.drain_raw());
            prop_assert_eq!(&segments, &in_place.drain_raw());
            prop_assert_eq!(kept.info().recv_queue, in_place.info().recv_queue);
            in_place.stack.check_invariants().map_err(TestCaseError::fail)?;
            prop_assert_eq!(copied.info().recv_queue, kept.info().recv_queue);
            kept.stack.check_invariants().map_err(TestCaseError::fail)?;
        }
        read_copied.extend(read(&mut copied, 1 << 20));
        read_kept.extend(read(&mut kept, 1 << 20));
        read_in.extend(read_in_place(&mut in_place, 1 << 20).1);
        let segments = copied.drain_raw();
        prop_assert_eq!(&segments, &kept.drain_raw());
        prop_assert_eq!(&segments, &in_place.drain_raw());
        prop_assert_eq!(&read_copied, &read_kept);
        prop_assert_eq!(&read_copied, &read_in);
        prop_assert_eq!(&read_kept[..], &pattern(0, read_kept.len())[..]);
    }
}
