//! Place one new model against the registry: its N̂ and ρ with CI, its rank among
//! the registry's models, and its ratio to the trend line at its release date.
//! Scores come as `benchmark=percent` items or from an lm-evaluation-harness
//! results file.

use crate::spec::CalibrationSpec;
use chrono::NaiveDate;
use densing_core::density::{model_density, DensityOptions, ModelDensity};
use densing_core::registry::{today, Benchmark, Model, Registry, Score, Weights};
use densing_core::study::study;
use densing_core::trend::days_since_origin;
use densing_core::trend::TrendConfig;
use densing_core::validate::model_problems;
use densing_core::{Error, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A new model against the registry and the trend.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub reference: String,
    pub model: ModelDensity,
    /// 1 + the registry models denser than it (`None` when its ρ is censored).
    pub rank: Option<usize>,
    /// Registry models plus this one.
    pub of: usize,
    /// exp(A·t + B) of the registry's trend at the model's release.
    pub trend_rho_at_release: f64,
    /// ρ / trend ρ_max at release (`None` when ρ is censored).
    pub ratio_to_trend: Option<f64>,
    /// Given scores the options' benchmarks leave out.
    pub scores_not_in_benchmarks: Vec<String>,
}

/// A registry row for a user's model (family `user`, base weights), checked by
/// the registry's own rules ([`densing_core::validate`]); each problem names
/// the option it came from (`params`, `tokens`, `date`, `name`).
pub fn new_model(
    name: &str,
    size_b: f64,
    tokens_t: Option<f64>,
    release: NaiveDate,
    scores: BTreeMap<Benchmark, Score>,
) -> Result<Model> {
    if name.trim().is_empty() {
        return Err(Error::Invalid("name (--name) is empty".into()));
    }
    if !(size_b > 0.0 && size_b.is_finite()) {
        return Err(Error::Invalid(format!(
            "params (--params) must be a positive number of billions, got {size_b}"
        )));
    }
    let model = Model {
        name: name.to_string(),
        family: "user".into(),
        weights: Weights::Base,
        params_b: size_b,
        nonemb_b: None,
        active_b: None,
        tokens_t,
        release,
        scores,
        alternates: Vec::new(),
        parent: None,
        in_densing_fig1: false,
        source: "user input".into(),
        notes: String::new(),
        file: "command line".into(),
        line: 0,
    };
    if let Some(e) = model_problems(&model, today()).into_iter().next() {
        let option = |field: &str| match field {
            "params_billion" => "params (--params)",
            "training_tokens_trillion" => "tokens (--tokens)",
            "release_date" => "date (--date)",
            _ => "input",
        };
        return Err(match e {
            Error::Field { field, msg, .. } => Error::Invalid(format!("{}: {msg}", option(&field))),
            other => other,
        });
    }
    Ok(model)
}

/// `benchmark=percent` items as scores; `shots`/`protocol` default to the
/// benchmark catalog's.
pub fn parse_scores(
    items: &[String],
    shots: Option<u32>,
    protocol: Option<&str>,
    source: &str,
) -> Result<BTreeMap<Benchmark, Score>> {
    let mut out = BTreeMap::new();
    for item in items {
        let (k, v) = item.split_once('=').ok_or_else(|| {
            Error::Invalid(format!("--scores: `{item}` is not benchmark=percent"))
        })?;
        let b = Benchmark::parse(k)?;
        let v: f64 = v
            .trim()
            .parse()
            .map_err(|_| Error::Invalid(format!("--scores: `{v}` for {k} is not a number")))?;
        if !(0.0..=100.0).contains(&v) || !v.is_finite() {
            return Err(Error::Invalid(format!(
                "--scores: {k}={v} is outside 0–100 (percent)"
            )));
        }
        let score = Score {
            value: v / 100.0,
            shots: shots.or(b.def().shots),
            protocol: protocol
                .map(str::to_string)
                .or_else(|| b.def().protocol.clone()),
            source: Some(source.to_string()),
            origin: "--scores".into(),
        };
        if out.insert(b, score).is_some() {
            return Err(Error::Invalid(format!("--scores: {k} given twice")));
        }
    }
    Ok(out)
}

/// Which lm-evaluation-harness task and metric feed each benchmark, in order of
/// preference.
const LM_EVAL_MAP: [(&str, &[&str], &[&str]); 5] = [
    ("mmlu", &["mmlu"], &["acc,none", "acc"]),
    (
        "bbh",
        &["bbh_cot_fewshot", "bbh"],
        &[
            "exact_match,get-answer",
            "exact_match,flexible-extract",
            "exact_match,none",
            "exact_match",
        ],
    ),
    (
        "math",
        &["minerva_math", "hendrycks_math"],
        &["exact_match,none", "math_verify,none", "exact_match"],
    ),
    (
        "humaneval",
        &["humaneval"],
        &["pass@1,create_test", "pass@1,none", "pass@1"],
    ),
    (
        "mbpp",
        &["mbpp"],
        &["pass_at_1,none", "pass@1,none", "pass_at_1", "pass@1"],
    ),
];

