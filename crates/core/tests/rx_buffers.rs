//! Received bytes kept in the driver's buffer (`Stack::handle_packet_buffer`).
//!
//! A datagram whose payload is a connection's next in-order bytes and fills at least half of
//! the driver's buffer stays where it is: the application reads those bytes from it, and the
//! driver gets another buffer back. Anything else is copied into the receive buffer, as with
//! `handle_packet`. Either way the peer sees the same segments and the application reads the
//! same bytes.

mod common;

use common::*;
use oxtcp_core::State;
use proptest::prelude::*;

/// The driver's buffer in these tests.
const BUF: usize = 4096;

/// The default receive buffer, the window of an empty connection.
const WINDOW: u32 = 65535;

#[test]
fn a_large_in_order_segment_stays_in_the_drivers_buffer() {
    let mut t = Harness::established_server();
    let kept = t.inject_in_buffer(seg().ack().seq(1).ack_no(1).data(&pattern(0, 3000)), BUF);
    assert!(
        kept.is_some(),
        "3,000 bytes of a 4,096-byte buffer are kept"
    );
    assert_eq!(t.stack.stats().datagrams_kept, 1);
    // Counted received at once: the ACK and the window are as if copied.
    t.expect(seg().ack().seq(1).ack_no(3001).win((WINDOW - 3000) as u16));
    assert_eq!(t.info().recv_queue, 3000);
    assert_eq!(t.app_recv(1000), pattern(0, 1000), "read in parts");
    assert_eq!(t.app_recv(10_000), pattern(1000, 2000));
    t.stack.check_invariants().unwrap();
    t.drain();
}

#[test]
fn a_small_segment_is_copied_and_the_buffer_left_with_the_driver() {
    let mut t = Harness::established_server();
    let kept = t.inject_in_buffer(seg().ack().seq(1).ack_no(1).data(&pattern(0, 2000)), BUF);
    assert_eq!(kept, None, "2,000 bytes of 4,096: less than half");
    assert_eq!(t.stack.stats().datagrams_kept, 0);
    t.expect(seg().ack().seq(1).ack_no(2001).win((WINDOW - 2000) as u16));
    assert_eq!(t.app_recv(10_000), pattern(0, 2000));
}

#[test]
fn kept_and_copied_bytes_are_read_in_stream_order() {
    let mut t = Harness::established_server();
    let send = |t: &mut Harness, off: usize, len: usize| {
        let kept = t.inject_in_buffer(
            seg()
                .ack()
                .seq(1 + off as u32)
                .ack_no(1)
                .data(&pattern(off, len)),
            BUF,
        );
        t.drain();
        kept.is_some()
    };
    assert!(send(&mut t, 0, 3000), "kept: nothing held before it");
    assert!(send(&mut t, 3000, 3000), "kept: after kept bytes only");
    assert!(!send(&mut t, 6000, 100), "small: copied into the ring");
    assert!(
        !send(&mut t, 6100, 3000),
        "not kept: copied bytes wait before it in the ring"
    );
    assert_eq!(t.info().recv_queue, 9100);
    assert_eq!(t.app_recv(4000), pattern(0, 4000));
    assert_eq!(t.app_recv(100_000), pattern(4000, 5100));
    t.stack.check_invariants().unwrap();
    assert!(send(&mut t, 9100, 3000), "kept again: everything was read");
    assert_eq!(t.app_recv(100_000), pattern(9100, 3000));
    t.drain();
}

