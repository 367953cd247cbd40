//! The paper's figures, drawn with plotters on any backend (SVG string or PNG file).
//! This module says which figures a report has and routes each to its drawing
//! module; the modules share the house style ([`style`]) and the chart skeleton
//! ([`skeleton`]: axes, date × log-density chart, legend strip).
//!
//! Every figure puts its legend in a strip below the plot rather than inside it, so
//! the legend can never hide a point or a label however the data fall.

use crate::dates::{month_label, month_ticks, parse_days};
use crate::font::{self, FAMILY};
use crate::input::{CensorKind, ModelRow, ReportInput, Trend};
use crate::label::{Placer, Rect};
use crate::{tmp_sibling, ReportError, Result};
use plotters::chart::MeshStyle;
use plotters::coord::combinators::{BindKeyPoints, WithKeyPoints};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Display;
use std::path::Path;

mod backtest;
mod calibration;
mod capability;
mod density;
mod parent_child;
mod predict;
mod residuals;
mod skeleton;
mod style;
mod sweep;

use backtest::*;
use calibration::*;
use density::*;
use parent_child::*;
use residuals::*;
use skeleton::*;
use style::*;
use sweep::*;

pub(crate) use density::{fmt_p, trend_summary};
pub(crate) use style::{fmt_days_ci, fmt_sig, slug};

use capability::capability_figures;

/// Which figure, for callers that want one alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FigureKind {
    /// Density against release date with the envelope trend (paper Fig. 1).
    Density,
    /// Loss against compute per N with the fitted loss law (Fig. 2a).
    LossLaw,
    /// Score against loss with the fitted sigmoid (Fig. 2b).
    ScoreMap,
    /// Trends before and after a split date (Fig. 4).
    SplitTrend,
    /// Densities of compressed models against their parents (Fig. 5).
    ParentChild,
    /// Residuals of the `i`-th entry of `ReportInput::residuals`.
    Residuals(usize),
    /// Doubling time under alternative choices.
    Sweep,
    /// The `i`-th task of a two-step prediction: step 1, step 2 and the chain.
    Predict(usize),
    /// Forecast error of each estimator in the rolling-origin backtest.
    Backtest,
    /// Capability-scale density vs date, one trend line per reference family.
    CapabilityDensity,
    /// Benchmarks' difficulty vs slope on the capability scale.
    BenchmarkMap,
}

/// One figure to draw: what it is, its file name and its words for the page.
pub(crate) struct Figure {
    pub kind: FigureKind,
    pub file_stem: String,
    pub title: String,
    pub caption: String,
}

/// The figures the input has data for, in page order.
pub(crate) fn figures_for(input: &ReportInput) -> Vec<Figure> {
    let mut out = vec![Figure {
        kind: FigureKind::Density,
        file_stem: "fig1_density".into(),
        title: "Capability density vs release date".into(),
        caption: format!(
            "Each point is a model's density ρ = N̂/N relative to the {}. Red points form the \
             envelope (highest density so far); the line is the fitted Densing-Law trend \
             ln ρ = A·t + B with its 95% band; open markers with arrows are censored models whose \
             density is only bounded.",
            input.reference
        ),
    }];
    out.extend(input.capability.iter().flat_map(capability_figures));
    if input.ladder.as_ref().is_some_and(|l| !l.points.is_empty()) {
        out.push(Figure {
            kind: FigureKind::LossLaw,
            file_stem: "fig2a_loss_law".into(),
            title: "Loss law on the reference ladder".into(),
            caption: "Conditional loss against training compute 6·N·D, one colour per model size \
                      N; lines are the fitted loss law."
                .into(),
        });
    }
    if input
        .score_map
        .as_ref()
        .is_some_and(|s| !s.points.is_empty())
    {
        out.push(Figure {
            kind: FigureKind::ScoreMap,
            file_stem: "fig2b_score_map".into(),
            title: "Score map".into(),
            caption: "Benchmark score against conditional loss with the fitted sigmoid; \
                      triangles are held-out models not used in the fit."
                .into(),
        });
    }
    if input.split.is_some() {
        out.push(Figure {
            kind: FigureKind::SplitTrend,
            file_stem: "fig4_split_trend".into(),
            title: "Trend before and after the split date".into(),
            caption: "The envelope trend fitted separately before and after the split date \
                      (dashed line)."
                .into(),
        });
    }
    if !parent_pairs(input).is_empty() {
        out.push(Figure {
            kind: FigureKind::ParentChild,
            file_stem: "fig5_parent_child".into(),
            title: "Compressed models vs their parents".into(),
            caption: "Density of each pruned or distilled model (circle) next to its parent \
                      (square)."
                .into(),
        });
    }
    for (i, r) in input.residuals.iter().enumerate() {
        out.push(Figure {
            kind: FigureKind::Residuals(i),
            file_stem: format!("residuals_{}_{}", i + 1, slug(&r.fit_name)),
            title: format!("Residuals: {}", r.fit_name),
            caption: format!(
                "Observed minus fitted for the {} fit; a good fit scatters evenly around zero.",
                r.fit_name
            ),
        });
    }
    if input.sweep.as_ref().is_some_and(|s| !s.is_empty()) {
        out.push(Figure {
            kind: FigureKind::Sweep,
            file_stem: "sweep_doubling".into(),
            title: "Sensitivity of the doubling time".into(),
            caption: "Doubling time with its 95% interval when the reference, benchmark subset \
                      or D0 changes."
                .into(),
        });
    }
    if !input.backtest.is_empty() {
        let horizon = input.backtest[0].horizon_days;
        out.push(Figure {
            kind: FigureKind::Backtest,
            file_stem: "backtest_forecast".into(),
            title: "Forecast skill: rolling-origin backtest".into(),
            caption: format!(
                "Each estimator's trend, fitted on the models released before a cutoff, forecasts \
                 the best density {horizon} days later; the y axis is the factor by which the \
                 forecast missed what was reached (1 = exact). The dashed line is the forecast \
                 \"no further growth\"."
            ),
        });
    }
    out
}

