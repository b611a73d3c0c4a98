//! `oxtcp ss`: ask running oxtcp processes for their sockets, through their control sockets,
//! and print them like `ss -tan` with the TCP internals next to each.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::Value;

use crate::control::run_dir;

/// Arguments of `oxtcp ss`.
#[derive(Args, Debug)]
pub struct SsArgs {
    /// Control socket(s) to ask [default: every *.sock in $OXTCP_RUN_DIR or /run/oxtcp].
    #[arg(long, value_name = "PATH")]
    pub control: Vec<PathBuf>,
    /// Print the raw JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Show TCP internals under each connection, like `ss -i`: RTT/RTTVAR, MSS, ssthresh,
    /// bytes, and the time the sender was limited by the peer's window, cwnd, or send buffer.
    #[arg(short = 'i', long)]
    pub info: bool,
}

fn sockets(args: &SsArgs) -> Result<Vec<PathBuf>> {
    if !args.control.is_empty() {
        return Ok(args.control.clone());
    }
    let dir = run_dir();
    let mut found: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "sock"))
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    if found.is_empty() {
        bail!(
            "no running oxtcp found in {} (start `oxtcp serve` or `oxtcp connect`, or pass --control PATH)",
            dir.display()
        );
    }
    Ok(found)
}

fn query(path: &PathBuf) -> Result<Vec<Value>> {
    let s = UnixStream::connect(path)
        .with_context(|| format!("no oxtcp answers on {}", path.display()))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut out = Vec::new();
    for line in BufReader::new(s).lines() {
        out.push(serde_json::from_str(&line?)?);
    }
    Ok(out)
}

fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn ms(v: &Value, k: &str) -> String {
    v[k].as_u64()
        .map_or("-".into(), |us| format!("{:.1}", us as f64 / 1000.0))
}

/// The `--info` line of one connection row, in the style of `ss -i`.
fn info_line(r: &Value) -> String {
    format!(
        "\t rtt:{}/{} rto:{} mss:{} cwnd:{} ssthresh:{} snd_wnd:{} bytes_sent:{} bytes_acked:{} \
         bytes_received:{} retrans:{} rwnd_limited:{}ms cwnd_limited:{}ms sndbuf_limited:{}ms \
         keepalive_probes:{} fast_recoveries:{} sack_recovered:{} dsack:{} reordering:{}",
        ms(r, "rtt_us"),
        ms(r, "rttvar_us"),
        ms(r, "rto_us"),
        s(r, "mss"),
        s(r, "cwnd"),
        s(r, "ssthresh"),
        s(r, "snd_wnd"),
        s(r, "bytes_sent"),
        s(r, "bytes_acked"),
        s(r, "bytes_received"),
        s(r, "retransmits"),
        ms(r, "rwnd_limited_us"),
        ms(r, "cwnd_limited_us"),
        ms(r, "sndbuf_limited_us"),
        s(r, "keepalive_probes"),
        s(r, "fast_recoveries"),
        s(r, "sack_recovered_bytes"),
        s(r, "dsacks_received"),
        s(r, "reordering_seen"),
    )
}

/// The stack's counters, with every drop cause seen (as `nstat` shows kernel MIBs).
fn stats_line(r: &Value) -> String {
    let drops = r["drops"]
        .as_object()
        .map(|d| {
            d.iter()
                .map(|(k, v)| format!(" {k}:{v}"))
                .collect::<String>()
        })
        .unwrap_or_default();
    format!(
        "# in:{} out:{} rst_sent:{} challenge_acks_suppressed:{} invalid_acks_suppressed:{} \
         time_wait_overflow:{} time_wait_taken_by_connect:{} datagrams_kept:{} predicted:{} \
         drops:{}",
        s(r, "packets_in"),
        s(r, "packets_out"),
        s(r, "rst_sent"),
        s(r, "challenge_acks_suppressed"),
        s(r, "invalid_acks_suppressed"),
        s(r, "time_wait_overflow"),
        s(r, "time_wait_taken_by_connect"),
        s(r, "datagrams_kept"),
        s(r, "predicted"),
        if drops.is_empty() { " none" } else { &drops },
    )
}

/// The `--info` line of a listener: its SYN queue, overflows and SYN cookies.
fn listener_info_line(r: &Value) -> String {
    format!(
        "\t syn_queue:{} syn_queue_overflows:{} accept_queue_overflows:{} syncookies_sent:{} \
         syncookies_accepted:{} syncookies_failed:{}",
        s(r, "syn_queue"),
        s(r, "syn_queue_overflows"),
        s(r, "accept_queue_overflows"),
        s(r, "syncookies_sent"),
        s(r, "syncookies_accepted"),
        s(r, "syncookies_failed"),
    )
}

