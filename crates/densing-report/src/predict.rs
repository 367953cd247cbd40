//! The two-step prediction report (`densing predict --out DIR`): one figure per
//! task in the layout of the ladder paper's Figure 1 (step 1, step 2, chain) and
//! a page with the predictions, the fits and, for a backtest, the errors.
//!
//! Like [`ReportInput`](crate::ReportInput) this is plain data: whoever ran the
//! fits samples the curves into point lists. Parameters, tokens and compute are
//! raw counts; scores are fractions in [0, 1].

use crate::figures::{self, Figure, FigureKind};
use crate::html::{escape, figure_section, page_head};
use crate::{Format, Result};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Everything a prediction report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictInput {
    /// Where the ladder came from, e.g. "OLMo-2 ladder (bundled), 20 of 25 runs".
    pub ladder: String,
    pub generated_by: String,
    /// Unit of the task loss, e.g. "bits per byte".
    pub loss_unit: String,
    pub tasks: Vec<PredictTask>,
    #[serde(default)]
    pub methods: Vec<String>,
}

/// One task: the fitted points, both steps' curves and the targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictTask {
    pub task: String,
    /// The fitted laws in words, e.g. "L = 0.52 + 310·N^-0.31 + ...".
    pub law: String,
    pub map: String,
    /// Step-1 fit error: mean |L̂/L − 1| over the fitted runs.
    pub step1_error: f64,
    /// Step-2 residual spread: RMS of S − Ŝ.
    pub step2_rmse: f64,
    /// Each run's final point (fitted or not).
    pub runs: Vec<RunPoint>,
    /// The fitted loss law along each N: `(compute 6ND, loss)` samples.
    pub loss_curves: Vec<SizeCurve>,
    /// The chained prediction along each N: `(compute 6ND, score)` samples.
    pub score_curves: Vec<SizeCurve>,
    /// Step 2's `(loss, score)` points (smoothed evaluations).
    pub step2_points: Vec<[f64; 2]>,
    /// The fitted sigmoid as `(loss, score)` samples.
    pub sigmoid: Vec<[f64; 2]>,
    pub targets: Vec<TargetRow>,
}

/// One run's final point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPoint {
    pub run: String,
    pub params: f64,
    pub tokens: f64,
    pub loss: f64,
    pub score: f64,
    /// In the fit (false: held out or excluded).
    pub fitted: bool,
}

/// A fitted curve at one N.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeCurve {
    pub params: f64,
    pub points: Vec<[f64; 2]>,
}

/// One predicted model, with the truth when it is known (a backtest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRow {
    pub name: String,
    pub params: f64,
    pub tokens: f64,
    pub loss: f64,
    pub loss_ci95: [f64; 2],
    pub score: f64,
    pub score_ci95: [f64; 2],
    #[serde(default)]
    pub true_loss: Option<f64>,
    #[serde(default)]
    pub true_score: Option<f64>,
}

impl PredictInput {
    fn figures(&self) -> Vec<Figure> {
        self.tasks
            .iter()
            .enumerate()
            .map(|(i, t)| Figure {
                kind: FigureKind::Predict(i),
                file_stem: format!("predict_{}", figures::slug(&t.task)),
                title: format!("Two-step prediction: {}", t.task),
                caption: format!(
                    "Left: step 1, each run's final {} against compute 6·N·D, one colour per N, \
                     with the fitted loss law along each N. Middle: step 2, score against loss \
                     (smoothed evaluations) with the fitted sigmoid. Right: the chain, score \
                     against compute. Black diamonds are the predictions with 95% bootstrap \
                     intervals; open circles are runs not in the fit; red crosses are the true final \
                     values of held-out runs (a backtest).",
                    self.loss_unit
                ),
            })
            .collect()
    }

    fn backtest(&self) -> Vec<(&str, &TargetRow)> {
        self.tasks
            .iter()
            .flat_map(|t| t.targets.iter().map(move |r| (t.task.as_str(), r)))
            .filter(|(_, r)| r.true_loss.is_some() && r.true_score.is_some())
            .collect()
    }
}

/// Writes the figures (per `format`) and `report.html` into `out_dir`; returns
/// the paths written, page last.
pub fn write_predict_report(
    input: &PredictInput,
    out_dir: &Path,
    format: Format,
) -> Result<Vec<PathBuf>> {
    crate::write_pages(input, input.figures(), out_dir, format, |inline| {
        render_page(input, inline)
    })
}

/// The page alone, figures inlined.
pub fn render_predict_html(input: &PredictInput) -> Result<String> {
    let inline = input
        .figures()
        .into_iter()
        .map(|fig| figures::render_svg(&fig, input).map(|svg| (fig, svg)))
        .collect::<Result<Vec<_>>>()?;
    Ok(render_page(input, &inline))
}

/// One figure alone (`None` when the task index is out of range).
pub fn render_predict_svg(input: &PredictInput, task: usize) -> Result<Option<String>> {
    input
        .figures()
        .into_iter()
        .nth(task)
        .map(|fig| figures::render_svg(&fig, input))
        .transpose()
}

fn sig(v: f64) -> String {
    figures::fmt_sig(v)
}

fn ci(c: [f64; 2]) -> String {
    format!("[{}, {}]", sig(c[0]), sig(c[1]))
}

