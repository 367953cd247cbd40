//! Calibrations: a monotone, invertible map N ↦ S per benchmark (at a fixed token
//! budget), with bootstrap replicates that carry its uncertainty downstream.
//!
//! Two ways to build one:
//! * **reference family** — a [`FamilyCurve`] fitted to one family's published
//!   scores (one recipe, several sizes); densities are relative to that family;
//! * **two-step** (the paper) — a loss law from a ladder and a score map from
//!   anchors, composed at D0: `S(N) = map(law(N, D0))`.

use crate::bootstrap::{bootstrap, replicate_rng, BootstrapConfig, REPLICATE_SOLVER};
use crate::data::{AnchorPoint, LadderPoint};
use crate::error::{Error, Result};
use crate::family::{FamilyCurve, FamilyProblem};
use crate::fit::{fit, FitReport, GridPolish};
use crate::law::{Inverse, LossForm, LossLaw, ScoreMap};
use crate::predict::{final_points, LossStep, ScoreStep, Settings};
use crate::registry::{Benchmark, ParamsBasis, Registry, Weights};
use rand::Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One benchmark's N ↦ S curve (N in billions).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Curve {
    Family(FamilyCurve),
    TwoStep {
        law: LossLaw,
        map: ScoreMap,
        /// Training tokens at which N̂ is read off.
        d0: f64,
    },
}

impl Curve {
    pub fn score(&self, n_billion: f64) -> f64 {
        match self {
            Curve::Family(c) => c.score(n_billion),
            Curve::TwoStep { law, map, d0 } => map.score(law.loss(n_billion * 1e9, *d0)),
        }
    }

    /// N̂ in billions. For the two-step map, a score above the map's range or a
    /// loss the law cannot reach at D0 are both [`Inverse::AboveRange`].
    pub fn invert(&self, score: f64) -> Inverse {
        match self {
            Curve::Family(c) => c.invert(score),
            Curve::TwoStep { law, map, d0 } => match map.invert_loss(score) {
                Inverse::Value(l) => match law.invert_params(l, *d0) {
                    Inverse::Value(n) => Inverse::Value(n / 1e9),
                    other => other,
                },
                other => other,
            },
        }
    }
}

/// The curve for one benchmark with its fit and bootstrap replicates.
#[derive(Debug, Clone, Serialize)]
pub struct BenchCurve {
    pub benchmark: Benchmark,
    pub curve: Curve,
    /// The fit report(s) behind the curve (family fit, or loss law + score map).
    pub fits: Vec<(String, FitReport)>,
    /// Reference points the curve was fitted on.
    pub points: Vec<RefPoint>,
    #[serde(skip)]
    pub replicates: Vec<Curve>,
    /// Warnings about this curve (one-branch data, dropped points).
    pub warnings: Vec<String>,
}

/// One reference observation: a family member (N known) or an anchor (loss known).
#[derive(Debug, Clone, Serialize)]
pub struct RefPoint {
    pub name: String,
    /// Parameters, billions (family members).
    pub n: Option<f64>,
    /// Conditional loss (anchors).
    pub loss: Option<f64>,
    pub score: f64,
}

/// Uncertainty settings shared by calibrations, densities and the trend.
#[derive(Debug, Clone, Copy)]
pub struct Uncertainty {
    pub replicates: usize,
    pub seed: u64,
}

