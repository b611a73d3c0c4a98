//! `oxtcp sim transfer` end to end: goodput within what the link allows, the JSON fields,
//! determinism per seed, retransmissions under loss, fairness across flows, the SVG plot, and a
//! clear refusal of what the core cannot do yet.

use serde_json::Value;

#[allow(dead_code)] // the helpers are shared; this suite uses only `oxtcp`
mod bin;
use bin::oxtcp;

const LINK: [&str; 6] = ["--rtt", "20", "--bandwidth", "100", "--seed", "3"];

fn transfer(extra: &[&str]) -> (bool, String, String) {
    let mut args = vec!["sim", "transfer"];
    args.extend_from_slice(&LINK);
    args.extend_from_slice(extra);
    oxtcp(&args)
}

fn transfer_json(extra: &[&str]) -> Value {
    let mut args = extra.to_vec();
    args.push("--json");
    let (ok, stdout, stderr) = transfer(&args);
    assert!(ok, "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn a_clean_transfer_finishes_with_goodput_the_link_allows() {
    let bytes = 2_000_000u64;
    let v = transfer_json(&["--bytes", "2000000"]);
    let link_bps = 100e6;
    let goodput = v["goodput_bps"].as_f64().unwrap();
    assert!(goodput > 0.10 * link_bps, "{v}");
    assert!(goodput <= link_bps, "{v}");
    // The goodput is the bytes over the simulated time, which cannot beat the propagation delay.
    let secs = v["sim_seconds"].as_f64().unwrap();
    assert!((goodput - bytes as f64 * 8.0 / secs).abs() < 1.0, "{v}");
    assert!(secs > 0.020, "{v}");
    let util = v["utilization"].as_f64().unwrap();
    assert!(util > 0.0 && util <= 1.0, "{v}");
    // No random loss: anything retransmitted answers a drop at the bottleneck queue (slow
    // start overshooting one bandwidth-delay product of buffer), never a spurious timeout.
    assert_eq!(v["random_losses"], 0, "{v}");
    if v["queue_drops"] == 0 {
        assert_eq!(v["retransmitted_bytes"], 0, "{v}");
        assert_eq!(v["rto_count"], 0, "{v}");
    }

    let (ok, stdout, stderr) = transfer(&["--bytes", "200000"]);
    assert!(ok, "{stderr}");
    for label in [
        "goodput",
        "link utilisation",
        "retransmitted",
        "RTO count",
        "CPU time",
    ] {
        assert!(stdout.contains(label), "{label}: {stdout}");
    }
}

#[test]
fn json_has_the_documented_fields_and_a_seed_replays_it() {
    let args = ["--bytes", "300000", "--loss", "0.02", "--reorder", "0.02"];
    let mut a = transfer_json(&args);
    for field in [
        "goodput_bps",
        "utilization",
        "utilization_after_slow_start",
        "slow_start_end_seconds",
        "retransmitted_bytes",
        "spurious_retransmissions",
        "rto_count",
        "final_cwnd",
        "sim_seconds",
        "cpu_seconds",
        "per_flow",
    ] {
        assert!(a.get(field).is_some(), "{field} missing: {a}");
    }
    assert!(a.get("fairness").is_none(), "one flow has no fairness: {a}");
    let mut b = transfer_json(&args);
    a.as_object_mut().unwrap().remove("cpu_seconds");
    b.as_object_mut().unwrap().remove("cpu_seconds");
    assert_eq!(a, b);
}

#[test]
fn loss_costs_retransmissions() {
    let v = transfer_json(&["--bytes", "500000", "--loss", "0.01"]);
    assert!(v["retransmitted_bytes"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn two_flows_report_fairness() {
    let v = transfer_json(&["--bytes", "300000", "--flows", "2"]);
    let f = v["fairness"].as_f64().expect("fairness with two flows");
    assert!(f > 0.0 && f <= 1.0, "{v}");
    assert_eq!(v["per_flow"].as_array().unwrap().len(), 2, "{v}");
}

#[test]
fn plot_is_well_formed_svg_with_a_legend() {
    let path = bin::temp_in("sim", "cwnd.svg");
    let (ok, _, stderr) = transfer(&["--bytes", "300000", "--plot", path.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let text = std::fs::read_to_string(&path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(texts.contains(&"cwnd"), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.starts_with("bytes in flight")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("simulated time")),
        "{texts:?}"
    );
    let lines = doc.descendants().filter(|n| n.has_tag_name("polyline"));
    assert_eq!(lines.count(), 2);
}

#[test]
fn both_congestion_controls_run_and_cubic_is_the_default() {
    let lossy = ["--bytes", "400000", "--loss", "0.02"];
    let default = transfer_json(&lossy);
    assert_eq!(default["cc"], "cubic");
    let newreno = transfer_json(&[&lossy[..], &["--cc", "newreno"]].concat());
    assert_eq!(newreno["cc"], "newreno");
    for v in [&default, &newreno] {
        assert!(v["retransmitted_bytes"].as_u64().unwrap() > 0, "{v}");
    }
}

#[test]
fn sack_is_on_by_default_and_can_be_turned_off() {
    let on = transfer_json(&["--bytes", "100000"]);
    assert_eq!(on["sack"], true);
    let off = transfer_json(&["--bytes", "100000", "--sack", "off"]);
    assert_eq!(off["sack"], false);
    let (ok, _, stderr) = transfer(&["--bytes", "1000", "--sack", "maybe"]);
    assert!(!ok);
    assert!(stderr.contains("--sack"), "{stderr}");
}

#[test]
fn a_transfer_that_cannot_finish_in_time_fails_clearly() {
    let (ok, _, stderr) = transfer(&["--bytes", "2000000", "--time-limit", "0.05"]);
    assert!(!ok);
    assert!(stderr.contains("did not finish within"), "{stderr}");
}

#[test]
fn a_duration_run_stops_on_time_and_counts_what_each_flow_had_acknowledged() {
    let v = transfer_json(&["--duration", "0.5", "--flows", "2"]);
    assert_eq!(v["sim_seconds"], 0.5, "{v}");
    assert_eq!(v["bytes_per_flow"], Value::Null, "{v}");
    for f in v["per_flow"].as_array().unwrap() {
        let bytes = f["bytes"].as_u64().unwrap();
        assert!(bytes > 0, "{v}");
        let goodput = f["goodput_bps"].as_f64().unwrap();
        assert!((goodput - bytes as f64 * 8.0 / 0.5).abs() < 1.0, "{v}");
    }
    let (ok, _, stderr) = transfer(&[]);
    assert!(!ok);
    assert!(stderr.contains("--bytes"), "{stderr}");
}
