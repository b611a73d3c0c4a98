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
