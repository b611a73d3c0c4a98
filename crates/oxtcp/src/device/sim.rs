//! A link from a real runtime into the simulator: the runtime's datagrams enter a simulated
//! [`World`] through a port host, cross its seeded links (latency, loss, duplication,
//! reordering, corruption, bandwidth), and reach simulated hosts — and back. The world runs on
//! a thread of its own with its virtual clock following the wall clock, so real sockets meet
//! the simulator's hosts and faults.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant as StdInstant};

use oxtcp_core::Instant;
use oxtcp_sim::{HostId, Node, World};

use super::{Device, MemoryDevice};
use crate::sys::{wait_readable, EventFd};

/// A node of a world joined to a runtime: the port, or one of the user's hosts.
pub enum SimNode<N> {
    /// Where the runtime's datagrams enter and leave the world.
    Port(Port),
    /// A simulated host.
    Host(N),
}

impl<N> SimNode<N> {
    /// The user's host, if this is one.
    pub fn host_mut(&mut self) -> Option<&mut N> {
        match self {
            SimNode::Host(n) => Some(n),
            SimNode::Port(_) => None,
        }
    }
}

#[derive(Default)]
struct PortQueues {
    into_world: VecDeque<Vec<u8>>,
    out_of_world: Vec<Vec<u8>>,
}

/// The port host: sends what the runtime sent, collects what the world delivers to it.
pub struct Port(Rc<RefCell<PortQueues>>);

impl<N: Node> Node for SimNode<N> {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        match self {
            SimNode::Port(p) => p.0.borrow_mut().out_of_world.push(packet.to_vec()),
            SimNode::Host(n) => n.handle_packet(now, packet),
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        match self {
            SimNode::Port(p) => {
                let pkt = p.0.borrow_mut().into_world.pop_front()?;
                let n = pkt.len().min(buf.len());
                buf[..n].copy_from_slice(&pkt[..n]);
                Some(n)
            }
            SimNode::Host(n) => n.poll_transmit(now, buf),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            SimNode::Port(_) => None,
            SimNode::Host(n) => n.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        if let SimNode::Host(n) = self {
            n.handle_timeout(now);
        }
    }
}

type Job<N> = Box<dyn FnOnce(&mut World<SimNode<N>>) + Send>;

/// The simulator's thread; stops it when dropped.
pub struct SimLink<N: Node + 'static> {
    jobs: Sender<Job<N>>,
    wake: Arc<EventFd>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<N: Node + 'static> SimLink<N> {
    /// Start a world (seeded with `seed`) whose port host owns `port_addrs`; `build` adds the
    /// simulated hosts and links (the port's id is its second argument). Returns the device
    /// for the runtime, whose datagrams leave through the port.
    pub fn start(
        seed: u64,
        mtu: usize,
        port_addrs: Vec<IpAddr>,
        build: impl FnOnce(&mut World<SimNode<N>>, HostId) + Send + 'static,
    ) -> io::Result<(MemoryDevice, SimLink<N>)> {
        let (ours, theirs) = MemoryDevice::pair(mtu)?;
        let (jobs, rx) = channel::<Job<N>>();
        let wake = Arc::new(EventFd::new()?);
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (wake.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("oxtcp-sim".into())
            .spawn(move || {
                let mut dev = theirs;
                let queues = Rc::new(RefCell::new(PortQueues::default()));
                let mut world = World::new(seed);
                let port = world.add_host("port", &port_addrs, SimNode::Port(Port(queues.clone())));
                build(&mut world, port);
                let epoch = StdInstant::now();
                let mut buf = vec![0u8; 65536];
                while !s.load(Ordering::SeqCst) {
                    let now_std = StdInstant::now();
                    while let Ok(job) = rx.try_recv() {
                        job(&mut world);
                    }
                    let now =
                        Instant::from_micros(now_std.duration_since(epoch).as_micros() as u64);
                    world.run_until(now);
                    let mut fed = false;
                    while let Ok(Some(n)) = dev.recv(now_std, &mut buf) {
                        queues.borrow_mut().into_world.push_back(buf[..n].to_vec());
                        fed = true;
                    }
                    if fed {
                        // Touching the port makes the world take what it now holds.
                        world.with_node(port, |_, _| ());
                    }
                    for p in queues.borrow_mut().out_of_world.drain(..) {
                        let _ = dev.send(now_std, &p);
                    }
                    let next = world.next_event_time().map(|t| {
                        (epoch + Duration::from_micros(t.as_micros()))
                            .saturating_duration_since(StdInstant::now())
                    });
                    if fed {
                        continue;
                    }
                    if wait_readable(&[dev.fd(), w.fd()], next).is_err() {
                        break;
                    }
                    w.drain();
                }
            })?;
        Ok((
            ours,
            SimLink {
                jobs,
                wake,
                stop,
                thread: Some(thread),
            },
        ))
    }

    /// Run `f` on the world, on its thread, and wait for the answer.
    pub fn inspect<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut World<SimNode<N>>) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = channel();
        let job: Job<N> = Box::new(move |w| {
            let _ = tx.send(f(w));
        });
        self.jobs.send(job).ok()?;
        self.wake.signal();
        rx.recv_timeout(Duration::from_secs(10)).ok()
    }
}

impl<N: Node + 'static> Drop for SimLink<N> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
