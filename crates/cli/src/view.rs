//! How `oxtcp demo` and `oxtcp trace` draw their ladders: relative or absolute sequence
//! numbers (`--relative`, `--absolute`) and colour (`--color auto|always|never`, `NO_COLOR`).

use std::io::IsTerminal;

use oxtcp_lab::ladder::{ansi, LadderOptions};

/// When to colour the ladder.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// When stdout is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Always, even when piped or with `NO_COLOR` set.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour, given whether stdout is a terminal and the value of `NO_COLOR`.
    pub fn resolve(self, terminal: bool, no_color: Option<&str>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && !matches!(no_color, Some(v) if !v.is_empty()),
        }
    }
}

/// The ladder options shared by `oxtcp demo` and `oxtcp trace`.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ViewArgs {
    /// Sequence and acknowledgment numbers relative to each side's ISN, like Wireshark (the
    /// default; `?` where the ISN is unknown).
    #[arg(long, conflicts_with = "absolute")]
    relative: bool,
    /// The raw 32-bit sequence and acknowledgment numbers.
    #[arg(long)]
    absolute: bool,
    /// Colour the ladder: auto (when stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    color: ColorChoice,
}

impl ViewArgs {
    /// Relative numbers unless `--absolute`.
    pub fn relative(&self) -> bool {
        !self.absolute
    }

    /// Whether this run's stdout gets colour.
    pub fn colour(&self) -> bool {
        let no_color = std::env::var("NO_COLOR").ok();
        self.color
            .resolve(std::io::stdout().is_terminal(), no_color.as_deref())
    }

    /// The terminal ladder's options.
    pub fn ladder(&self) -> LadderOptions {
        LadderOptions {
            relative: self.relative(),
            colour: self.colour(),
        }
    }
}

/// A claim's mark: ✓ green or ✗ red with `colour`.
pub fn check_mark(ok: bool, colour: bool) -> String {
    if ok {
        ansi::paint("✓", ansi::OK, colour)
    } else {
        ansi::paint("✗", ansi::BAD, colour)
    }
}

#[cfg(test)]
mod tests {
    use super::ColorChoice::*;

    #[test]
    fn auto_colours_a_terminal_unless_no_color_is_set_and_not_empty() {
        assert!(Auto.resolve(true, None));
        assert!(Auto.resolve(true, Some("")));
        assert!(!Auto.resolve(true, Some("1")));
        assert!(!Auto.resolve(true, Some("0")));
        assert!(!Auto.resolve(false, None));
        assert!(Always.resolve(false, Some("1")));
        assert!(!Never.resolve(true, None));
    }
}
