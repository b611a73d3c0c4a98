//! A real runtime and its blocking sockets against a host inside the simulator, across a
//! simulated link with latency and seeded loss, duplication and reordering.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr};
use std::time::Duration;

use oxtcp::device::{SimLink, SimNode};
use oxtcp::{Net, StackConfig, TcpStream};
use oxtcp_core::Stack;
use oxtcp_sim::{ClosePolicy, Endpoint, LinkConfig, StackHost};

const REAL: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const SIM: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));

type Host = StackHost<Endpoint>;

#[test]
fn real_client_exchanges_data_with_a_simulated_server_over_a_lossy_link() {
    let reply: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let request: Vec<u8> = (0..50_000u32).map(|i| (i % 127) as u8).collect();
    let server_reply = reply.clone();
    let link = LinkConfig {
        latency: Duration::from_millis(2),
        loss: 0.02,
        duplicate: 0.02,
        reorder: 0.02,
        reorder_delay: Duration::from_millis(3),
        ..LinkConfig::default()
    };
    let (dev, sim) = SimLink::<Host>::start(5, 1500, vec![REAL], move |world, port| {
        let stack = Stack::with_addresses(StackConfig::default(), &[SIM]);
        let app = Endpoint::server(
            SocketAddr::new(SIM, 80),
            server_reply,
            ClosePolicy::AfterSend,
        );
        let h = world.add_host("sim", &[SIM], SimNode::Host(StackHost::new(stack, app)));
        world.link(port, h, link);
    })
    .unwrap();
    let net = Net::builder().address(REAL).start(dev).unwrap();
    let s = TcpStream::connect_timeout(&net, &SocketAddr::new(SIM, 80), Duration::from_secs(10))
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    (&s).write_all(&request).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    (&s).read_to_end(&mut got).unwrap();
    assert_eq!(got, reply);
    // What the simulated server received, read off its own stack inside the world.
    let received = sim
        .inspect(move |w| {
            let id = w.host_by_addr(SIM).unwrap();
            w.node_mut(id).host_mut().unwrap().app.received.clone()
        })
        .unwrap();
    assert_eq!(received, request);
    let stats = sim.inspect(move |w| {
        let (p, h) = (w.host_by_addr(REAL).unwrap(), w.host_by_addr(SIM).unwrap());
        w.link_stats(p, h).lost + w.link_stats(h, p).lost
    });
    assert!(stats.unwrap() > 0, "the link's faults never fired");
}
