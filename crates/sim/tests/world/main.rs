//! The simulator driven by small mock nodes: timing, faults, determinism, running, pcap.

mod mock;

mod determinism;
mod faults;
mod pcap;
mod routing;
mod running;
mod timing;
