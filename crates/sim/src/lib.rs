//! A deterministic network simulator: virtual clock, hosts, seeded links, pcap output.