impl Default for Uncertainty {
    fn default() -> Self {
        Uncertainty {
            replicates: 1000,
            seed: 20241205,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    /// Human-readable name used in every output, e.g.
    /// "reference family Qwen2.5 (base; 7 sizes, non-embedding params)".
    pub description: String,
    pub curves: BTreeMap<Benchmark, BenchCurve>,
    /// Range of reference N (billions) the curves were fitted on: censored
    /// densities are bounded by it, and N̂ far outside it is flagged.
    pub support: (f64, f64),
    pub replicates: usize,
    /// The ladder of a two-step calibration (empty for a reference family), kept
    /// for the loss-law figure.
    #[serde(skip)]
    pub ladder: Vec<LadderPoint>,
}

impl Calibration {
    /// Fit a reference-family calibration from the registry's base models of
    /// `family`, on the given parameter basis, for the paper's five benchmarks.
    pub fn family(
        reg: &Registry,
        family: &str,
        basis: ParamsBasis,
        unc: Uncertainty,
    ) -> Result<Calibration> {
        Calibration::family_on(reg, family, basis, &Benchmark::paper(), unc)
    }

    /// [`Calibration::family`] on any benchmarks the family reports (at least
    /// four sizes each); the others are named in the description.
    pub fn family_on(
        reg: &Registry,
        family: &str,
        basis: ParamsBasis,
        benchmarks: &[Benchmark],
        unc: Uncertainty,
    ) -> Result<Calibration> {
        let members: Vec<_> = reg
            .models
            .iter()
            .filter(|m| m.family.eq_ignore_ascii_case(family) && m.weights == Weights::Base)
            .collect();
        if members.is_empty() {
            return Err(Error::Invalid(format!(
                "unknown reference family `{family}` in {}; families with base models: {}",
                reg.name,
                reg.families().join(", ")
            )));
        }
        let mut curves = BTreeMap::new();
        let mut skipped = Vec::new();
        for &b in benchmarks {
            let pts: Vec<(String, f64, f64)> = members
                .iter()
                .filter_map(|m| m.score(b).map(|s| (m.name.clone(), m.params(basis), s)))
                .collect();
            // Three parameters need four points to leave a residual to bootstrap.
            if pts.len() < 4 {
                skipped.push(format!("{} ({} sizes)", b.key(), pts.len()));
                continue;
            }
            curves.insert(b, fit_family_curve(b, pts, unc)?);
        }
        if curves.is_empty() {
            return Err(Error::Invalid(format!(
                "reference family `{family}` has fewer than 4 sizes with scores on each of {}; it cannot calibrate",
                benchmarks.iter().map(|b| b.key()).collect::<Vec<_>>().join(", ")
            )));
        }
        let ns: Vec<f64> = members.iter().map(|m| m.params(basis)).collect();
        let mut description = format!(
            "reference family {} (base; {} sizes {:.2}B–{:.1}B, {} params)",
            members[0].family,
            members.len(),
            ns.iter().copied().fold(f64::INFINITY, f64::min),
            ns.iter().copied().fold(0.0, f64::max),
            basis_name(basis),
        );
        if !skipped.is_empty() {
            description.push_str(&format!("; not calibrated: {}", skipped.join(", ")));
        }
        Ok(Calibration {
            description,
            support: (
                ns.iter().copied().fold(f64::INFINITY, f64::min),
                ns.iter().copied().fold(0.0, f64::max),
            ),
            curves,
            replicates: unc.replicates,
            ladder: Vec::new(),
        })
    }

    /// The paper's two-step calibration. Anchors are grouped by their `task`
    /// column (a benchmark key); anchors without a task are assigned to
    /// `default_benchmark`. Held-out anchors are excluded from the fit.
    pub fn two_step(
        ladder: &[LadderPoint],
        anchors: &[AnchorPoint],
        form: LossForm,
        d0: f64,
        default_benchmark: Option<Benchmark>,
        unc: Uncertainty,
    ) -> Result<Calibration> {
        // A checkpoint ladder (with `step`) contributes each run's final point.
        let ladder = &final_points("ladder", ladder, Settings::default().window)?;
        if ladder
            .iter()
            .map(|p| &p.task)
            .collect::<BTreeSet<_>>()
            .len()
            > 1
        {
            return Err(Error::Invalid(
                "the ladder has several tasks; the loss law needs one (choose it with --ladder-task)"
                    .into(),
            ));
        }
        let LossStep {
            problem: loss_problem,
            fit: loss_fit,
        } = LossStep::fit(ladder, form, "ladder")?;
        let loss_boot =
            bootstrap(&loss_problem, &loss_fit.theta, &boot_cfg(unc), &|| {}).require_success()?;
        let law = loss_problem.law(&loss_fit.theta);
        let mut by_bench: BTreeMap<Benchmark, Vec<AnchorPoint>> = BTreeMap::new();
        for a in anchors.iter().filter(|a| !a.heldout) {
            let b = match &a.task {
                Some(t) => Benchmark::parse(t)
                    .map_err(|e| Error::field("anchors", a.line, "task", e.to_string()))?,
                None => default_benchmark.ok_or_else(|| {
                    Error::field(
                        "anchors",
                        a.line,
                        "task",
                        "is empty and no --benchmark was given",
                    )
                })?,
            };
            by_bench.entry(b).or_default().push(a.clone());
        }
        let mut curves = BTreeMap::new();
        for (b, pts) in by_bench {
            let ScoreStep {
                problem: sp,
                fit: sfit,
            } = ScoreStep::fit(&pts, &format!("anchors for {}", b.key()))?;
            let map = sp.map(&sfit.theta);
            let sboot = bootstrap(&sp, &sfit.theta, &boot_cfg(unc), &|| {}).require_success()?;
            let replicates = loss_boot
                .thetas
                .iter()
                .zip(&sboot.thetas)
                .map(|(lt, st)| Curve::TwoStep {
                    law: loss_problem.law(lt),
                    map: sp.map(st),
                    d0,
                })
                .collect();
            let mut warnings = Vec::new();
            if sp.one_branch(&map) {
                warnings.push(format!(
                    "{}: every anchor lies on one side of the sigmoid midpoint l = {:.3}; the other asymptote is extrapolated",
                    b.key(),
                    map.l
                ));
            }
            curves.insert(
                b,
                BenchCurve {
                    benchmark: b,
                    curve: Curve::TwoStep { law, map, d0 },
                    fits: vec![
                        ("loss law".into(), loss_fit.clone()),
                        (format!("score map {}", b.key()), sfit),
                    ],
                    points: pts
                        .iter()
                        .map(|a| RefPoint {
                            name: a.model.clone().unwrap_or_default(),
                            n: None,
                            loss: Some(a.loss),
                            score: a.score,
                        })
                        .collect(),
                    replicates,
                    warnings,
                },
            );
        }
        if curves.is_empty() {
            return Err(Error::Invalid("no anchors left to fit a score map".into()));
        }
        let ns: Vec<f64> = ladder.iter().map(|p| p.params / 1e9).collect();
        Ok(Calibration {
            description: format!(
                "two-step ({} loss law on {} ladder runs + score map on {} anchors, D0 = {:.3e} tokens)",
                match form {
                    LossForm::Paper => "paper-form",
                    LossForm::Chinchilla => "Chinchilla-form",
                },
                ladder.len(),
                anchors.iter().filter(|a| !a.heldout).count(),
                d0
            ),
            support: (
                ns.iter().copied().fold(f64::INFINITY, f64::min),
                ns.iter().copied().fold(0.0, f64::max),
            ),
            curves,
            replicates: loss_boot.thetas.len().min(unc.replicates),
            ladder: ladder.to_vec(),
        })
    }

    /// The curve of replicate `r` (`None` = point estimate) for a benchmark.
    pub fn curve(&self, b: Benchmark, r: Option<usize>) -> Option<&Curve> {
        let bc = self.curves.get(&b)?;
        match r {
            None => Some(&bc.curve),
            Some(r) => bc.replicates.get(r),
        }
    }

    pub fn benchmarks(&self) -> Vec<Benchmark> {
        self.curves.keys().copied().collect()
    }
}

pub fn basis_name(b: ParamsBasis) -> &'static str {
    match b {
        ParamsBasis::Total => "total",
        ParamsBasis::Nonemb => "non-embedding (total where unknown)",
        ParamsBasis::Active => "active (MoE) / non-embedding",
    }
}

fn boot_cfg(unc: Uncertainty) -> BootstrapConfig {
    BootstrapConfig {
        replicates: unc.replicates,
        seed: unc.seed,
        solver: REPLICATE_SOLVER,
    }
}

/// Fit one benchmark's family curve and its residual-bootstrap replicates.
///
/// With ~7 sizes and 3 parameters, case resampling would often leave too few
/// distinct sizes to fit, so the bootstrap resamples residuals instead (scaled
/// by √(n/(n−p)) to undo the fit's shrinkage) around the fitted curve, and
/// refits each replicate from the full-data optimum.
fn fit_family_curve(
    b: Benchmark,
    mut pts: Vec<(String, f64, f64)>,
    unc: Uncertainty,
) -> Result<BenchCurve> {
    pts.sort_by(|x, y| x.1.total_cmp(&y.1));
    let n: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let s: Vec<f64> = pts.iter().map(|p| p.2).collect();
    let problem = FamilyProblem::new(&n, &s, b.floor());
    let solver = GridPolish {
        resolution: 200,
        polish: 4,
        max_iters: 2000,
    };
    let report = fit(&problem, &solver)?;
    let fitted = problem.fitted(&report.theta);
    let scale = (n.len() as f64 / (n.len() - 3) as f64).sqrt();
    let resid: Vec<f64> = report.residuals.iter().map(|r| r * scale).collect();
    let replicates = (0..unc.replicates)
        .into_par_iter()
        .map(|i| {
            let mut rng = replicate_rng(unc.seed ^ (b.index() as u64 + 1), i);
            let s_star: Vec<f64> = fitted
                .iter()
                .map(|f| f - resid[rng.random_range(0..resid.len())])
                .collect();
            let p = FamilyProblem::new(&n, &s_star, b.floor());
            let w = vec![1.0; n.len()];
            // Warm-started next to the optimum, 3 parameters converge in a few
            // dozen L-BFGS steps; the cap keeps `densing run` interactive.
            let quick = GridPolish {
                max_iters: 60,
                ..solver
            };
            let (theta, _) = quick.polish_from(&p, &w, report.theta.clone());
            Curve::Family(p.curve(&theta))
        })
        .collect();
    Ok(BenchCurve {
        benchmark: b,
        curve: Curve::Family(problem.curve(&report.theta)),
        fits: vec![(format!("family curve {}", b.key()), report)],
        points: pts
            .into_iter()
            .map(|(name, n, score)| RefPoint {
                name,
                n: Some(n),
                loss: None,
                score,
            })
            .collect(),
        replicates,
        warnings: Vec::new(),
    })
}
