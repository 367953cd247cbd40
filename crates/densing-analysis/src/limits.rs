//! Bounds on the work one request may ask for, checked before any of it starts,
//! so a huge count is a clear error rather than a capacity-overflow panic, an
//! allocation abort or a run that never ends. The CLI's flags carry the same
//! maxima (`--help` states them); the Python module reaches them through
//! [`crate::run`], [`crate::place`] and [`crate::fit`].

use densing_core::{Error, Result};

/// Bootstrap replicates: 100,000 resolves a 95% interval's ends to about
/// 0.1 percentage point of coverage; more only costs time and memory.
pub const MAX_BOOTSTRAP: usize = 100_000;
/// Permutations of the trend test: 100,000 resolves p down to 1e-5.
pub const MAX_PERMUTATIONS: usize = 100_000;
/// Synthetic registries per slope in `densing simulate`.
pub const MAX_REGISTRIES: usize = 100_000;
/// Requests in flight (`densing eval --concurrency`) and items per backend call
/// (`--batch`).
pub const MAX_CONCURRENCY: usize = 1_024;
/// Bytes one (model, bootstrap replicate) pair holds through a run: its ln ρ
/// draw (16 bytes) copied into the study, the trend points and each of the
/// three estimators' inputs, with headroom.
const BYTES_PER_MODEL_DRAW: u64 = 96;
/// Bytes per (benchmark, replicate) calibration curve, with headroom.
const BYTES_PER_CURVE: u64 = 256;
/// Used when the machine's available memory cannot be read.
const FALLBACK_MEMORY: u64 = 8 << 30;

/// A count within `0..=max`, or an error naming the option.
pub fn check_count(option: &str, value: usize, max: usize) -> Result<()> {
    if value > max {
        return Err(Error::Invalid(format!(
            "{option} {value} exceeds the maximum {max}"
        )));
    }
    Ok(())
}

/// Memory the machine has available now (Linux `MemAvailable`), else 8 GiB.
fn available_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(FALLBACK_MEMORY, |kb| kb * 1024)
}

/// Refuse a run whose bootstrap would hold more than half the available memory:
/// `models × replicates` density draws plus `benchmarks × replicates` curves.
pub fn preflight(models: usize, benchmarks: usize, replicates: usize) -> Result<()> {
    let need = (models as u64)
        .saturating_mul(replicates as u64)
        .saturating_mul(BYTES_PER_MODEL_DRAW)
        .saturating_add(
            (benchmarks as u64)
                .saturating_mul(replicates as u64)
                .saturating_mul(BYTES_PER_CURVE),
        );
    let have = available_memory();
    if need > have / 2 {
        return Err(Error::Invalid(format!(
            "bootstrap {replicates} on {models} models and {benchmarks} benchmarks needs about {:.1} GB, more than half of the {:.1} GB available; lower bootstrap",
            need as f64 / 1e9,
            have as f64 / 1e9
        )));
    }
    Ok(())
}

/// The bootstrap and permutation counts of a trend run, and its memory.
pub fn check_run(
    models: usize,
    benchmarks: usize,
    replicates: usize,
    permutations: usize,
) -> Result<()> {
    check_count("bootstrap", replicates, MAX_BOOTSTRAP)?;
    check_count("permutations", permutations, MAX_PERMUTATIONS)?;
    preflight(models, benchmarks, replicates)
}
