//! Text metrics and PNG glyphs come from a TrueType file on the machine, read once
//! at run time and registered with plotters' pure-Rust `ab_glyph` renderer. This
//! avoids font-kit/fontconfig, which would need system development libraries.

use crate::ReportError;
use plotters::style::FontStyle;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The family name every figure asks for; SVG viewers substitute their own
/// sans-serif, PNGs use the registered file.
pub const FAMILY: &str = "sans-serif";

/// Environment variable naming a `.ttf` to use instead of the DejaVu search.
pub const FONT_ENV: &str = "DENSING_FONT";

const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
];

/// Registers the font on first use; later calls return the first call's outcome.
pub fn ensure_registered() -> Result<(), ReportError> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(register)
        .clone()
        .map_err(ReportError::Font)
}

fn register() -> Result<(), String> {
    let paths: Vec<PathBuf> = match std::env::var_os(FONT_ENV) {
        Some(p) => vec![PathBuf::from(p)],
        None => CANDIDATES.iter().map(PathBuf::from).collect(),
    };
    for path in &paths {
        if let Ok(bytes) = std::fs::read(path) {
            // plotters keeps `&'static` font data; the font lives as long as the
            // process anyway, so leaking one file once is the honest lifetime.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            return plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a usable TrueType font", path.display()));
        }
    }
    Err(format!(
        "none of {} could be read; install Debian's fonts-dejavu-core or set {FONT_ENV} to a .ttf file",
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
