//! Packet formats: IPv4, IPv6, TCP header and options, and Internet checksums.
