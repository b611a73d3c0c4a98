//! The SVG ladder: drawn from simulated runs (plain, lossy, a 200-segment transfer), it is
//! well-formed XML with one arrow per drawn segment, a state box per state change, a cross
//! per lost segment, timer brackets, the elision note on the big run, and a sane size; and
//! headless Chromium renders it to a PNG that is not blank.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant as StdInstant};

use oxtcp_core::{Event, Stack, StackConfig, State};
use oxtcp_lab::model::{Arrivals, Ladder, Side};
use oxtcp_lab::scenario::packet_arrivals;
use oxtcp_lab::svg::{self, SvgOptions};
use oxtcp_sim::{ClosePolicy, Endpoint, Instant, LinkConfig, StackHost, World};

struct Run {
    a: Vec<Event>,
    b: Vec<Event>,
    arrivals: Arrivals,
}

impl Run {
    fn sides(&self) -> (Side<'_>, Side<'_>) {
        (
            Side {
                name: "A",
                events: &self.a,
                initial: State::Closed,
            },
            Side {
                name: "B",
                events: &self.b,
                initial: State::Listen,
            },
        )
    }

    fn ladder(&self) -> Ladder {
        let (a, b) = self.sides();
        Ladder::new(&a, &b, Some(&self.arrivals))
    }

    /// The SVG; also written to `$OXTCP_SVG_DIR/<name>.svg` when that is set, to look at.
    fn svg(&self, name: &str, opts: &SvgOptions) -> String {
        let (a, b) = self.sides();
        let out = svg::render(&a, &b, Some(&self.arrivals), opts);
        if let Some(dir) = std::env::var_os("OXTCP_SVG_DIR") {
            std::fs::write(PathBuf::from(dir).join(format!("{name}.svg")), &out).unwrap();
        }
        out
    }
}

/// A (client) sends `request` bytes to B (server), B answers `response` bytes; A closes after
/// the answer, B after A's FIN; A waits out TIME-WAIT (2×30 s).
fn simulate(seed: u64, loss: f64, request: usize, response: usize) -> Run {
    let a_ip: IpAddr = "10.0.0.1".parse().unwrap();
    let b_ip: IpAddr = "10.0.0.2".parse().unwrap();
    let server = SocketAddr::new(b_ip, 80);
    let cfg = |seed: u64| StackConfig {
        seed,
        trace: true,
        msl: Duration::from_secs(30),
        syn_retries: 10,
        synack_retries: 10,
        ..StackConfig::default()
    };
    let mut world = World::new(seed);
    let req: Vec<u8> = (0..request).map(|i| b'a' + (i % 26) as u8).collect();
    let resp: Vec<u8> = (0..response).map(|i| b'A' + (i % 26) as u8).collect();
    let client = Endpoint::client(
        server,
        Instant::ZERO,
        req,
        ClosePolicy::AfterReceiving(response),
    );
    let mut srv = Endpoint::server(server, resp, ClosePolicy::AfterPeerCloses);
    srv.send_after = request;
    srv.close_delay = Duration::from_millis(50);
    let a = world.add_host(
        "A",
        &[a_ip],
        StackHost::new(Stack::with_addresses(cfg(seed * 2 + 1), &[a_ip]), client),
    );
    let b = world.add_host(
        "B",
        &[b_ip],
        StackHost::new(Stack::with_addresses(cfg(seed * 2 + 2), &[b_ip]), srv),
    );
    world.link(
        a,
        b,
        LinkConfig::default()
            .with_latency(Duration::from_millis(10))
            .with_loss(loss),
    );
    world.record_net_events(true);
    world
        .run_until_idle(10_000_000)
        .expect("the simulation settles");
    let net = world.take_net_events();
    let (ea, eb) = (world.node(a).events.clone(), world.node(b).events.clone());
    let arrivals = packet_arrivals(&net, [a, b], [&ea, &eb]);
    Run {
        a: ea,
        b: eb,
        arrivals,
    }
}

fn has_class(n: &roxmltree::Node<'_, '_>, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split(' ').any(|x| x == class))
}

/// Count elements with this class (outside the legend, whose samples use other classes).
fn count(doc: &roxmltree::Document<'_>, class: &str) -> usize {
    doc.descendants()
        .filter(|n| n.is_element() && has_class(n, class))
        .count()
}