fn size_of(kind: FigureKind) -> (u32, u32) {
    match kind {
        FigureKind::Density | FigureKind::SplitTrend | FigureKind::CapabilityDensity => (1200, 760),
        FigureKind::Predict(_) => (1500, 560),
        _ => (900, 600),
    }
}

/// Anything that can draw its figures: the density report and the prediction
/// report share the SVG/PNG plumbing below and differ only in `draw`.
pub(crate) trait Drawing {
    fn draw<DB: DrawingBackend>(&self, fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

impl Drawing for ReportInput {
    fn draw<DB: DrawingBackend>(&self, fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<()> {
        draw(fig, self, root)
    }
}

/// Draws a figure into an SVG document string.
pub(crate) fn render_svg(fig: &Figure, input: &impl Drawing) -> Result<String> {
    font::ensure_registered()?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size_of(fig.kind)).into_drawing_area();
        input.draw(fig, &root)?;
        root.present().plot(fig)?;
    }
    Ok(svg)
}

/// Draws a figure into a PNG at `path`, through a temporary file and a rename.
pub(crate) fn write_png(fig: &Figure, input: &impl Drawing, path: &Path) -> Result<()> {
    font::ensure_registered()?;
    let tmp = tmp_sibling(path);
    {
        let root = BitMapBackend::new(&tmp, size_of(fig.kind)).into_drawing_area();
        input.draw(fig, &root)?;
        root.present().plot(fig)?;
    }
    std::fs::rename(&tmp, path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn draw<DB: DrawingBackend>(
    fig: &Figure,
    input: &ReportInput,
    root: &DrawingArea<DB, Shift>,
) -> Result<()> {
    root.fill(&WHITE).plot(fig)?;
    match fig.kind {
        FigureKind::Density => {
            let trends: Vec<TrendLine> = input
                .trend
                .iter()
                .map(|t| TrendLine {
                    trend: t,
                    color: TREND,
                    name: "trend".into(),
                    from: None,
                    to: None,
                })
                .collect();
            draw_density(fig, root, input, &trends, None, true)
        }
        FigureKind::SplitTrend => {
            let Some(split) = &input.split else {
                return Ok(());
            };
            let split_day = parse_days(&split.date).map(|d| d as f64);
            let trends = [
                TrendLine {
                    trend: &split.before,
                    color: BEFORE,
                    name: format!("before {}", split.date),
                    from: None,
                    to: split_day,
                },
                TrendLine {
                    trend: &split.after,
                    color: AFTER,
                    name: format!("after {}", split.date),
                    from: split_day,
                    to: None,
                },
            ];
            draw_density(fig, root, input, &trends, split_day, false)
        }
        FigureKind::LossLaw => draw_loss_law(fig, root, input),
        FigureKind::ScoreMap => draw_score_map(fig, root, input),
        FigureKind::ParentChild => draw_parent_child(fig, root, input),
        FigureKind::Residuals(i) => draw_residuals(fig, root, input, i),
        FigureKind::Sweep => draw_sweep(fig, root, input),
        FigureKind::CapabilityDensity | FigureKind::BenchmarkMap => match &input.capability {
            Some(c) => c.draw(fig, root),
            None => Ok(()),
        },
        // Drawn by the prediction report's own `Drawing`.
        FigureKind::Predict(_) => Ok(()),
        FigureKind::Backtest => draw_backtest(fig, root, input),
    }
}
