//! Header prediction (`StackConfig::header_prediction`) through two whole stacks: in a bulk
//! transfer nearly every data segment and every ACK of new data takes it, and with it off the
//! same transfer sends the same segments.

mod common;

use common::*;

/// A transfer of `bytes` from A to B in writes of 10,000 bytes; B reads as data arrives. The
/// stacks' statistics after it, and every datagram that crossed, in order.
fn transfer(prediction: bool, bytes: usize) -> (u64, u64, u64, u64, Vec<Vec<u8>>) {
    let mut p = Pair::configured(PEER_IP, OX_IP, |c| c.header_prediction = prediction);
    let l = p.b.listen(ox_addr(), 4).unwrap();
    let c = p.a.connect(p.now, ox_addr()).unwrap();
    p.exchange();
    let s = p.b.accept(l).unwrap();
    let chunk = vec![0x42u8; 10_000];
    let (mut sent, mut got) = (0, 0);
    let mut wire = Vec::new();
    let mut buf = vec![0u8; 65536];
    for _ in 0..100_000 {
        if got == bytes {
            break;
        }
        if sent < bytes {
            let n = chunk.len().min(bytes - sent);
            sent += p.a.send(c, &chunk[..n]).unwrap_or(0);
        }
        let (x, y) = p.take();
        wire.extend(x.iter().chain(&y).cloned());
        p.deliver(x, y);
        while let Ok(n) = p.b.recv(s, &mut buf) {
            if n == 0 {
                break;
            }
            got += n;
        }
        p.now += std::time::Duration::from_millis(1);
    }
    assert_eq!(got, bytes, "the transfer finished");
    let (a, b) = (p.a.stats(), p.b.stats());
    (a.predicted, a.packets_in, b.predicted, b.packets_in, wire)
}

#[test]
fn a_bulk_transfer_takes_the_prediction_for_its_data_and_acks() {
    let (acks, a_in, data, b_in) = {
        let (acks, a_in, data, b_in, _) = transfer(true, 1 << 20);
        (acks, a_in, data, b_in)
    };
    // B received the SYN, the handshake's ACK and the data segments; every data segment took
    // the prediction. A received the SYN-ACK and then ACKs of new data, each with the window
    // the last one offered (B reads all it has at once): every ACK took it.
    assert!(b_in > (1 << 20) / 1448, "{b_in} segments received");
    assert_eq!(data, b_in - 2, "data segments predicted");
    assert_eq!(acks, a_in - 1, "ACKs predicted");
}

#[test]
fn without_the_prediction_the_same_segments_cross() {
    let (_, _, _, _, with) = transfer(true, 300_000);
    let (acks, _, data, _, without) = transfer(false, 300_000);
    assert_eq!((acks, data), (0, 0));
    assert_eq!(with.len(), without.len());
    assert!(with == without, "the two transfers' datagrams differ");
}
