//! The densities table: one row per registry model, censored values as a value
//! plus a `*_censor` column (`lower_bound`, `upper_bound`, `undetermined`), never
//! clamped. The CLI writes it as densities.csv; Python reads it into a DataFrame.

use densing_core::density::Bounded;
use densing_core::registry::Benchmark;
use densing_core::study::Study;
use densing_core::{Error, Result};
use std::collections::BTreeSet;

/// The densities of a study as CSV bytes.
pub fn densities_csv(s: &Study) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "model",
        "family",
        "release_date",
        "params_b",
        "n_hat_b",
        "n_hat_censor",
        "n_hat_lo",
        "n_hat_hi",
        "rho",
        "rho_censor",
        "rho_lo",
        "rho_hi",
        "rho_ci_cut_by_range",
        "draws_censored",
        "draws_undetermined",
        "rho_mean_score",
        "rho_mean_score_censor",
        "in_trend",
        "on_envelope",
        "in_densing_fig1",
        "parent",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    // One column per benchmark some model was estimated on, in catalog order.
    let benchmarks: BTreeSet<Benchmark> = s
        .densities
        .iter()
        .flat_map(|d| d.per_benchmark.iter().map(|e| e.benchmark))
        .collect();
    header.extend(benchmarks.iter().map(|b| format!("n_hat_{}", b.key())));
    header.push("flags".into());
    header.push("reference".into());
    w.write_record(&header).map_err(csv_error)?;
    let cell = |b: Bounded| -> (String, String) {
        match b {
            Bounded::Value(v) => (v.to_string(), String::new()),
            Bounded::AtLeast(v) => (v.to_string(), "lower_bound".into()),
            Bounded::AtMost(v) => (v.to_string(), "upper_bound".into()),
            Bounded::Undetermined => (String::new(), "undetermined".into()),
        }
    };
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for d in &s.densities {
        let (n, nc) = cell(d.n_hat);
        let (r, rc) = cell(d.rho);
        let (rm, rmc) = cell(d.rho_mean_score);
        let mut rec = vec![
            d.name.clone(),
            d.family.clone(),
            d.release.to_string(),
            d.params_b.to_string(),
            n,
            nc,
            opt(d.n_hat_ci95.map(|c| c[0])),
            opt(d.n_hat_ci95.map(|c| c[1])),
            r,
            rc,
            opt(d.rho_ci95.map(|c| c[0])),
            opt(d.rho_ci95.map(|c| c[1])),
            d.ci_cut_by_range.to_string(),
            d.replicates_censored.to_string(),
            d.replicates_undetermined.to_string(),
            rm,
            rmc,
            d.in_trend.to_string(),
            s.trend.envelope.contains(&d.name).to_string(),
            d.in_densing_fig1.to_string(),
            d.parent.clone().unwrap_or_default(),
        ];
        for &b in &benchmarks {
            rec.push(d.per_benchmark.iter().find(|e| e.benchmark == b).map_or(
                String::new(),
                |e| {
                    let (v, c) = cell(e.n_hat);
                    if c.is_empty() {
                        v
                    } else {
                        format!("{c}:{v}")
                    }
                },
            ));
        }
        rec.push(d.flags.join("; "));
        rec.push(s.reference.clone());
        w.write_record(&rec).map_err(csv_error)?;
    }
    w.into_inner().map_err(csv_error)
}

/// Writing CSV into memory fails only on a bug in the writer; say where anyway.
fn csv_error(e: impl std::fmt::Display) -> Error {
    Error::file("densities.csv", e.to_string())
}
