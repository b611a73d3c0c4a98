//! The control socket of a running `serve` or `connect`: a Unix socket that answers each
//! client with a snapshot of the stack, one JSON object per line, which `oxtcp ss` prints.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use anyhow::{Context, Result};
use oxtcp::Net;
use serde_json::json;

/// Where control sockets live unless `--control` says otherwise: `$OXTCP_RUN_DIR`, else
/// `/run/oxtcp` for root, else `$XDG_RUNTIME_DIR/oxtcp` or `/tmp/oxtcp-UID` (a process with
/// CAP_NET_ADMIN but not root cannot write /run).
pub fn run_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("OXTCP_RUN_DIR") {
        return PathBuf::from(d);
    }
    // SAFETY: geteuid has no arguments and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        return PathBuf::from("/run/oxtcp");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => PathBuf::from(d).join("oxtcp"),
        None => PathBuf::from(format!("/tmp/oxtcp-{uid}")),
    }
}

/// The default control socket of the oxtcp on TUN `tun`.
pub fn default_path(tun: &str) -> PathBuf {
    run_dir().join(format!("{tun}.sock"))
}

/// Serves snapshots until dropped; removes its socket file then.
pub struct Control {
    path: PathBuf,
}

impl Drop for Control {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Control {
    /// Bind `path` and answer clients on a thread of its own.
    pub fn start(net: Net, tun: &str, path: PathBuf) -> Result<Control> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        // A socket file left by an oxtcp that died is stale; one that answers is not.
        if path.exists() {
            if std::os::unix::net::UnixStream::connect(&path).is_ok() {
                anyhow::bail!(
                    "another oxtcp answers on {}; pass --control PATH",
                    path.display()
                );
            }
            let _ = std::fs::remove_file(&path);
        }
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot bind control socket {}", path.display()))?;
        let tun = tun.to_string();
        std::thread::Builder::new()
            .name("oxtcp-control".into())
            .spawn(move || {
                for c in listener.incoming().flatten() {
                    let _ = answer(&net, &tun, c);
                }
            })?;
        Ok(Control { path })
    }
}

fn answer(net: &Net, tun: &str, mut out: impl Write) -> std::io::Result<()> {
    let mut lines = vec![json!({
        "kind": "host",
        "tun": tun,
        "pid": std::process::id(),
        "addresses": net.addresses().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    })];
    let st = net.stats().stack;
    lines.push(json!({
        "kind": "stats",
        "packets_in": st.packets_in,
        "packets_out": st.packets_out,
        "rst_sent": st.rst_sent,
        "replies_discarded": st.replies_discarded,
        "challenge_acks_suppressed": st.challenge_acks_suppressed,
        "invalid_acks_suppressed": st.invalid_acks_suppressed,
        "time_wait_overflow": st.time_wait_overflow,
        "time_wait_taken_by_connect": st.time_wait_taken_by_connect,
        "datagrams_kept": st.datagrams_kept,
        "predicted": st.predicted,
        "drops": st.drops,
    }));
    for l in net.listeners() {
        lines.push(json!({
            "kind": "listener",
            "state": "LISTEN",
            "local": l.local.to_string(),
            "backlog": l.backlog,
            "syn_queue": l.syn_queue,
            "accept_queue": l.accept_queue,
            "syn_queue_overflows": l.stats.syn_queue_overflows,
            "accept_queue_overflows": l.stats.accept_queue_overflows,
            "syncookies_sent": l.stats.syncookies_sent,
            "syncookies_accepted": l.stats.syncookies_accepted,
            "syncookies_failed": l.stats.syncookies_failed,
        }));
    }
    for c in net.connections() {
        lines.push(json!({
            "kind": "conn",
            "local": c.tuple.local.to_string(),
            "remote": c.tuple.remote.to_string(),
            "state": c.state.as_str(),
            "send_queue": c.send_queue,
            "recv_queue": c.recv_queue,
            "rtt_us": c.srtt.map(|d| d.as_micros() as u64),
            "rto_us": c.rto.as_micros() as u64,
            "cwnd": c.cwnd,
            "retransmits": c.stats.retransmits,
            "bytes_sent": c.stats.bytes_sent,
            "bytes_acked": c.stats.bytes_acked,
            "bytes_received": c.stats.bytes_received,
            "rttvar_us": c.rttvar.as_micros() as u64,
            "ssthresh": (c.ssthresh != u32::MAX).then_some(c.ssthresh),
            "mss": c.mss,
            "snd_wnd": c.snd_wnd,
            "rwnd_limited_us": c.stats.rwnd_limited.as_micros() as u64,
            "cwnd_limited_us": c.stats.cwnd_limited.as_micros() as u64,
            "sndbuf_limited_us": c.stats.sndbuf_limited.as_micros() as u64,
            "keepalive_probes": c.stats.keepalive_probes,
            "fast_recoveries": c.stats.fast_recoveries,
            "sack_recovered_bytes": c.stats.sack_recovered_bytes,
            "dsacks_received": c.stats.dsacks_received,
            "reordering_seen": c.stats.reordering_seen,
        }));
    }
    for l in lines {
        writeln!(out, "{l}")?;
    }
    out.flush()
}
