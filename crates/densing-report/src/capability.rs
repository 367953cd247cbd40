//! The capability scale's figures as plain data: densities against release
//! date with the trend line under each eligible reference family, and the
//! benchmark map (difficulty against slope). Drawn by `figures::capability`,
//! written beside the report's figures by [`write_capability_figures`].

use serde::{Deserialize, Serialize};

/// One model on the capability scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapPoint {
    pub name: String,
    /// YYYY-MM-DD.
    pub release_date: String,
    pub rho: f64,
    pub rho_lo: f64,
    pub rho_hi: f64,
    pub in_trend: bool,
}

/// The trend `ln ρ = a·t + b` (t in days since `origin_date`) read through one
/// reference family; `main` for the family the points are read through.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RulerLine {
    pub family: String,
    pub a: f64,
    pub b: f64,
    pub origin_date: String,
    pub doubling_days: f64,
    pub main: bool,
}

/// One benchmark's fitted slope and difficulty.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchPoint {
    pub name: String,
    pub slope: f64,
    pub difficulty: f64,
    pub n_scores: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapabilityFigures {
    /// The ruler the points are read through, in words.
    pub reference: String,
    pub models: Vec<CapPoint>,
    pub lines: Vec<RulerLine>,
    pub benchmarks: Vec<BenchPoint>,
}

/// Write `capability_density.{svg,png}` and `benchmark_map.{svg,png}` into
/// `out_dir` (each atomically); returns the paths.
pub fn write_capability_figures(
    input: &CapabilityFigures,
    out_dir: &std::path::Path,
    format: crate::Format,
) -> crate::Result<Vec<std::path::PathBuf>> {
    let mut written = Vec::new();
    for fig in crate::figures::capability_figures(input) {
        if format.svg() {
            let path = out_dir.join(format!("{}.svg", fig.file_stem));
            let svg = crate::figures::render_svg(&fig, input)?;
            crate::write_atomically(&path, svg.as_bytes())?;
            written.push(path);
        }
        if format.png() {
            let path = out_dir.join(format!("{}.png", fig.file_stem));
            crate::figures::write_png(&fig, input, &path)?;
            written.push(path);
        }
    }
    Ok(written)
}
