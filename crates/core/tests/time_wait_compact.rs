//! TIME-WAIT in compact form: once the application has closed a connection that reaches
//! TIME-WAIT, the stack keeps a small entry without buffers in its place. The entry behaves
//! exactly as TIME-WAIT must: it acknowledges a retransmitted FIN and restarts 2×MSL, ignores
//! RSTs (RFC 1337), echoes timestamps, and frees the 4-tuple when 2×MSL runs out.

mod common;

use common::*;
use oxtcp_core::{Cause, DropReason, State};

/// A passive connection with timestamps that we closed first (close(), so released), now in
/// TIME-WAIT after the peer's FIN with TSval 103.
fn released_in_time_wait(f: impl FnOnce(&mut oxtcp_core::StackConfig)) -> (Harness, u32) {
    let mut t = Harness::server_with(8, f);
    t.send(seg().syn().seq(0).mss(PEER_MSS).ts(100, 0));
    let synack = t.expect(seg().syn().ack().seq(0).ack_no(1).tsecr(100));
    let ox_ts = synack.options.timestamps.unwrap().tsval;
    t.send(seg().ack().seq(1).ack_no(1).ts(101, ox_ts));
    t.accept();
    t.app_close();
    t.expect(seg().ack().fin().seq(1).ack_no(1).tsecr(101));
    t.send(seg().ack().seq(1).ack_no(2).ts(102, ox_ts));
    t.send(seg().ack().fin().seq(1).ack_no(2).ts(103, ox_ts));
    t.expect(seg().ack().seq(2).ack_no(2).tsecr(103));
    t.assert_state(State::TimeWait);
    (t, ox_ts)
}

#[test]
fn a_released_connection_in_time_wait_holds_no_buffers() {
    let (t, _) = released_in_time_wait(|_| {});
    let r = t.stack.resources();
    assert_eq!(r.connections, 0, "the full connection is gone");
    assert_eq!(r.time_wait, 1);
    assert_eq!(r.buffer_bytes, 0, "TIME-WAIT charges no buffer space");
    assert_eq!(r.tuples, 1, "TIME-WAIT still owns the 4-tuple");
    let listed: Vec<_> = t.stack.connections().collect();
    assert_eq!(listed.len(), 1);
    let (id, state, tuple) = listed[0];
    assert_eq!(state, State::TimeWait, "ss still shows it");
    let info = t.stack.info_any(id).expect("info of the compact entry");
    assert_eq!((info.state, info.tuple), (State::TimeWait, tuple));
    assert_eq!((info.recv_buffer, info.send_buffer), (0, 0));
    t.stack.check_invariants().unwrap();
}

#[test]
fn compact_time_wait_acknowledges_a_retransmitted_fin_and_restarts_2msl() {
    let (mut t, ox_ts) = released_in_time_wait(|_| {});
    // Our ACK of the FIN was lost; 40 s on, the peer sends its FIN again.
    t.advance(secs(40));
    t.send(seg().ack().fin().seq(1).ack_no(2).ts(104, ox_ts));
    let ack = t.expect(seg().ack().seq(2).ack_no(2).tsecr(104));
    assert!(ack.options.sack_blocks.is_empty());
    // 2×MSL (60 s in the tests) now runs from the retransmission: still there 59 s on.
    t.advance(secs(59));
    assert_eq!(t.stack.resources().time_wait, 1);
    t.advance(secs(2));
    t.assert_last_transition(State::TimeWait, State::Closed, Cause::TimeWaitExpired);
    let r = t.stack.resources();
    assert_eq!((r.time_wait, r.tuples, r.timers), (0, 0, 0));
    t.stack.check_invariants().unwrap();
}

#[test]
fn compact_time_wait_ignores_rst_rfc_1337() {
    let (mut t, _) = released_in_time_wait(|_| {});
    t.send(seg().rst().seq(2));
    t.expect_none();
    assert_eq!(t.stack.stats().drops_for(DropReason::TimeWaitRst), 1);
    assert_eq!(t.stack.resources().time_wait, 1);
    t.assert_state(State::TimeWait);
}

