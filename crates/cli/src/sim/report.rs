//! Printing a transfer's outcome: a human summary or one JSON object.

use serde_json::{json, Value};

use super::transfer::{jain_fairness, TransferResult, TransferSpec};

/// Everything reported about a run.
pub struct Report<'a> {
    /// What was simulated.
    pub spec: &'a TransferSpec,
    /// What happened.
    pub result: &'a TransferResult,
    /// Process CPU time the simulation took, seconds.
    pub cpu_seconds: f64,
}

impl Report<'_> {
    fn fairness(&self) -> Option<f64> {
        let goodputs: Vec<f64> = self.result.flows.iter().map(|f| f.goodput_bps).collect();
        (goodputs.len() > 1).then(|| jain_fairness(&goodputs))
    }

    fn retransmitted_bytes(&self) -> u64 {
        self.result
            .flows
            .iter()
            .map(|f| f.retransmitted_bytes)
            .sum()
    }

    fn spurious(&self) -> u64 {
        self.result
            .flows
            .iter()
            .map(|f| f.spurious_retransmissions)
            .sum()
    }

    fn rto_count(&self) -> u64 {
        self.result.flows.iter().map(|f| f.rto_count).sum()
    }

    fn fast_recoveries(&self) -> u64 {
        self.result.flows.iter().map(|f| f.fast_recoveries).sum()
    }

    /// The JSON object `--json` prints. Totals are over all flows; `final_cwnd` is flow 1's.
    pub fn json(&self) -> Value {
        let (s, r) = (self.spec, self.result);
        let flows: Vec<Value> = r
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| {
                json!({
                    "flow": i + 1,
                    "bytes": f.bytes,
                    "goodput_bps": f.goodput_bps,
                    "sim_seconds": f.duration.as_secs_f64(),
                    "retransmitted_bytes": f.retransmitted_bytes,
                    "spurious_retransmissions": f.spurious_retransmissions,
                    "rto_count": f.rto_count,
                    "fast_recoveries": f.fast_recoveries,
                    "final_cwnd": f.final_cwnd,
                })
            })
            .collect();
        let mut v = json!({
            "bytes_per_flow": (s.bytes != u64::MAX).then_some(s.bytes),
            "duration_seconds": s.duration.map(|d| d.as_secs_f64()),
            "flows": s.flows,
            "rtt_ms": s.rtt.as_secs_f64() * 1000.0,
            "bandwidth_bps": s.bandwidth_bps,
            "loss": s.loss,
            "reorder": s.reorder,
            "queue_packets": s.queue_packets,
            "seed": s.seed,
            "cc": s.cc.as_str(),
            "sack": s.sack.is_on(),
            "goodput_bps": r.goodput_bps,
            "utilization": r.utilization,
            "utilization_after_slow_start": r.utilization_after_slow_start,
            "slow_start_end_seconds": r.slow_start_end.map(|d| d.as_secs_f64()),
            "retransmitted_bytes": self.retransmitted_bytes(),
            "spurious_retransmissions": self.spurious(),
            "rto_count": self.rto_count(),
            "fast_recoveries": self.fast_recoveries(),
            "final_cwnd": r.flows.first().map_or(0, |f| f.final_cwnd),
            "queue_drops": r.queue_drops,
            "random_losses": r.random_losses,
            "sim_seconds": r.sim_duration.as_secs_f64(),
            "cpu_seconds": self.cpu_seconds,
            "per_flow": flows,
        });
        if let Some(f) = self.fairness() {
            v["fairness"] = json!(f);
        }
        v
    }

    /// The human summary.
    pub fn human(&self) -> String {
        let (s, r) = (self.spec, self.result);
        let mut out = format!(
            "oxtcp sim transfer: {} flow(s) x {}, {} Mbit/s, RTT {} ms, loss {}, reorder {}, \
             queue {} packets, {}, SACK {}, seed {}\n",
            s.flows,
            match (s.bytes, s.duration) {
                (u64::MAX, Some(d)) => format!("{} s", d.as_secs_f64()),
                (b, Some(d)) => format!("{b} bytes or {} s", d.as_secs_f64()),
                (b, None) => format!("{b} bytes"),
            },
            s.bandwidth_bps as f64 / 1e6,
            s.rtt.as_secs_f64() * 1000.0,
            s.loss,
            s.reorder,
            s.queue_packets,
            s.cc.as_str(),
            if s.sack.is_on() { "on" } else { "off" },
            s.seed
        );
        let line = |k: &str, v: String| format!("  {k:<26} {v}\n");
        out += &line("goodput", format!("{:.2} Mbit/s", r.goodput_bps / 1e6));
        out += &line(
            "link utilisation",
            format!("{:.1} %", r.utilization * 100.0),
        );
        out += &line(
            "  after slow start",
            match (r.utilization_after_slow_start, r.slow_start_end) {
                (Some(u), Some(at)) => {
                    format!("{:.1} % (from {:.3} s)", u * 100.0, at.as_secs_f64())
                }
                _ => "n/a (flow 1 never left slow start)".into(),
            },
        );
        out += &line(
            "retransmitted",
            format!("{} bytes", self.retransmitted_bytes()),
        );
        out += &line("spurious retransmissions", self.spurious().to_string());
        out += &line("RTO count", self.rto_count().to_string());
        out += &line("fast recoveries", self.fast_recoveries().to_string());
        out += &line(
            "final cwnd (flow 1)",
            format!("{} bytes", r.flows.first().map_or(0, |f| f.final_cwnd)),
        );
        out += &line(
            "drops",
            format!("{} at the queue, {} random", r.queue_drops, r.random_losses),
        );
        out += &line(
            "simulated duration",
            format!("{:.3} s", r.sim_duration.as_secs_f64()),
        );
        out += &line("CPU time", format!("{:.3} s", self.cpu_seconds));
        if let Some(f) = self.fairness() {
            out += &line("Jain's fairness", format!("{f:.4}"));
            for (i, f) in r.flows.iter().enumerate() {
                out += &line(
                    &format!("  flow {}", i + 1),
                    format!(
                        "{:.2} Mbit/s, {:.3} s, {} bytes retransmitted",
                        f.goodput_bps / 1e6,
                        f.duration.as_secs_f64(),
                        f.retransmitted_bytes
                    ),
                );
            }
        }
        out
    }
}
