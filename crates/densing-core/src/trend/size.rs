//! The permutation test's size as measured by `densing simulate` on the real
//! design, so a verdict can state it beside the p-value.
//!
//! The numbers live in `test_size.csv` beside this file, written by
//! `densing simulate --size-out` (one row per scale and estimator: the share
//! of trend-free synthetic registries in which the test rejected at 0.05, and
//! its binomial standard error), with `#` lines giving the command, commit and
//! date that produced them. They are data, not code: rerunning the simulation
//! and replacing the file updates every verdict. [`write_sizes`] and
//! [`read_sizes`] are the one format both sides use.

use super::simulate::SimRow;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// The bundled measurement (see the module doc).
const BUNDLED: &str = include_str!("test_size.csv");

/// One scale's and estimator's measured size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasuredSize {
    /// Density scale of the simulated design (`capability`, `five-benchmark`).
    pub scale: String,
    /// The estimator's label, e.g. `censored-quantile τ=0.9`.
    pub estimator: String,
    /// Trend-free synthetic registries simulated.
    pub registries: usize,
    /// Permutations per registry (before adaptive additions).
    pub permutations: usize,
    /// Share of them in which the test rejected "no trend" at p < 0.05.
    pub size: f64,
    /// Binomial standard error of `size`.
    pub size_se: f64,
}

/// Size rows from the slope-0 rows of a simulation on `scale`.
pub fn sizes_from(rows: &[SimRow], scale: &str, permutations: usize) -> Vec<MeasuredSize> {
    rows.iter()
        .filter(|r| r.true_slope == 0.0)
        .map(|r| MeasuredSize {
            scale: scale.to_string(),
            estimator: r.estimator.label(),
            registries: r.registries,
            permutations,
            size: r.rejection_rate,
            size_se: (r.rejection_rate * (1.0 - r.rejection_rate) / r.registries.max(1) as f64)
                .sqrt(),
        })
        .collect()
}

/// The CSV text of `sizes` under `#` provenance lines.
pub fn write_sizes(sizes: &[MeasuredSize], provenance: &[String]) -> Result<String> {
    let mut out = String::new();
    for line in provenance {
        out += &format!("# {line}\n");
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    for s in sizes {
        w.serialize(s)
            .map_err(|e| Error::Invalid(format!("size row: {e}")))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Invalid(format!("size table: {e}")))?;
    out += &String::from_utf8(bytes).expect("csv writes UTF-8");
    Ok(out)
}

/// Rows of a size table written by [`write_sizes`]; `name` names it in errors.
pub fn read_sizes(text: &str, name: &str) -> Result<Vec<MeasuredSize>> {
    let mut r = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    r.deserialize()
        .map(|row| {
            let s: MeasuredSize = row.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                Error::Invalid(format!("{name}:{line}: {e}"))
            })?;
            if !(0.0..=1.0).contains(&s.size) || s.registries == 0 {
                return Err(Error::Invalid(format!(
                    "{name}: size {} from {} registries is not a rate",
                    s.size, s.registries
                )));
            }
            Ok(s)
        })
        .collect()
}

/// The bundled size of the test of `estimator` (a label) on `scale`, if measured.
pub fn measured_size(scale: &str, estimator: &str) -> Option<MeasuredSize> {
    read_sizes(BUNDLED, "test_size.csv")
        .expect("the bundled size table is checked by its test")
        .into_iter()
        .find(|s| s.scale == scale && s.estimator == estimator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_table_reads_in_the_format_the_simulation_writes() {
        let bundled = read_sizes(BUNDLED, "test_size.csv").unwrap();
        assert!(!bundled.is_empty());
        // Written and read back through the same functions, unchanged.
        let text = write_sizes(&bundled, &["provenance".into()]).unwrap();
        assert_eq!(read_sizes(&text, "round trip").unwrap(), bundled);
        // The bundled file's header is the writer's.
        let header = |t: &str| t.lines().find(|l| !l.starts_with('#')).map(str::to_string);
        assert_eq!(header(BUNDLED), header(&text));
        assert!(
            BUNDLED.lines().any(|l| l.starts_with("# ")),
            "no provenance"
        );
        for s in &bundled {
            // 0 rejections give SE 0; otherwise the binomial SE of the share.
            let se = (s.size * (1.0 - s.size) / s.registries as f64).sqrt();
            assert!((s.size_se - se).abs() < 1e-12 && s.size_se < 0.05, "{s:?}");
        }
        assert!(measured_size("capability", "censored-quantile τ=0.9").is_some());
        assert!(measured_size("five-benchmark", "censored-quantile τ=0.9").is_some());
    }

    #[test]
    fn a_size_outside_zero_to_one_is_an_error_naming_the_table() {
        let bad = "scale,estimator,registries,permutations,size,size_se\nx,y,10,99,1.5,0.1\n";
        let e = read_sizes(bad, "bad.csv").unwrap_err().to_string();
        assert!(e.contains("bad.csv"), "{e}");
    }
}