#[test]
fn an_emptied_buffer_goes_back_to_the_driver() {
    let mut t = Harness::established_server();
    let first = t
        .inject_in_buffer(seg().ack().seq(1).ack_no(1).data(&pattern(0, 3000)), BUF)
        .expect("kept");
    t.drain();
    assert_eq!(t.app_recv(10_000).len(), 3000);
    t.inject_in_buffer(
        seg().ack().seq(3001).ack_no(1).data(&pattern(3000, 3000)),
        BUF,
    )
    .expect("kept");
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
    let ahead = t.inject_in_buffer(
        seg().ack().seq(3001).ack_no(1).data(&pattern(3000, 3000)),
        BUF,
    );
    assert_eq!(ahead, None, "out of order: reassembled in the ring");
    t.expect(seg().ack().seq(1).ack_no(1));
    let fill = t.inject_in_buffer(seg().ack().seq(1).ack_no(1).data(&pattern(0, 3000)), BUF);
    assert_eq!(fill, None, "bytes beyond it wait in the ring");
    t.expect(seg().ack().seq(1).ack_no(6001).win((WINDOW - 6000) as u16));
    assert_eq!(t.app_recv(100_000), pattern(0, 6000));
    t.drain();
}

#[test]
fn a_connection_reset_with_kept_bytes_unread_lets_them_go_when_released() {
    let mut t = Harness::established_server();
    t.inject_in_buffer(seg().ack().seq(1).ack_no(1).data(&pattern(0, 3000)), BUF)
        .expect("kept");
    t.drain();
    t.send(seg().rst().seq(3001));
    t.assert_state(State::Closed);
    assert_eq!(
        t.app_recv(1000),
        pattern(0, 1000),
        "as copied bytes would be"
    );
    t.app_close();
    t.drain();
    assert_eq!(t.stack.resources().connections, 0, "gone, buffer and all");
    t.stack.check_invariants().unwrap();
}

#[test]
fn a_segment_with_a_fin_keeps_its_bytes_and_closes_the_stream_after_them() {
    let mut t = Harness::established_server();
    t.inject_in_buffer(
        seg().ack().fin().seq(1).ack_no(1).data(&pattern(0, 3000)),
        BUF,
    )
    .expect("kept");
    t.expect(seg().ack().seq(1).ack_no(3002).win((WINDOW - 3000) as u16));
    assert_eq!(t.app_recv(100_000), pattern(0, 3000));
    assert_eq!(t.app_recv(100), b"", "end of stream after the bytes");
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
        3 => (0usize..3, 0usize..3, 1usize..6000, 0usize..150).prop_map(|(s, b, len, pct)| {
            Step::Data {
                skip: if s == 0 { 1 + len % 3000 } else { 0 },
                back: if b == 0 { 1 + len % 2000 } else { 0 },
                len,
                slack: len * pct / 100,
            }
        }),
        1 => (1usize..20_000).prop_map(Step::Read),
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
    /// The same script delivered with `handle_packet` and with `handle_packet_buffer` draws the
    /// same segments from the stack and gives the application the same bytes.
    #[test]
    fn keeping_buffers_changes_nothing_the_peer_or_application_sees(
        steps in prop::collection::vec(step(), 1..40)
    ) {
        let mut copied = Harness::established_server();
        let mut kept = Harness::established_server();
        // The peer's highest byte sent so far: what `skip` and `back` count from.
        let mut next = 0usize;
        let (mut read_copied, mut read_kept) = (Vec::new(), Vec::new());
        for s in steps {
            match s {
                Step::Data { skip, back, len, slack } => {
                    let off = (next + skip).saturating_sub(back);
                    let s = || seg().ack().seq(1 + off as u32).ack_no(1).data(&pattern(off, len));
                    copied.inject(s());
                    kept.inject_in_buffer(s(), 40 + len + slack);
                    next = next.max(off + len);
                }
                Step::Read(n) => {
                    read_copied.extend(read(&mut copied, n));
                    read_kept.extend(read(&mut kept, n));
                }
            }
            prop_assert_eq!(copied.drain_raw(), kept.drain_raw());
            prop_assert_eq!(copied.info().recv_queue, kept.info().recv_queue);
            kept.stack.check_invariants().map_err(TestCaseError::fail)?;
        }
        read_copied.extend(read(&mut copied, 1 << 20));
        read_kept.extend(read(&mut kept, 1 << 20));
        prop_assert_eq!(copied.drain_raw(), kept.drain_raw());
        prop_assert_eq!(&read_copied, &read_kept);
        prop_assert_eq!(&read_kept[..], &pattern(0, read_kept.len())[..]);
    }
}
