//! `--plot`: flow 1's congestion window and bytes in flight over simulated time, as SVG.

use std::fmt::Write;

use super::transfer::Sample;

const W: f64 = 720.0;
const H: f64 = 400.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

fn polyline(samples: &[Sample], value: impl Fn(&Sample) -> u32, t_max: f64, y_max: f64) -> String {
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let mut pts = String::new();
    for s in samples {
        let x = LEFT + s.time.as_secs_f64() / t_max * pw;
        let y = TOP + ph - f64::from(value(s)) / y_max * ph;
        let _ = write!(pts, "{x:.1},{y:.1} ");
    }
    pts.trim_end().to_string()
}

/// A standalone SVG figure of `samples` (cwnd and in-flight bytes, in KB, against seconds).
pub fn render(samples: &[Sample], title: &str) -> String {
    let t_max = samples
        .last()
        .map_or(1.0, |s| s.time.as_secs_f64())
        .max(1e-6);
    let y_peak = samples
        .iter()
        .map(|s| s.cwnd.max(s.in_flight))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let y_max = y_peak * 1.1;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        W / 2.0,
        escape(title)
    );
    // Axes.
    let (x0, y0) = (LEFT, TOP + ph);
    let _ = writeln!(
        svg,
        r#"<path d="M{x0},{TOP} V{y0} H{}" fill="none" stroke="black"/>"#,
        LEFT + pw
    );
    for i in 0..=5 {
        let f = f64::from(i) / 5.0;
        let x = LEFT + f * pw;
        let y = y0 - f * ph;
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{:.3}</text>"#,
            y0 + 5.0,
            y0 + 18.0,
            f * t_max
        );
        let _ = writeln!(
            svg,
            r#"<line x1="{}" y1="{y:.1}" x2="{x0}" y2="{y:.1}" stroke="black"/><text x="{}" y="{:.1}" text-anchor="end">{:.0}</text>"#,
            x0 - 5.0,
            x0 - 8.0,
            y + 4.0,
            f * y_max / 1000.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">simulated time (s)</text>"#,
        LEFT + pw / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">kilobytes</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    // Series.
    let series = [
        (
            "cwnd",
            "#1f77b4",
            polyline(samples, |s| s.cwnd, t_max, y_max),
        ),
        (
            "bytes in flight (SND.MAX − SND.UNA, from the trace)",
            "#d62728",
            polyline(samples, |s| s.in_flight, t_max, y_max),
        ),
    ];
    for (i, (label, colour, pts)) in series.iter().enumerate() {
        let _ = writeln!(
            svg,
            r#"<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.5"/>"#
        );
        let ly = TOP + 12.0 + 16.0 * i as f64;
        let lx = LEFT + 12.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(label)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
