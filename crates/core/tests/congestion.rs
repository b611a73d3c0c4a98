//! Congestion control chosen per stack (and per socket), and what a timeout does to the window
//! (RFC 5681 §3.1, RFC 9438 §4.8).

mod common;

use common::*;
use oxtcp_core::CcAlgorithm;

#[test]
fn cubic_is_the_default_and_newreno_can_be_chosen() {
    let t = Harness::established_client();
    assert_eq!(t.info().congestion_control, CcAlgorithm::Cubic);
    let t = Harness::established_client_with(|c| c.congestion_control = CcAlgorithm::NewReno);
    assert_eq!(t.info().congestion_control, CcAlgorithm::NewReno);
}

#[test]
fn a_timeout_sends_one_segment_and_halves_the_flight_into_ssthresh() {
    for cc in [CcAlgorithm::NewReno, CcAlgorithm::Cubic] {
        let mut t = Harness::established_client_with(|c| c.congestion_control = cc);
        let mss = t.info().mss as usize;
        t.app_send(&pattern(0, 10 * mss));
        for i in 0..10 {
            t.expect(seg().ack().seq(1 + (i * mss) as u32).ack_no(1).len(mss));
        }
        assert_eq!(t.info().ssthresh, u32::MAX, "{cc}: no loss yet");
        // Nothing is acknowledged: the RTO fires and only the first segment goes again, the
        // loss window of one segment.
        let rto = t.info().rto;
        t.advance(rto);
        t.expect(seg().ack().seq(1).ack_no(1).len(mss));
        t.expect_none();
        let info = t.info();
        assert_eq!(info.cwnd as usize, mss, "{cc}");
        let half = match cc {
            // RFC 5681 eq. 4: FlightSize / 2.
            CcAlgorithm::NewReno => 5 * mss,
            // RFC 9438 §4.6: β_cubic · cwnd, with cwnd the initial window of ten segments.
            CcAlgorithm::Cubic => 7 * mss,
        };
        assert_eq!(info.ssthresh as usize, half, "{cc}");
        t.drain_raw();
    }
}
