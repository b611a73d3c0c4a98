//! The terminal ladder's options: relative numbers by default (`?` where the ISN is unknown),
//! absolute on request, the header saying which; colour only when asked, with the same
//! columns as the plain ladder once the escape codes are removed.

use oxtcp_lab::ladder::{ansi, label_text, render, render_ladder_with, LadderOptions};
use oxtcp_lab::model::Ladder;
use oxtcp_lab::scenario::{self, Run};

fn run(name: &str) -> (Run, &'static scenario::Scenario) {
    let s = scenario::find(name).unwrap();
    let r = scenario::run((s.setup)(), 1, None).unwrap();
    (r, s)
}

fn ladder(name: &str) -> Ladder {
    let (r, s) = run(name);
    let (a, b) = s.sides(&r);
    Ladder::new(&a, &b, Some(&r.arrivals))
}

const PLAIN_REL: LadderOptions = LadderOptions {
    relative: true,
    colour: false,
};
const PLAIN_ABS: LadderOptions = LadderOptions {
    relative: false,
    colour: false,
};

#[test]
fn default_is_relative_and_plain() {
    assert_eq!(LadderOptions::default(), PLAIN_REL);
    let (r, s) = run("lost-final-ack");
    let (a, b) = s.sides(&r);
    let text = render(&a, &b, Some(&r.arrivals));
    assert_eq!(
        text,
        render_ladder_with(&ladder("lost-final-ack"), &PLAIN_REL)
    );
    assert!(!text.contains('\x1b'));
}

#[test]
fn relative_and_absolute_numbers_and_the_header_says_which() {
    let l = ladder("lost-final-ack");
    // Each side's ISN: the seq of the first SYN it sent.
    let isn = |side: usize| {
        let syn = l
            .segments
            .iter()
            .find(|s| s.from == side && s.label.flags.starts_with("SYN"));
        syn.unwrap().label.seq
    };
    let [isn_a, isn_b] = [isn(0), isn(1)];
    let rel = render_ladder_with(&l, &PLAIN_REL);
    let abs = render_ladder_with(&l, &PLAIN_ABS);

    let header = |t: &str| t.lines().next().unwrap().to_string();
    assert!(header(&rel).contains("seq/ack relative to each side's ISN"));
    assert!(!header(&rel).contains("absolute"));
    assert!(header(&abs).contains("absolute seq/ack"));
    assert!(!header(&abs).contains("relative"));

    // A's SYN, B's SYN-ACK.
    assert!(rel.contains(" SYN seq=0 win=65535"), "{rel}");
    assert!(rel.contains(" SYN|ACK seq=0 ack=1 win="), "{rel}");
    assert!(!rel.contains(&isn_a.to_string()) && !rel.contains(&isn_b.to_string()));
    assert!(
        abs.contains(&format!(" SYN seq={isn_a} win=65535")),
        "{abs}"
    );
    assert!(
        abs.contains(&format!(
            " SYN|ACK seq={isn_b} ack={} win=",
            isn_a.wrapping_add(1)
        )),
        "{abs}"
    );
    assert!(!abs.contains(" seq=0 "), "{abs}");
}

#[test]
fn unknown_isn_shows_a_question_mark_when_relative() {
    let l = ladder("three-segment-close");
    let mut label = l.segments[0].label.clone();
    label.seq_rel = None;
    label.ack = Some((77, None));
    assert!(label_text(&label, true).contains("seq=? ack=? "));
    assert!(label_text(&label, false).contains(&format!("seq={} ack=77 ", label.seq)));
}

#[test]
fn colour_marks_changes_losses_retransmissions_and_timers_without_moving_columns() {
    for name in ["lost-final-ack", "abort", "three-segment-close", "lost-syn"] {
        let l = ladder(name);
        for relative in [true, false] {
            let plain = render_ladder_with(
                &l,
                &LadderOptions {
                    relative,
                    colour: false,
                },
            );
            let coloured = render_ladder_with(
                &l,
                &LadderOptions {
                    relative,
                    colour: true,
                },
            );
            assert!(coloured.contains("\x1b["), "{name}");
            assert_eq!(ansi::strip(&coloured), plain, "{name}: colour moved text");
        }
    }
    let c = render_ladder_with(
        &ladder("lost-final-ack"),
        &LadderOptions {
            relative: true,
            colour: true,
        },
    );
    let line = |needle: &str| {
        c.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {c}"))
            .to_string()
    };
    // The lost ACK's arrow (ending ✗) and its "lost" note are red.
    let lost = line("✗");
    assert!(
        lost.contains("\x1b[31m─") && lost.contains("✗\x1b[0m"),
        "{lost}"
    );
    assert!(lost.contains("\x1b[31mlost\x1b[0m"), "{lost}");
    // The retransmitted FIN is yellow, the timers cyan, state changes bold green.
    assert!(line("rtx FIN").contains("\x1b[33m◀"));
    assert!(line("2×MSL").contains("\x1b[36m⏱"));
    assert!(
        c.contains("\x1b[1;32m→TIME-WAIT\x1b[0m    "),
        "padding after the colour"
    );
    assert!(line("(2MSL timeout)").contains("\x1b[1;32mTIME-WAIT → CLOSED"));

    let abort = render_ladder_with(
        &ladder("abort"),
        &LadderOptions {
            relative: true,
            colour: true,
        },
    );
    assert!(
        abort
            .lines()
            .any(|l| l.contains(" RST") && l.contains("\x1b[35m")),
        "{abort}"
    );
}

#[test]
fn strip_removes_only_escape_sequences() {
    assert_eq!(ansi::strip("a\x1b[1;32mb→c\x1b[0m d"), "ab→c d");
    assert_eq!(ansi::paint("x", ansi::BAD, false), "x");
    assert_eq!(ansi::paint("x", ansi::BAD, true), "\x1b[31mx\x1b[0m");
}