#[test]
fn compact_time_wait_drops_an_old_timestamp_with_an_ack_paws() {
    let (mut t, ox_ts) = released_in_time_wait(|_| {});
    t.send(seg().ack().seq(2).ack_no(2).ts(50, ox_ts));
    t.expect(seg().ack().seq(2).ack_no(2).tsecr(103));
    assert_eq!(t.stack.stats().drops_for(DropReason::Paws), 1);
    t.assert_state(State::TimeWait);
}

#[test]
fn compact_time_wait_answers_a_bare_duplicate_ack_with_nothing() {
    let (mut t, ox_ts) = released_in_time_wait(|_| {});
    t.send(seg().ack().seq(2).ack_no(2).ts(104, ox_ts));
    t.expect_none();
    t.assert_state(State::TimeWait);
}

#[test]
fn past_max_time_wait_a_released_connection_closes_at_once() {
    let (mut t, _) = released_in_time_wait(|c| c.max_time_wait = Some(1));
    // A second connection, on another port, closes the same way: the table is full.
    let port = PEER_PORT + 1;
    t.send(seg().port(port).syn().seq(0).mss(PEER_MSS).no_ts());
    t.expect(seg().port(port).syn().ack().seq(0).ack_no(1));
    t.send(seg().port(port).ack().seq(1).ack_no(1).no_ts());
    let second = t.stack.accept(t.listener.unwrap()).expect("accept");
    t.stack.close(t.now, second).unwrap();
    t.expect(seg().port(port).ack().fin().seq(1).ack_no(1));
    t.send(seg().port(port).ack().fin().seq(1).ack_no(2).no_ts());
    t.expect(seg().port(port).ack().seq(2).ack_no(2));
    let last = *t.transitions_on(port).last().unwrap();
    assert_eq!(
        (last.from, last.to, last.cause),
        (State::TimeWait, State::Closed, Cause::TimeWaitOverflow)
    );
    assert_eq!(t.stack.stats().time_wait_overflow, 1);
    assert_eq!(t.stack.resources().time_wait, 1, "the first one stays");
    t.stack.check_invariants().unwrap();
}

#[test]
fn a_connection_the_application_still_holds_compacts_when_it_closes() {
    let mut t = Harness::established_server();
    t.send(seg().ack().psh().seq(1).ack_no(1).data(b"last words"));
    t.expect(seg().ack().seq(1).ack_no(11));
    t.app_shutdown();
    t.expect(seg().ack().fin().seq(1).ack_no(11));
    t.send(seg().ack().fin().seq(11).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(12));
    t.assert_state(State::TimeWait);
    // Still held: the unread data is there to read.
    assert_eq!(t.stack.resources().connections, 1);
    assert_eq!(t.app_recv(100), b"last words");
    t.app_close();
    let r = t.stack.resources();
    assert_eq!((r.connections, r.time_wait, r.buffer_bytes), (0, 1, 0));
    t.stack.check_invariants().unwrap();
    // The compact entry carries on where the connection left off.
    t.send(seg().ack().fin().seq(11).ack_no(2));
    t.expect(seg().ack().seq(2).ack_no(12));
}

#[test]
fn kill_ends_a_compact_time_wait_silently() {
    let (mut t, _) = released_in_time_wait(|_| {});
    let (id, _, _) = t.stack.connections().next().unwrap();
    t.stack.kill(t.now, id).unwrap();
    t.expect_none();
    t.assert_last_transition(State::TimeWait, State::Closed, Cause::Abort);
    assert_eq!(t.stack.resources().tuples, 0);
}

/// The point of the entry: far smaller than the connection it replaces, before counting the
/// connection's buffers. `cargo test -p oxtcp-core --test time_wait_compact entry_sizes --
/// --nocapture` prints the sizes (SECURITY.md quotes them).
#[test]
fn entry_sizes() {
    let s = oxtcp_core::Stack::entry_sizes();
    println!("{s:?}");
    assert!(
        s.time_wait * 4 < s.connection,
        "a TIME-WAIT entry is a small part of a connection's TCB: {s:?}"
    );
    // Issue 8's targets, per entry with its share of the tables: 64 B for TIME-WAIT, 128 B
    // for half-open. The packed entries alone leave room for the tables.
    assert!(s.time_wait <= 48 && s.half_open <= 48, "{s:?}");
    assert!(s.slot <= 24, "slots hold pointers, not entries: {s:?}");
}
