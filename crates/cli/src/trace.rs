//! `oxtcp trace FILE`: a pcap or pcapng capture split into TCP connections, each drawn as a
//! ladder with both endpoints' states inferred from the segments (rules in
//! `oxtcp_lab::trace::infer`), followed by a summary; `--json` prints one object per connection.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use oxtcp_core::EventKind;
use oxtcp_lab::ladder::{self, LadderOptions};
use oxtcp_lab::svg::{self, SvgOptions};
use oxtcp_lab::trace::{analyze, Analysis};
use serde_json::{json, Value};

use crate::view::ViewArgs;

/// Options of `oxtcp trace`.
#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// The capture (pcap or pcapng; RAW, Ethernet, Linux cooked v1/v2 or loopback links).
    file: PathBuf,
    /// Print one JSON object per connection instead of ladders.
    #[arg(long)]
    json: bool,
    /// Only connection N (numbered from 1 in order of first packet).
    #[arg(long)]
    conn: Option<usize>,
    /// Also draw the connection as an SVG figure (one connection: with several, pick it with
    /// --conn).
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    #[command(flatten)]
    view: ViewArgs,
}

fn us(v: Option<u64>) -> String {
    v.map(|x| format!("{}.{:03} ms", x / 1000, x % 1000))
        .unwrap_or_else(|| "n/a".into())
}

/// Run `oxtcp trace`.
pub fn run(args: &TraceArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let (all, skipped) =
        analyze(&bytes).with_context(|| format!("reading {}", args.file.display()))?;
    let chosen: Vec<&Analysis> = match args.conn {
        Some(n) if n == 0 || n > all.len() => bail!(
            "--conn {n} is out of range: {} has {} TCP connection(s), numbered from 1",
            args.file.display(),
            all.len()
        ),
        Some(n) => vec![&all[n - 1]],
        None => all.iter().collect(),
    };
    if let Some(path) = &args.svg {
        let [an] = chosen[..] else {
            bail!(
                "--svg draws one connection and {} has {}; pick one with --conn N",
                args.file.display(),
                chosen.len()
            );
        };
        let [la, lb] = an.ladder_sides();
        let opts = SvgOptions {
            title: format!("{} connection {}", args.file.display(), an.conn.number),
            relative: args.view.relative(),
            ..SvgOptions::default()
        };
        crate::svgout::write(path, &svg::render(&la, &lb, None, &opts))?;
    }
    let mut out = std::io::stdout().lock();
    for an in chosen {
        if args.json {
            writeln!(out, "{}", to_json(an))?;
        } else {
            print_text(&mut out, an, &args.view.ladder())?;
        }
    }
    if !args.json && (skipped.not_tcp > 0 || !skipped.damaged.is_empty()) {
        writeln!(
            out,
            "skipped: {} non-TCP datagram(s), {} damaged",
            skipped.not_tcp,
            skipped.damaged.len()
        )?;
    }
    Ok(())
}

fn print_text(out: &mut impl Write, an: &Analysis, opts: &LadderOptions) -> Result<()> {
    let [a, b] = &an.inferred.sides;
    let s = &an.summary;
    writeln!(
        out,
        "connection {}: A = {}   B = {}   ({} segments)",
        an.conn.number, a.addr, b.addr, s.segments
    )?;
    if an.inferred.mid_connection {
        writeln!(
            out,
            "the capture starts mid-connection: both sides start ESTABLISHED (inferred from first segment)"
        )?;
    }
    let [la, lb] = an.ladder_sides();
    writeln!(out)?;
    write!(out, "{}", ladder::render_with(&la, &lb, None, opts))?;
    let note = if an.inferred.mid_connection {
        " (inferred from first segment)"
    } else {
        ""
    };
    writeln!(
        out,
        "\nA: {}{note}",
        ladder::show_states(&a.state_sequence())
    )?;
    writeln!(out, "B: {}{note}", ladder::show_states(&b.state_sequence()))?;
    let name = |i: usize| ["A", "B"][i];
    writeln!(
        out,
        "handshake: SYN→SYN-ACK {}, SYN-ACK→ACK {}, RTT at capture point {}",
        us(s.syn_to_synack_us),
        us(s.synack_to_ack_us),
        us(s.handshake_rtt_us)
    )?;
    writeln!(
        out,
        "bytes: A→B {}, B→A {}   retransmissions: A {}, B {}   zero-window events: A {}, B {}",
        s.bytes[0],
        s.bytes[1],
        s.retransmissions[0],
        s.retransmissions[1],
        s.zero_window_events[0],
        s.zero_window_events[1]
    )?;
    writeln!(
        out,
        "closed first: {}   ended in TIME-WAIT: {}   ended by RST: {}\n",
        s.closed_first.map(name).unwrap_or("neither"),
        if s.time_wait.is_empty() {
            "neither".to_string()
        } else {
            s.time_wait
                .iter()
                .map(|&i| name(i))
                .collect::<Vec<_>>()
                .join(", ")
        },
        if s.reset { "yes" } else { "no" }
    )?;
    Ok(())
}

fn to_json(an: &Analysis) -> Value {
    let [a, b] = &an.inferred.sides;
    let s = &an.summary;
    let name = |i: usize| ["A", "B"][i];
    let states = |e: &oxtcp_lab::trace::Endpoint| {
        e.events
            .iter()
            .filter_map(|ev| match &ev.kind {
                EventKind::State(st) => Some(json!({
                    "t_us": ev.time.as_micros(),
                    "from": st.from.as_str(),
                    "to": st.to.as_str(),
                    "cause": st.cause.as_str(),
                })),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let segments: Vec<Value> = an
        .conn
        .segs
        .iter()
        .zip(&an.inferred.retransmit)
        .map(|(g, &rtx)| {
            json!({
                "t_us": g.time_us,
                "from": if g.src == an.conn.a { "A" } else { "B" },
                "flags": g.flags.to_string(),
                "seq": g.seq,
                "ack": g.ack,
                "win": g.win,
                "len": g.len,
                "mss": g.options.mss,
                "retransmit": rtx,
                "bad_checksum": g.bad_checksum,
            })
        })
        .collect();
    json!({
        "conn": an.conn.number,
        "a": a.addr.to_string(),
        "b": b.addr.to_string(),
        "inferred_from_first_segment": an.inferred.mid_connection,
        "summary": {
            "segments": s.segments,
            "syn_to_synack_us": s.syn_to_synack_us,
            "synack_to_ack_us": s.synack_to_ack_us,
            "handshake_rtt_us": s.handshake_rtt_us,
            "bytes": {"a_to_b": s.bytes[0], "b_to_a": s.bytes[1]},
            "retransmissions": {"a": s.retransmissions[0], "b": s.retransmissions[1]},
            "zero_window_events": {"a": s.zero_window_events[0], "b": s.zero_window_events[1]},
            "closed_first": s.closed_first.map(name),
            "time_wait": s.time_wait.iter().map(|&i| name(i)).collect::<Vec<_>>(),
            "reset": s.reset,
        },
        "states": {
            "a": a.state_sequence().iter().map(|x| x.as_str()).collect::<Vec<_>>(),
            "b": b.state_sequence().iter().map(|x| x.as_str()).collect::<Vec<_>>(),
        },
        "transitions": {"a": states(a), "b": states(b)},
        "segments": segments,
    })
}
