//! The trace as JSON Lines: one object per event, with the fields documented in the README.

use std::io::Write;

use oxtcp_core::{Event, EventKind};
use serde_json::{json, Value};

/// One trace event of host `host` as a JSON object.
pub fn event_json(host: &str, e: &Event) -> Value {
    let t_us = e.time.as_micros();
    match &e.kind {
        EventKind::Segment(s) => json!({
            "t_us": t_us,
            "host": host,
            "kind": "segment",
            "dir": s.dir.as_str(),
            "flags": s.flags.to_string(),
            "seq": s.seq,
            "ack": s.ack,
            "len": s.len,
            "win": s.win,
            "retransmit": s.retransmit,
            "reason": s.reason.map(|r| r.as_str()),
            "local": s.tuple.local.to_string(),
            "remote": s.tuple.remote.to_string(),
        }),
        EventKind::State(s) => json!({
            "t_us": t_us,
            "host": host,
            "kind": "state",
            "from": s.from.as_str(),
            "to": s.to.as_str(),
            "cause": s.cause.as_str(),
            "error": s.error.map(|e| e.to_string()),
            "local": s.tuple.local.to_string(),
            "remote": s.tuple.remote.to_string(),
        }),
        EventKind::Timer(t) => json!({
            "t_us": t_us,
            "host": host,
            "kind": "timer",
            "timer": t.timer.as_str(),
            "attempt": t.attempt,
            "local": t.tuple.local.to_string(),
            "remote": t.tuple.remote.to_string(),
        }),
        EventKind::Malformed(r) => json!({
            "t_us": t_us,
            "host": host,
            "kind": "malformed",
            "reason": r.as_str(),
        }),
    }
}

/// Write both hosts' events merged in time order (ties keep each host's own order, A first).
pub fn write_merged(out: &mut impl Write, hosts: &[(&str, &[Event])]) -> std::io::Result<()> {
    for (host, e) in merge(hosts) {
        serde_json::to_writer(&mut *out, &event_json(host, e))?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Events of several hosts merged by time, stable within each host.
pub fn merge<'a>(hosts: &[(&'a str, &'a [Event])]) -> Vec<(&'a str, &'a Event)> {
    let mut all: Vec<(u64, usize, usize, &str, &Event)> = hosts
        .iter()
        .enumerate()
        .flat_map(|(h, (name, evs))| {
            evs.iter()
                .enumerate()
                .map(move |(i, e)| (e.time.as_micros(), h, i, *name, e))
        })
        .collect();
    all.sort_by_key(|&(t, h, i, _, _)| (t, h, i));
    all.into_iter().map(|(_, _, _, n, e)| (n, e)).collect()
}