/// Run `oxtcp ss`.
pub fn run(args: &SsArgs) -> Result<()> {
    let mut failures = 0;
    let paths = sockets(args)?;
    for path in &paths {
        let rows = match query(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("oxtcp ss: {e:#}");
                failures += 1;
                continue;
            }
        };
        if args.json {
            for r in &rows {
                println!("{r}");
            }
            continue;
        }
        for r in rows.iter().filter(|r| r["kind"] == "host") {
            println!(
                "# oxtcp pid {} on {} ({})",
                s(r, "pid"),
                s(r, "tun"),
                r["addresses"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
        for r in rows.iter().filter(|r| r["kind"] == "stats") {
            println!("{}", stats_line(r));
        }
        println!(
            "{:<12} {:>7} {:>7} {:<28} {:<28} {:>8} {:>8} {:>7} {:>7} {:>12} {:>12}",
            "State",
            "Recv-Q",
            "Send-Q",
            "Local",
            "Peer",
            "RTT(ms)",
            "RTO(ms)",
            "cwnd",
            "Retrans",
            "BytesSent",
            "BytesRecv"
        );
        for r in &rows {
            match r["kind"].as_str() {
                Some("listener") => {
                    println!(
                        "{:<12} {:>7} {:>7} {:<28} {:<28}",
                        "LISTEN",
                        s(r, "accept_queue"),
                        s(r, "backlog"),
                        s(r, "local"),
                        "*"
                    );
                    if args.info {
                        println!("{}", listener_info_line(r));
                    }
                }
                Some("conn") => {
                    println!(
                        "{:<12} {:>7} {:>7} {:<28} {:<28} {:>8} {:>8} {:>7} {:>7} {:>12} {:>12}",
                        s(r, "state"),
                        s(r, "recv_queue"),
                        s(r, "send_queue"),
                        s(r, "local"),
                        s(r, "remote"),
                        ms(r, "rtt_us"),
                        ms(r, "rto_us"),
                        s(r, "cwnd"),
                        s(r, "retransmits"),
                        s(r, "bytes_sent"),
                        s(r, "bytes_received"),
                    );
                    if args.info {
                        println!("{}", info_line(r));
                    }
                }
                _ => {}
            }
        }
    }
    if failures == paths.len() {
        bail!("no oxtcp answered");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stats_line_lists_drops_by_cause() {
        let r = json!({
            "kind": "stats", "packets_in": 9, "packets_out": 4, "rst_sent": 1,
            "challenge_acks_suppressed": 2, "invalid_acks_suppressed": 0,
            "time_wait_overflow": 5, "time_wait_taken_by_connect": 6, "datagrams_kept": 7,
            "predicted": 8, "drops": {"bad_checksum": 3, "syn_rst": 1},
        });
        assert_eq!(
            stats_line(&r),
            "# in:9 out:4 rst_sent:1 challenge_acks_suppressed:2 invalid_acks_suppressed:0 \
             time_wait_overflow:5 time_wait_taken_by_connect:6 datagrams_kept:7 predicted:8 drops: \
             bad_checksum:3 syn_rst:1"
        );
    }

    #[test]
    fn info_line_shows_rtt_windows_bytes_and_limited_times() {
        let r = json!({
            "kind": "conn", "rtt_us": 50_500, "rttvar_us": 2_000, "rto_us": 250_000,
            "mss": 1460, "cwnd": 14600, "ssthresh": null, "snd_wnd": 65535,
            "bytes_sent": 20000, "bytes_acked": 20000, "bytes_received": 7,
            "retransmits": 1, "rwnd_limited_us": 150_000, "cwnd_limited_us": 0,
            "sndbuf_limited_us": 2_500, "keepalive_probes": 3, "fast_recoveries": 2,
            "sack_recovered_bytes": 2896, "dsacks_received": 1, "reordering_seen": 0,
        });
        assert_eq!(
            info_line(&r),
            "\t rtt:50.5/2.0 rto:250.0 mss:1460 cwnd:14600 ssthresh:- snd_wnd:65535 \
             bytes_sent:20000 bytes_acked:20000 bytes_received:7 retrans:1 \
             rwnd_limited:150.0ms cwnd_limited:0.0ms sndbuf_limited:2.5ms keepalive_probes:3 \
             fast_recoveries:2 sack_recovered:2896 dsack:1 reordering:0"
        );
    }
}