/// Read the five benchmarks from an lm-evaluation-harness `results` file; returns
/// the scores (with the n-shot the file records) and one line per benchmark
/// saying what was read (or not found).
pub fn read_lm_eval(path: &Path) -> Result<(BTreeMap<Benchmark, Score>, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    parse_lm_eval(path, &text)
}

/// [`read_lm_eval`] on text already read; `path` names it in messages (the
/// fuzz target `lm_eval` feeds it arbitrary bytes).
pub fn parse_lm_eval(path: &Path, text: &str) -> Result<(BTreeMap<Benchmark, Score>, Vec<String>)> {
    let doc: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| Error::file(path, format!("not valid JSON: {e}")))?;
    let results = doc
        .get("results")
        .and_then(|r| r.as_object())
        .ok_or_else(|| {
            Error::file(
                path,
                "no `results` object (is this an lm-evaluation-harness results file?)",
            )
        })?;
    let mut scores = BTreeMap::new();
    let mut notes = Vec::new();
    for (key, tasks, metrics) in LM_EVAL_MAP {
        let bench = Benchmark::parse(key)?;
        let found = tasks.iter().find_map(|t| {
            let entry = results.get(*t)?.as_object()?;
            metrics
                .iter()
                .find_map(|m| Some((*t, *m, entry.get(*m)?.as_f64()?)))
        });
        match found {
            Some((task, metric, v)) => {
                if !(0.0..=1.0).contains(&v) {
                    return Err(Error::file(
                        path,
                        format!("results.{task}.\"{metric}\" = {v} is outside [0, 1]"),
                    ));
                }
                let shots = doc
                    .pointer(&format!("/n-shot/{task}"))
                    .and_then(|n| n.as_u64())
                    .map(|n| n as u32);
                let shots_text =
                    shots.map_or("n-shot not recorded".into(), |n| format!("{n}-shot"));
                notes.push(format!(
                    "{key}: results.{task} metric \"{metric}\" = {v} ({shots_text})"
                ));
                scores.insert(
                    bench,
                    Score {
                        value: v,
                        shots,
                        protocol: Some(format!(
                            "lm-evaluation-harness {task} \"{metric}\", {shots_text}"
                        )),
                        source: Some(format!("lm-evaluation-harness results {}", path.display())),
                        origin: path.display().to_string(),
                    },
                );
            }
            None => notes.push(format!(
                "{key}: not found (looked for tasks {})",
                tasks.join(", ")
            )),
        }
    }
    if scores.is_empty() {
        return Err(Error::file(
            path,
            "none of the five benchmarks found in `results`",
        ));
    }
    Ok((scores, notes))
}

/// Density of `model` against the calibration `spec` builds, ranked among the
/// registry's models and compared with the registry's trend at its release.
pub fn place(
    reg: &Registry,
    spec: &CalibrationSpec,
    opts: &DensityOptions,
    trend: &TrendConfig,
    model: &Model,
) -> Result<Placement> {
    crate::limits::check_run(
        reg.models.len() + 1,
        opts.benchmarks.len(),
        trend.replicates.max(spec.uncertainty.replicates),
        trend.permutations,
    )?;
    if reg.get(&model.name).is_some() {
        return Err(Error::Invalid(format!(
            "model `{}` is already in {}; choose another --name",
            model.name, reg.name
        )));
    }
    let cal = spec.build(reg, opts)?;
    let d = model_density(model, &cal, opts);
    let s = study(reg, &cal, opts, trend, &|| {})?;
    let t = days_since_origin(model.release);
    let trend_rho = (s.trend.a * t + s.trend.b).exp();
    let better = s
        .densities
        .iter()
        .filter(|o| match (o.rho.bound_or_value(), d.rho.value()) {
            (Some(o), Some(me)) => o > me,
            _ => false,
        })
        .count();
    Ok(Placement {
        reference: cal.description.clone(),
        rank: d.rho.value().map(|_| better + 1),
        of: s.densities.len() + 1,
        trend_rho_at_release: trend_rho,
        ratio_to_trend: d.rho.value().map(|r| r / trend_rho),
        scores_not_in_benchmarks: model
            .scores
            .keys()
            .filter(|b| !opts.benchmarks.contains(b))
            .map(|b| b.key().to_string())
            .collect(),
        model: d,
    })
}
