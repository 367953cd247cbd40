//! Multiple testing: a run that reports several trend tests (segments,
//! benchmark sets, estimators, scales) adjusts their p-values by Holm's
//! step-down method (Holm 1979), which controls the family-wise error rate
//! under any dependence between the tests — these share most of their models,
//! so independence cannot be assumed.
//!
//! With the raw p-values sorted, `p₍₁₎ ≤ … ≤ p₍ₘ₎`, the adjusted value is
//! `p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1)·p₍ⱼ₎)`.

use serde::Serialize;

/// One reported test with its raw and Holm-adjusted p-value.
#[derive(Debug, Clone, Serialize)]
pub struct TestRow {
    /// What was tested, e.g. `trend, censored-quantile τ=0.9`.
    pub test: String,
    pub p_raw: f64,
    /// Monte Carlo standard error of `p_raw`, where it comes from resampling.
    pub p_mc_se: Option<f64>,
    pub p_holm: f64,
}

/// Holm-adjusted p-values, in the order given.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut adjusted = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

/// Rows for `(name, p, MC SE)` triples, adjusted together.
pub fn test_rows(tests: Vec<(String, f64, Option<f64>)>) -> Vec<TestRow> {
    let adjusted = holm(&tests.iter().map(|t| t.1).collect::<Vec<_>>());
    tests
        .into_iter()
        .zip(adjusted)
        .map(|((test, p_raw, p_mc_se), p_holm)| TestRow {
            test,
            p_raw,
            p_mc_se,
            p_holm,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::holm;

    #[test]
    fn holm_matches_a_worked_example() {
        // m = 4: sorted 0.01, 0.02, 0.03, 0.5 → 0.04, 0.06, 0.06 (monotone), 0.5.
        let got = holm(&[0.03, 0.5, 0.01, 0.02]);
        let want = [0.06, 0.5, 0.04, 0.06];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(holm(&[0.6, 0.7]), vec![1.0, 1.0]);
    }
}