struct Counts {
    segs: usize,
    arrows: usize,
    lost: usize,
    crosses: usize,
    states: usize,
    initial: usize,
    timers: usize,
    breaks: usize,
    elisions: usize,
    rtx: usize,
}

fn parse(svg: &str) -> Counts {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert_eq!(
        doc.root_element().tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert!(
        doc.descendants()
            .any(|n| n.attribute("id") == Some("legend")),
        "a legend"
    );
    Counts {
        segs: count(&doc, "seg"),
        arrows: count(&doc, "arrow"),
        lost: count(&doc, "lost"),
        crosses: count(&doc, "cross"),
        states: count(&doc, "state"),
        initial: count(&doc, "initial"),
        timers: count(&doc, "timer"),
        breaks: count(&doc, "break"),
        elisions: count(&doc, "elision"),
        rtx: count(&doc, "rtx"),
    }
}

#[test]
fn plain_run_draws_every_segment_state_and_the_time_wait_break() {
    let run = simulate(1, 0.0, 44, 3000);
    let ladder = run.ladder();
    let svg = run.svg(
        "plain",
        &SvgOptions {
            title: "A <connects> to B & \"closes\"".into(),
            ..SvgOptions::default()
        },
    );
    let c = parse(&svg);
    // Handshake, request, 3 answer segments, ACKs, the four-way close: all drawn, none lost.
    let n = ladder.segments.len();
    assert!((10..=16).contains(&n), "{n} segments");
    assert!(ladder.segments.iter().all(|s| s.arrival.is_some()));
    assert_eq!(c.segs, n);
    assert_eq!(c.arrows, n);
    assert_eq!((c.lost, c.crosses, c.rtx, c.elisions), (0, 0, 0, 0));
    // A: 6 changes, B: 5, plus the two initial boxes.
    assert_eq!(ladder.changes.len(), 11);
    assert_eq!(c.states, 13);
    assert_eq!(c.initial, 2);
    // One timer (2×MSL) and the 60 s TIME-WAIT drawn as a break, not 60 s of figure.
    assert_eq!(c.timers, 1);
    assert!(c.breaks >= 1);
    assert!(
        svg.contains("⋯ 60 s ⋯"),
        "the break mark names the idle time"
    );
    assert!(svg.contains("2×MSL"));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let height: f64 = doc
        .root_element()
        .attribute("height")
        .unwrap()
        .parse()
        .unwrap();
    assert!(height < 1200.0, "height {height}");
    // Escaped title survives, and relative numbers are used.
    assert!(svg.contains("A &lt;connects&gt; to B &amp; &quot;closes&quot;"));
    assert!(svg.contains("SYN seq=0 win=65535"));
    let abs = run.svg(
        "plain-abs",
        &SvgOptions {
            relative: false,
            ..SvgOptions::default()
        },
    );
    assert!(!abs.contains("SYN seq=0 win=65535"));
    assert_eq!(parse(&abs).arrows, n);
    eprintln!("plain: {} bytes, height {height}", svg.len());
}

#[test]
fn lossy_run_draws_crosses_and_retransmissions() {
    let run = simulate(1, 0.3, 44, 3000);
    let ladder = run.ladder();
    let lost = ladder
        .segments
        .iter()
        .filter(|s| s.arrival.is_none())
        .count();
    let rtx = ladder.segments.iter().filter(|s| s.label.rtx).count();
    assert!(
        lost > 0 && rtx > 0,
        "seed 1 at 30% loss loses segments ({lost}, {rtx})"
    );
    let svg = run.svg("lossy", &SvgOptions::default());
    let c = parse(&svg);
    assert_eq!(
        c.segs,
        ladder.segments.len(),
        "nothing elided in a short run"
    );
    assert_eq!(c.arrows, ladder.segments.len());
    assert_eq!(c.lost, lost);
    assert_eq!(c.crosses, lost);
    assert_eq!(c.rtx, rtx);
    assert_eq!(c.states, ladder.changes.len() + 2);
    assert_eq!(c.timers, ladder.timers.len());
    assert!(ladder.timers.len() > 1, "retransmission timers fired");
    eprintln!(
        "lossy: {} segments, {lost} lost, {rtx} rtx, {} timers, {} bytes",
        c.segs,
        c.timers,
        svg.len()
    );
}

#[test]
fn big_transfer_is_elided_and_stays_small() {
    let run = simulate(3, 0.0, 44, 300_000);
    let ladder = run.ladder();
    assert!(
        ladder.segments.len() > 200,
        "{} segments",
        ladder.segments.len()
    );
    let svg = run.svg(
        "big",
        &SvgOptions {
            title: "300 kB".into(),
            ..SvgOptions::default()
        },
    );
    let c = parse(&svg);
    assert!(c.elisions >= 1);
    assert!(svg.contains("data segments"), "the elision note");
    assert!(
        c.segs < 60,
        "{} of {} segments drawn",
        c.segs,
        ladder.segments.len()
    );
    assert_eq!(c.arrows, c.segs);
    assert_eq!(
        c.states,
        ladder.changes.len() + 2,
        "state changes are never elided"
    );
    assert!(svg.len() < 100_000, "{} bytes", svg.len());
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let elided: usize = doc
        .descendants()
        .filter(|n| has_class(n, "elision"))
        .map(|n| {
            n.text()
                .unwrap()
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    let data_drawn = ladder.segments.iter().filter(|s| s.len > 0).count() - elided;
    assert!(data_drawn >= 6);
    eprintln!(
        "big: {} segments, {} drawn, {elided} data segments elided in {} notes, {} bytes",
        ladder.segments.len(),
        c.segs,
        c.elisions,
        svg.len()
    );
}

#[test]
fn without_arrivals_pairs_identical_segments() {
    let run = simulate(1, 0.0, 44, 3000);
    let (a, b) = run.sides();
    let svg = svg::render(&a, &b, None, &SvgOptions::default());
    let c = parse(&svg);
    assert_eq!((c.arrows, c.crosses), (run.ladder().segments.len(), 0));
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            Command::new("sh")
                .args(["-c", &format!("command -v {c}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

#[test]
fn chromium_renders_a_non_blank_png() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is missing and CI=true: install it (.ci/run does)");
        }
        println!("skipped: no chromium");
        return;
    };
    let dir = std::env::temp_dir().join(format!("oxtcp-svg-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let svg_path: PathBuf = dir.join("ladder.svg");
    let png_path = dir.join("ladder.png");
    let profile = dir.join("profile");
    let run = simulate(1, 0.3, 44, 3000);
    std::fs::write(
        &svg_path,
        run.svg(
            "chromium",
            &SvgOptions {
                title: "lossy demo".into(),
                ..SvgOptions::default()
            },
        ),
    )
    .unwrap();

    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", png_path.display()),
            "--window-size=1200,1600",
            &format!("file://{}", svg_path.display()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    // Bounded: kill it on every path, including a panic below.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let start = StdInstant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let guard = Kill(child);
    let status = status.expect("chromium finished within 60 s");
    drop(guard);
    assert!(status.success(), "chromium exited {status}");

    let decoder = png::Decoder::new(std::fs::File::open(&png_path).expect("a screenshot"));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let px = &buf[..info.buffer_size()];
    let total = px.len() / channels;
    let dark = px
        .chunks(channels)
        .filter(|p| p[..3.min(channels)].iter().any(|&v| v < 200))
        .count();
    let frac = dark as f64 / total as f64;
    println!(
        "png {}x{}: {:.2}% non-white pixels",
        info.width,
        info.height,
        frac * 100.0
    );
    assert!(frac > 0.01, "the rendering is blank ({frac})");
    assert!(frac < 0.6, "the rendering is mostly dark ({frac})");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scenario's figure, as `oxtcp demo` draws it (seed 1); also written to `$OXTCP_SVG_DIR`.
fn scenario_svg(s: &oxtcp_lab::scenario::Scenario, file: &str) -> String {
    let r = oxtcp_lab::scenario::run((s.setup)(), 1, None).expect("the scenario settles");
    let (a, b) = s.sides(&r);
    let out = svg::render(
        &a,
        &b,
        Some(&r.arrivals),
        &SvgOptions {
            title: s.name.into(),
            ..SvgOptions::default()
        },
    );
    if let Some(dir) = std::env::var_os("OXTCP_SVG_DIR") {
        std::fs::write(PathBuf::from(dir).join(format!("{file}.svg")), &out).unwrap();
    }
    out
}

type Quad = [(f64, f64); 4];

/// Whether two convex quadrilaterals overlap by more than a hair: separating axis test on
/// their edges, written here rather than taken from the renderer.
fn quads_overlap(a: &Quad, b: &Quad) -> bool {
    let span = |q: &Quad, ax: (f64, f64)| {
        let d: Vec<f64> = q.iter().map(|p| p.0 * ax.0 + p.1 * ax.1).collect();
        (
            d.iter().copied().fold(f64::INFINITY, f64::min),
            d.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    [a, b].iter().all(|q| {
        (0..4).all(|k| {
            let (p, r) = (q[k], q[(k + 1) % 4]);
            let len = (r.0 - p.0).hypot(r.1 - p.1);
            let ax = ((p.1 - r.1) / len, (r.0 - p.0) / len);
            let (a0, a1) = span(a, ax);
            let (b0, b1) = span(b, ax);
            // Overlapping by more than 0.1 px along every axis.
            a1 > b0 + 0.1 && b1 > a0 + 0.1
        })
    })
}

/// Every `text.label` (segment and duplicate labels) with its estimated box, from the
/// element's own attributes: `x`, `y`, `rotate(angle …)` and the text.
fn label_boxes(svg: &str) -> Vec<(String, Quad)> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed");
    doc.descendants()
        .filter(|n| n.is_element() && has_class(n, "label"))
        .map(|n| {
            let num = |k: &str| n.attribute(k).unwrap().parse::<f64>().unwrap();
            let (x, y) = (num("x"), num("y"));
            assert_eq!(
                n.attribute("dy"),
                Some("-4"),
                "labels sit 4 px above their arrow"
            );
            let tr = n.attribute("transform").unwrap();
            let angle: f64 = tr
                .strip_prefix("rotate(")
                .and_then(|t| t.split(' ').next())
                .unwrap()
                .parse()
                .unwrap();
            let text = n.text().unwrap().to_string();
            let bx = svg::label_box(x, y, angle, &text);
            (text, bx)
        })
        .collect()
}

fn overlapping_labels(svg: &str) -> Vec<(String, String)> {
    let boxes = label_boxes(svg);
    let mut bad = Vec::new();
    for (i, (ta, a)) in boxes.iter().enumerate() {
        for (tb, b) in &boxes[i + 1..] {
            if quads_overlap(a, b) {
                bad.push((ta.clone(), tb.clone()));
            }
        }
    }
    bad
}

#[test]
fn label_box_estimate_is_sane() {
    // An upright label: centred on x, above y; about 6 px a character at 10.5 px.
    let text = "ACK seq=1 ack=1 len=0 win=65535";
    let b = svg::label_box(500.0, 100.0, 0.0, text);
    let w = b[1].0 - b[0].0;
    assert!((150.0..230.0).contains(&w), "width {w}");
    assert!((b[0].0 + b[1].0) / 2.0 - 500.0 < 1e-9);
    assert!(b.iter().all(|p| p.1 < 100.0 && p.1 > 80.0), "{b:?}");
    // Rotated boxes overlap where they cross, and not when far apart.
    let c = svg::label_box(500.0, 100.0, 30.0, text);
    assert!(quads_overlap(&b, &c));
    let d = svg::label_box(500.0, 130.0, 0.0, text);
    assert!(!quads_overlap(&b, &d));
}

#[test]
fn old_duplicate_without_time_wait_labels_do_not_overlap() {
    let s = oxtcp_lab::scenario::find("old-duplicate")
        .unwrap()
        .no_time_wait
        .unwrap();
    let svg = scenario_svg(s, "old-duplicate-no-time-wait");
    let boxes = label_boxes(&svg);
    // A crowded figure: 30 labels since the out-of-window ACK exchange is rate-limited
    // (`invalid_ack_interval`; it had more before).
    assert!(boxes.len() >= 30, "{} labels", boxes.len());
    let bad = overlapping_labels(&svg);
    assert!(bad.is_empty(), "{} overlapping labels: {bad:#?}", bad.len());
    // The stretched axis still runs forward: time ticks go down the page in order.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let ticks: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| has_class(n, "tick"))
        .map(|n| {
            (
                n.text().unwrap().parse().unwrap(),
                n.attribute("y").unwrap().parse().unwrap(),
            )
        })
        .collect();
    assert!(ticks.len() > 10);
    assert!(
        ticks
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1),
        "{ticks:?}"
    );
    // And the figure is the same every time.
    assert_eq!(svg, scenario_svg(s, "old-duplicate-no-time-wait"));
}

#[test]
fn backlog_full_labels_do_not_overlap() {
    let s = oxtcp_lab::scenario::find("backlog-full").unwrap();
    let svg = scenario_svg(s, "backlog-full");
    assert!(label_boxes(&svg).len() > 20);
    let bad = overlapping_labels(&svg);
    assert!(bad.is_empty(), "{} overlapping labels: {bad:#?}", bad.len());
}

#[test]
fn half_close_labels_do_not_overlap() {
    let s = oxtcp_lab::scenario::find("half-close").unwrap();
    let svg = scenario_svg(s, "half-close");
    let bad = overlapping_labels(&svg);
    assert!(bad.is_empty(), "{} overlapping labels: {bad:#?}", bad.len());
}

#[test]
fn old_duplicate_is_drawn_from_its_origin() {
    let s = oxtcp_lab::scenario::find("old-duplicate")
        .unwrap()
        .no_time_wait
        .unwrap();
    let r = oxtcp_lab::scenario::run((s.setup)(), 1, None).unwrap();
    let (a, b) = s.sides(&r);
    // The model finds the duplicate's origin: B's data segment, sent well before it arrives.
    let ladder = Ladder::new(&a, &b, Some(&r.arrivals));
    let dups: Vec<_> = ladder
        .notes
        .iter()
        .filter(|n| matches!(n.kind, oxtcp_lab::model::NoteKind::Unmatched(_)))
        .collect();
    assert_eq!(dups.len(), 1, "one old duplicate");
    let n = dups[0];
    assert_eq!(n.side, 0, "it arrives at A");
    let (side, index, sent) = n.origin.expect("its origin is found");
    assert_eq!(side, 1);
    assert!(
        sent < n.time && n.time - sent >= 10_000,
        "{sent} → {}",
        n.time
    );
    let orig = ladder
        .segments
        .iter()
        .find(|s| s.from == side && s.index == index)
        .expect("the origin is a drawn segment");
    assert!(orig.len > 0 && orig.send == sent);
    assert!(orig.arrival.is_some(), "the original arrived too");
    // Other notes have no origin.
    assert!(ladder.notes.iter().filter(|m| m.origin.is_some()).count() == 1);

    // The figure draws it as a `dup` arrow from B's line at the send time to A's line.
    let svg = scenario_svg(s, "old-duplicate-no-time-wait");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let g: Vec<_> = doc
        .descendants()
        .filter(|e| e.is_element() && has_class(e, "dup"))
        .collect();
    assert_eq!(g.len(), 1, "one dup element");
    let line = g[0]
        .descendants()
        .find(|e| e.tag_name().name() == "line")
        .expect("an arrow");
    let num = |k: &str| line.attribute(k).unwrap().parse::<f64>().unwrap();
    assert!(num("x1") > num("x2"), "from B (right) to A (left)");
    assert!(num("y2") > num("y1") + 50.0, "slanted down across its lag");
    // It starts where the original does, on B's line.
    let orig_line = doc
        .descendants()
        .find(|e| e.attribute("id") == Some(format!("seg-{side}-{index}").as_str()))
        .and_then(|g| g.descendants().find(|e| has_class(e, "arrow")))
        .expect("the original's arrow");
    for k in ["x1", "y1"] {
        assert_eq!(orig_line.attribute(k), line.attribute(k), "{k}");
    }
    let label = g[0]
        .descendants()
        .find(|e| has_class(e, "label"))
        .and_then(|e| e.text())
        .unwrap();
    assert!(label.starts_with("old duplicate of "), "{label}");
    assert!(label.contains(&format!("len={}", orig.len)), "{label}");
    // Not counted as a segment arrow, and named in the legend.
    assert_eq!(count(&doc, "arrow"), count(&doc, "seg"));
    assert!(count(&doc, "lg-dup") == 1);
    assert!(svg.contains("old duplicate: a network copy"));
}
