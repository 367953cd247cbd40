//! Figures and the self-contained HTML report for densing results.
//!
//! The crate takes a [`ReportInput`] (plain data, filled by whoever ran the fits)
//! and draws the paper's figures with plotters, as SVG and/or PNG, plus one
//! `report.html` that inlines every figure as SVG so it opens anywhere with no
//! network. Every file is written to a temporary name and renamed into place, so a
//! reader never sees a half-written report.

mod capability;
mod dates;
mod figures;
mod font;
mod html;
mod input;
mod label;
mod predict;

pub use capability::*;
pub use figures::FigureKind;
pub use input::*;
pub use predict::*;

/// Significance level below which the report calls a trend distinguishable
/// from none (the same as the CLI's, `densing_core::trend::inference::ALPHA`).
pub const ALPHA: f64 = 0.05;

use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Which image files to write beside `report.html`. The page itself always inlines
/// SVG, whatever the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
    Both,
}

impl Format {
    fn svg(self) -> bool {
        matches!(self, Format::Svg | Format::Both)
    }
    fn png(self) -> bool {
        matches!(self, Format::Png | Format::Both)
    }
}

impl FromStr for Format {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "svg" => Ok(Format::Svg),
            "png" => Ok(Format::Png),
            "both" => Ok(Format::Both),
            other => Err(ReportError::Input(format!(
                "unknown format {other:?}: expected svg, png or both"
            ))),
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("drawing {figure}: {message}")]
    Plot { figure: String, message: String },
    #[error("no usable font for PNG text: {0}")]
    Font(String),
    #[error("report input: {0}")]
    Input(String),
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;

/// Writes the figures (per `format`) and `report.html` into `out_dir`, creating it
/// if needed, and returns the paths written, page last.
pub fn write_report(input: &ReportInput, out_dir: &Path, format: Format) -> Result<Vec<PathBuf>> {
    write_pages(
        input,
        figures::figures_for(input),
        out_dir,
        format,
        |inline| html::render_page(input, inline),
    )
}

/// The writer both reports share: each figure as SVG and/or PNG, then the page
/// (rendered from the inlined SVGs) as `report.html`; every file atomically.
fn write_pages(
    drawing: &impl figures::Drawing,
    figs: Vec<figures::Figure>,
    out_dir: &Path,
    format: Format,
    page: impl FnOnce(&[(figures::Figure, String)]) -> String,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    let mut inline = Vec::new();
    for fig in figs {
        let svg = figures::render_svg(&fig, drawing)?;
        if format.svg() {
            let path = out_dir.join(format!("{}.svg", fig.file_stem));
            write_atomically(&path, svg.as_bytes())?;
            written.push(path);
        }
        if format.png() {
            let path = out_dir.join(format!("{}.png", fig.file_stem));
            figures::write_png(&fig, drawing, &path)?;
            written.push(path);
        }
        inline.push((fig, svg));
    }
    let path = out_dir.join("report.html");
    write_atomically(&path, page(&inline).as_bytes())?;
    written.push(path);
    Ok(written)
}

/// Renders the whole page, figures inlined as SVG, to a string.
pub fn render_html(input: &ReportInput) -> Result<String> {
    let inline = figures::figures_for(input)
        .into_iter()
        .map(|fig| figures::render_svg(&fig, input).map(|svg| (fig, svg)))
        .collect::<Result<Vec<_>>>()?;
    Ok(html::render_page(input, &inline))
}

/// Renders one figure as an SVG document; `None` when the input has no data for it
/// (for example no ladder, or no parent/child pairs).
pub fn render_figure_svg(input: &ReportInput, kind: FigureKind) -> Result<Option<String>> {
    figures::figures_for(input)
        .into_iter()
        .find(|fig| fig.kind == kind)
        .map(|fig| figures::render_svg(&fig, input))
        .transpose()
}

/// Writes `bytes` to a sibling temporary file and renames it over `path`, so the
/// destination is either the old file or the complete new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_sibling(path);
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A temporary name in the same folder (so the rename stays on one file system)
/// that keeps the extension, since the PNG encoder picks its format from it.
fn tmp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    path.with_file_name(format!(".tmp-{}-{name}", std::process::id()))
}
