//! Writing an SVG figure to the file `--svg` names.

use std::path::Path;

use anyhow::{Context, Result};

/// Write `svg` to `path`, naming the file in any error.
pub fn write(path: &Path, svg: &str) -> Result<()> {
    std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))
}