fn num(h: &mut String, sort: f64, text: &str) {
    let _ = write!(
        h,
        "<td class=\"num\" data-sort=\"{sort:e}\">{}</td>",
        escape(text)
    );
}

fn render_page(input: &PredictInput, figures: &[(Figure, String)]) -> String {
    let mut h = page_head("Two-step prediction report", "predict", figures);
    let _ = write!(
        h,
        "<h1>Two-step prediction report</h1>\n<p class=\"sub\">Ladder: {}. Generated by {}.</p>\n",
        escape(&input.ladder),
        escape(&input.generated_by)
    );

    let rows: Vec<(&str, &TargetRow)> = input
        .tasks
        .iter()
        .flat_map(|t| t.targets.iter().map(move |r| (t.task.as_str(), r)))
        .collect();
    let backtest = input.backtest();
    h.push_str("<section id=\"summary\"><h2>Summary</h2>\n<p>");
    let _ = write!(
        h,
        "{} predicted (target, task) pairs over {} task(s), each loss ({}) and score with a 95% \
         bootstrap interval.",
        rows.len(),
        input.tasks.len(),
        escape(&input.loss_unit)
    );
    if !backtest.is_empty() {
        let n = backtest.len() as f64;
        let mean_err = backtest
            .iter()
            .map(|(_, r)| (r.score - r.true_score.unwrap_or(f64::NAN)).abs())
            .sum::<f64>()
            / n;
        let covered = |v: f64, c: [f64; 2]| c[0] <= v && v <= c[1];
        let cov_l = backtest
            .iter()
            .filter(|(_, r)| covered(r.true_loss.unwrap_or(f64::NAN), r.loss_ci95))
            .count();
        let cov_s = backtest
            .iter()
            .filter(|(_, r)| covered(r.true_score.unwrap_or(f64::NAN), r.score_ci95))
            .count();
        let _ = write!(
            h,
            " Backtest on {} held-out (run, task) pairs: mean absolute score error {} points; 95% intervals \
             cover the true loss {cov_l}/{} times and the true score {cov_s}/{} times.",
            backtest.len(),
            sig(100.0 * mean_err),
            backtest.len(),
            backtest.len()
        );
    }
    h.push_str("</p></section>\n");

    h.push_str(
        "<h2 id=\"table\">Predictions</h2>\n<p class=\"sub\">Click a column heading to sort.</p>\n",
    );
    h.push_str(
        "<div class=\"tablewrap\"><table id=\"predictions\" class=\"sortable\">\n<thead><tr>",
    );
    let heads = [
        ("target", "text"),
        ("task", "text"),
        ("params", "num"),
        ("tokens", "num"),
        ("loss", "num"),
        ("loss 95% CI", ""),
        ("score", "num"),
        ("score 95% CI", ""),
        ("true loss", "num"),
        ("true score", "num"),
        ("|score error|", "num"),
    ];
    for (name, kind) in heads {
        if kind.is_empty() {
            let _ = write!(h, "<th>{}</th>", escape(name));
        } else {
            let key = name.split(' ').next().unwrap_or(name);
            let _ = write!(
                h,
                "<th data-key=\"{key}\" data-type=\"{kind}\"><button>{}</button></th>",
                escape(name)
            );
        }
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (task, r) in &rows {
        let _ = write!(
            h,
            "<tr><td data-sort=\"{0}\">{0}</td><td data-sort=\"{1}\">{1}</td>",
            escape(&r.name),
            escape(task)
        );
        num(&mut h, r.params, &format!("{:.4e}", r.params));
        num(&mut h, r.tokens, &format!("{:.4e}", r.tokens));
        num(&mut h, r.loss, &format!("{:.4}", r.loss));
        let _ = write!(h, "<td class=\"ci\">{}</td>", ci(r.loss_ci95));
        num(&mut h, r.score, &format!("{:.4}", r.score));
        let _ = write!(h, "<td class=\"ci\">{}</td>", ci(r.score_ci95));
        for v in [
            r.true_loss,
            r.true_score,
            r.true_score.map(|t| (r.score - t).abs()),
        ] {
            match v {
                Some(v) => num(&mut h, v, &format!("{v:.4}")),
                None => h.push_str("<td class=\"num\" data-sort=\"\"></td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");

    h.push_str("<h2 id=\"fits\">Fits</h2>\n<div class=\"tablewrap\"><table id=\"fits-table\">\n<thead><tr><th>task</th><th>step 1: loss law</th><th>mean |L̂/L − 1|</th><th>step 2: score map</th><th>RMS of S − Ŝ</th></tr></thead>\n<tbody>\n");
    for t in &input.tasks {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            escape(&t.task),
            escape(&t.law),
            sig(t.step1_error),
            escape(&t.map),
            sig(t.step2_rmse)
        );
    }
    h.push_str("</tbody></table></div>\n");

    figure_section(&mut h, figures);
    h.push_str("<h2 id=\"methods\">Methods</h2>\n");
    for p in &input.methods {
        let _ = writeln!(h, "<p>{}</p>", escape(p));
    }
    h.push_str("</main>\n<script>");
    h.push_str(crate::html::SCRIPT);
    h.push_str("</script>\n</body>\n</html>\n");
    h
}
