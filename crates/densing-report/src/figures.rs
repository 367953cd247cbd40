//! The paper's figures, drawn with plotters on any backend (SVG string or PNG file).
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

mod capability;
mod predict;

pub(crate) use capability::capability_figures;

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
        // Drawn by the prediction report's and the capability figures' own `Drawing`.
        FigureKind::Predict(_) | FigureKind::CapabilityDensity | FigureKind::BenchmarkMap => Ok(()),
        FigureKind::Backtest => draw_backtest(fig, root, input),
    }
}

// ---------------------------------------------------------------------------
// Shared style and helpers

const ENVELOPE: RGBColor = RGBColor(200, 30, 45);
const OTHER: RGBColor = RGBColor(70, 110, 170);
const CENSORED: RGBColor = RGBColor(220, 125, 0);
const TREND: RGBColor = RGBColor(25, 25, 25);
const BEFORE: RGBColor = RGBColor(30, 110, 200);
const AFTER: RGBColor = RGBColor(200, 60, 30);
const GRID: RGBColor = RGBColor(232, 232, 232);

/// The mesh style every report figure shares: tick and axis-title fonts, no
/// light grid lines, a pale bold grid.
trait HouseStyle {
    fn house_style(&mut self) -> &mut Self;
}

impl<X: Ranged, Y: Ranged, DB: DrawingBackend> HouseStyle for MeshStyle<'_, '_, X, Y, DB> {
    fn house_style(&mut self) -> &mut Self {
        self.label_style((FAMILY, TICK_PX))
            .axis_desc_style((FAMILY, DESC_PX))
            .max_light_lines(0)
            .bold_line_style(GRID)
    }
}
const INK: RGBColor = RGBColor(40, 40, 40);
/// Models left out of the trend fit: present but visibly in the background.
const EXCLUDED: RGBColor = RGBColor(175, 175, 175);
const FAINT: RGBColor = RGBColor(150, 150, 150);
/// Tableau-10, distinguishable and print-safe, for per-N series.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

const TICK_PX: u32 = 15;
const DESC_PX: u32 = 16;
const TITLE_PX: u32 = 21;
const LABEL_PX: u32 = 13;
const LEGEND_PX: u32 = 14;

/// Turns any plotters error into a [`ReportError`] naming the figure.
trait PlotResult<T> {
    fn plot(self, fig: &Figure) -> Result<T>;
}

impl<T, E: Display> PlotResult<T> for std::result::Result<T, E> {
    fn plot(self, fig: &Figure) -> Result<T> {
        self.map_err(|e| ReportError::Plot {
            figure: fig.file_stem.clone(),
            message: e.to_string(),
        })
    }
}

fn text_style(px: u32, color: RGBColor) -> TextStyle<'static> {
    TextStyle {
        font: (FAMILY, px).into_font(),
        color: color.to_backend_color(),
        pos: Pos::default(),
    }
}

/// Up to three significant digits, no trailing zeros, scientific only when needed.
pub(crate) fn fmt_sig(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.2e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exp}");
    }
    let decimals = if a == 0.0 {
        0
    } else {
        (2 - a.log10().floor() as i32).max(0) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A raw count with an SI-style suffix (45M, 1.2B, 3T), as the paper writes sizes.
fn fmt_count(v: f64) -> String {
    let (scale, suffix) = if v >= 1e12 {
        (1e12, "T")
    } else if v >= 1e9 {
        (1e9, "B")
    } else if v >= 1e6 {
        (1e6, "M")
    } else if v >= 1e3 {
        (1e3, "K")
    } else {
        (1.0, "")
    };
    format!("{}{suffix}", fmt_sig(v / scale))
}

pub(crate) fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_end_matches('_');
    out.chars().take(40).collect()
}

/// `[lo, hi]` covering the values with a margin, for a linear axis.
fn linear_range(values: impl IntoIterator<Item = f64>, margin: f64) -> (f64, f64) {
    let (lo, hi) = finite_bounds(values).unwrap_or((0.0, 1.0));
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - span * margin, hi + span * margin)
}

/// `[lo, hi]` covering the positive values with a multiplicative margin, for a log axis.
fn log_range(values: impl IntoIterator<Item = f64>, factor: f64) -> (f64, f64) {
    let (lo, hi) = finite_bounds(values.into_iter().filter(|v| *v > 0.0)).unwrap_or((0.1, 10.0));
    let (lo, hi) = if hi / lo < 1.5 {
        (lo / 2.0, hi * 2.0)
    } else {
        (lo, hi)
    };
    (lo / factor, hi * factor)
}

/// A log axis with ticks at 1-2-5 style steps: plotters' own log ticks fall only on
/// powers of ten, which leaves a narrow range with one label or none.
fn log_axis(lo: f64, hi: f64) -> WithKeyPoints<LogCoord<f64>> {
    (lo..hi).log_scale().with_key_points(log_ticks(lo, hi))
}

/// Tick values in `[lo, hi]`: the sparsest mantissa set that gives at least four
/// ticks; whole decades, thinned to at most ten, when the range is wide.
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let sets: [&[f64]; 5] = [
        &[1.0],
        &[1.0, 3.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 2.0, 3.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ];
    if !(lo > 0.0 && hi > lo && lo.is_finite() && hi.is_finite()) {
        return vec![];
    }
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let ticks_for = |set: &[f64]| -> Vec<f64> {
        (e0..=e1)
            .flat_map(|e| set.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect()
    };
    let decades = ticks_for(sets[0]);
    if decades.len() > 10 {
        let step = decades.len().div_ceil(10);
        return decades.into_iter().step_by(step).collect();
    }
    let mut best = decades;
    for set in &sets[1..] {
        if best.len() >= 4 {
            break;
        }
        best = ticks_for(set);
    }
    best
}

/// A linear axis of day numbers whose ticks fall on the first days of months.
/// (plotters' `with_key_points` on an `f64` range loses the label formatter.)
struct DateAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl DateAxis {
    fn new(lo: f64, hi: f64) -> DateAxis {
        DateAxis {
            lo,
            hi,
            ticks: month_ticks(lo, hi),
        }
    }
}

impl Ranged for DateAxis {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let frac = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (frac * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Dates on x, a log axis on y (Fig. 1, Fig. 4, the backtest).
type DateLogChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<DateAxis, WithKeyPoints<LogCoord<f64>>>>;

/// A chart with dates on x and a log axis on y, titled, with the figures' mesh
/// style; `descs` are the (x, y) axis titles.
fn date_log_chart<'a, DB: DrawingBackend>(
    fig: &Figure,
    plot: &DrawingArea<DB, Shift>,
    (d0, d1): (f64, f64),
    (y0, y1): (f64, f64),
    descs: (&str, &str),
    y_label: &dyn Fn(&f64) -> String,
) -> Result<DateLogChart<'a, DB>> {
    let mut chart = ChartBuilder::on(plot)
        .caption(&fig.title, (FAMILY, TITLE_PX))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(DateAxis::new(d0, d1), log_axis(y0, y1))
        .plot(fig)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|d| month_label(*d))
        .y_label_formatter(y_label)
        .x_desc(descs.0)
        .y_desc(descs.1)
        .house_style()
        .draw()
        .plot(fig)?;
    Ok(chart)
}

fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// A legend entry's glyph.
#[derive(Clone, Copy)]
enum Mark {
    Dot(RGBColor, bool),
    Square(RGBColor),
    Triangle(RGBColor),
    Line(RGBColor),
    Dashed(RGBColor),
    Band(RGBColor),
    Censored(RGBColor),
    Whisker(RGBColor),
}

/// Lays the legend out in rows under the plot; returns each entry's top-left and
/// the strip's height, measured with the real font so nothing is clipped.
fn legend_layout<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(Mark, String)],
) -> (Vec<(i32, i32)>, u32) {
    let width = area.dim_in_pixel().0 as i32;
    let style = text_style(LEGEND_PX, INK);
    let (mut x, mut y) = (16, 6);
    let mut spots = Vec::new();
    for (_, text) in entries {
        let w = area
            .estimate_text_size(text, &style)
            .map(|(w, _)| w as i32)
            .unwrap_or(8 * text.len() as i32);
        let item = 30 + w + 22;
        if x > 16 && x + item > width - 8 {
            x = 16;
            y += 22;
        }
        spots.push((x, y));
        x += item;
    }
    let height = if entries.is_empty() { 0 } else { y + 28 };
    (spots, height as u32)
}

fn draw_legend<DB: DrawingBackend>(
    fig: &Figure,
    area: &DrawingArea<DB, Shift>,
    entries: &[(Mark, String)],
) -> Result<()> {
    let (spots, _) = legend_layout(area, entries);
    for ((mark, text), (x, y)) in entries.iter().zip(spots) {
        let c = (x + 11, y + 9);
        match *mark {
            Mark::Dot(color, filled) => {
                let style = if filled {
                    color.filled()
                } else {
                    color.stroke_width(2)
                };
                area.draw(&Circle::new(c, 5, style)).plot(fig)?;
            }
            Mark::Square(color) => area
                .draw(&Rectangle::new(
                    [(c.0 - 5, c.1 - 5), (c.0 + 5, c.1 + 5)],
                    color.filled(),
                ))
                .plot(fig)?,
            Mark::Triangle(color) => area
                .draw(&TriangleMarker::new(c, 7, color.filled()))
                .plot(fig)?,
            Mark::Line(color) => area
                .draw(&PathElement::new(
                    vec![(x, c.1), (x + 22, c.1)],
                    color.stroke_width(3),
                ))
                .plot(fig)?,
            Mark::Dashed(color) => {
                for k in 0..3 {
                    area.draw(&PathElement::new(
                        vec![(x + k * 8, c.1), (x + k * 8 + 5, c.1)],
                        color.stroke_width(2),
                    ))
                    .plot(fig)?;
                }
            }
            Mark::Band(color) => area
                .draw(&Rectangle::new(
                    [(x, c.1 - 6), (x + 22, c.1 + 6)],
                    color.mix(0.18).filled(),
                ))
                .plot(fig)?,
            Mark::Censored(color) => {
                area.draw(&Circle::new((c.0, c.1 + 4), 4, color.stroke_width(2)))
                    .plot(fig)?;
                area.draw(&PathElement::new(
                    vec![(c.0, c.1), (c.0, c.1 - 6)],
                    color.stroke_width(2),
                ))
                .plot(fig)?;
                area.draw(&Polygon::new(
                    vec![(c.0 - 4, c.1 - 5), (c.0 + 4, c.1 - 5), (c.0, c.1 - 10)],
                    color.filled(),
                ))
                .plot(fig)?;
            }
            Mark::Whisker(color) => area
                .draw(&PathElement::new(
                    vec![(c.0, c.1 - 8), (c.0, c.1 + 8)],
                    color.stroke_width(2),
                ))
                .plot(fig)?,
        }
        area.draw(&Text::new(
            text.clone(),
            (x + 30, y + 1),
            text_style(LEGEND_PX, INK),
        ))
        .plot(fig)?;
    }
    Ok(())
}

/// Splits the figure into the plot above and the legend strip below.
fn with_legend<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    entries: &[(Mark, String)],
) -> Result<DrawingArea<DB, Shift>> {
    let (_, h) = legend_layout(root, entries);
    let total = root.dim_in_pixel().1;
    let (plot, legend) = root.split_vertically(total.saturating_sub(h));
    draw_legend(fig, &legend, entries)?;
    Ok(plot)
}

/// Where a model goes on a density axis: ρ itself, or the bound when censored.
fn density_value(m: &ModelRow) -> Option<(f64, Option<CensorKind>)> {
    if let Some(c) = m.censor {
        return (c.bound.is_finite() && c.bound > 0.0).then_some((c.bound, Some(c.kind)));
    }
    m.rho
        .filter(|r| r.is_finite() && *r > 0.0)
        .map(|r| (r, None))
}

/// The trend's "A, doubling, p, R²" text for a legend.
pub(crate) fn trend_summary(t: &Trend) -> String {
    let ci = t
        .doubling_ci95
        .map(|[lo, hi]| format!(" (95% CI {}–{})", fmt_sig(lo), fmt_sig(hi)))
        .unwrap_or_default();
    let r2 =
        t.r2.map(|r| format!(", R² = {}", fmt_sig(r)))
            .unwrap_or_default();
    format!(
        "A = {}/day, doubling {} days{ci}, {}{r2}, n = {}",
        fmt_sig(t.a),
        fmt_sig(t.doubling_days),
        p_text(t),
        t.n_points
    )
}

/// `p = 0.003` or, when the test says the trend is indistinguishable from none,
/// `p = 0.31: not distinguishable from no trend`.
pub(crate) fn p_text(t: &Trend) -> String {
    match t.p_value {
        Some(p) if p >= crate::ALPHA => {
            format!("p = {}: not distinguishable from no trend", fmt_p(p))
        }
        Some(p) => format!("p = {}", fmt_p(p)),
        None => "no permutation test".into(),
    }
}

/// A p-value with three decimals below 0.1 (`0.004`, `0.046`), two above (`0.31`).
pub(crate) fn fmt_p(p: f64) -> String {
    if p < 0.1 {
        format!("{p:.3}")
    } else {
        format!("{p:.2}")
    }
}

// ---------------------------------------------------------------------------
// Fig. 1 and Fig. 4: density against release date

struct TrendLine<'a> {
    trend: &'a Trend,
    color: RGBColor,
    name: String,
    /// Days (since 1970) the line is drawn over; `None` ends at the plot's edge.
    /// A split trend only describes its own side of the split date.
    from: Option<f64>,
    to: Option<f64>,
}

impl TrendLine<'_> {
    fn origin(&self) -> f64 {
        parse_days(&self.trend.origin_date).unwrap_or(0) as f64
    }
    fn at(&self, day: f64) -> f64 {
        (self.trend.a * (day - self.origin()) + self.trend.b).exp()
    }
    /// The part of `[d0, d1]` this line covers.
    fn span(&self, d0: f64, d1: f64) -> (f64, f64) {
        (
            self.from.map_or(d0, |f| f.max(d0)),
            self.to.map_or(d1, |t| t.min(d1)),
        )
    }
    fn covers(&self, day: f64) -> bool {
        self.from.is_none_or(|f| day >= f) && self.to.is_none_or(|t| day <= t)
    }
    fn band(&self) -> Vec<(f64, f64, f64)> {
        let o = self.origin();
        self.trend
            .band
            .iter()
            .filter(|p| p.t_days.is_finite() && p.lo.is_finite() && p.hi.is_finite())
            .filter(|p| self.covers(p.t_days + o))
            .map(|p| (p.t_days + o, p.lo.exp(), p.hi.exp()))
            .collect()
    }
}

struct DatedPoint<'a> {
    model: &'a ModelRow,
    day: f64,
    value: f64,
    censor: Option<CensorKind>,
}

fn draw_density<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &ReportInput,
    trends: &[TrendLine],
    split_day: Option<f64>,
    label_all: bool,
) -> Result<()> {
    let points: Vec<DatedPoint> = input
        .models
        .iter()
        .filter_map(|m| {
            let day = parse_days(&m.release_date)? as f64;
            let (value, censor) = density_value(m)?;
            Some(DatedPoint {
                model: m,
                day,
                value,
                censor,
            })
        })
        .collect();
    let n_env = points
        .iter()
        .filter(|p| p.model.on_envelope && p.censor.is_none())
        .count();
    let n_cens = points.iter().filter(|p| p.censor.is_some()).count();
    // When the trend is fitted on more than the envelope, show which models it used.
    let distinguish = points
        .iter()
        .any(|p| p.model.in_trend && !p.model.on_envelope);
    let excluded = |p: &DatedPoint| {
        distinguish && p.censor.is_none() && !p.model.on_envelope && !p.model.in_trend
    };
    let n_excluded = points.iter().filter(|p| excluded(p)).count();
    let n_other = points.len() - n_env - n_cens - n_excluded;
    let has_ci = points.iter().any(|p| p.model.rho_ci95.is_some());

    let mut legend = Vec::new();
    if n_env > 0 {
        legend.push((
            Mark::Dot(ENVELOPE, true),
            format!("envelope: highest ρ so far ({n_env})"),
        ));
    }
    if n_other > 0 {
        let what = if distinguish {
            "in the trend fit"
        } else {
            "other models"
        };
        legend.push((Mark::Dot(OTHER, true), format!("{what} ({n_other})")));
    }
    if n_excluded > 0 {
        legend.push((
            Mark::Dot(EXCLUDED, true),
            format!("not in the trend fit ({n_excluded})"),
        ));
    }
    if n_cens > 0 {
        legend.push((
            Mark::Censored(CENSORED),
            format!("censored: ↑ ρ > bound, ↓ ρ < bound ({n_cens})"),
        ));
    }
    if has_ci {
        legend.push((Mark::Whisker(FAINT), "95% CI of ρ".into()));
    }
    for t in trends {
        legend.push((
            Mark::Line(t.color),
            format!("{}: {}", t.name, trend_summary(t.trend)),
        ));
        if !t.trend.band.is_empty() {
            legend.push((Mark::Band(t.color), format!("{}: 95% band", t.name)));
        }
    }
    if let Some(d) = split_day {
        legend.push((
            Mark::Dashed(FAINT),
            format!("split at {}", crate::dates::date_label(d as i64)),
        ));
    }
    legend.push((
        Mark::Dot(WHITE, false),
        format!(
            "ρ relative to {}; params: {}",
            input.reference, input.params_basis
        ),
    ));
    let plot = with_legend(fig, root, &legend)?;

    let bands: Vec<Vec<(f64, f64, f64)>> = trends.iter().map(|t| t.band()).collect();
    let days = points
        .iter()
        .map(|p| p.day)
        .chain(bands.iter().flatten().map(|b| b.0))
        .chain(split_day);
    let (d0, d1) = match finite_bounds(days) {
        Some((lo, hi)) => {
            let pad = ((hi - lo) * 0.04).max(45.0);
            (lo - pad, hi + pad)
        }
        None => {
            let o = parse_days("2023-02-24").unwrap_or(0) as f64;
            (o, o + 730.0)
        }
    };
    let values = points
        .iter()
        .map(|p| p.value)
        .chain(
            points
                .iter()
                .filter_map(|p| p.model.rho_ci95)
                .flat_map(|ci| ci.into_iter()),
        )
        .chain(trends.iter().flat_map(|t| {
            let (a, b) = t.span(d0, d1);
            [t.at(a), t.at(b)]
        }))
        .collect::<Vec<_>>();
    let (y0, y1) = log_range(values, 1.6);

    let mut chart = date_log_chart(
        fig,
        &plot,
        (d0, d1),
        (y0, y1),
        ("release date", "capability density ρ  (log scale)"),
        &|v| fmt_sig(*v),
    )?;

    for (t, band) in trends.iter().zip(&bands) {
        if band.len() >= 2 {
            // The axis follows the data, not the band: a wide band far from the data
            // would squash every point, so it is cut at the plot's edges instead.
            let clip = |v: f64| v.clamp(y0, y1);
            let mut poly: Vec<(f64, f64)> = band.iter().map(|b| (b.0, clip(b.2))).collect();
            poly.extend(band.iter().rev().map(|b| (b.0, clip(b.1))));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    t.color.mix(0.14).filled(),
                )))
                .plot(fig)?;
        }
    }
    for t in trends {
        let (a, b) = t.span(d0, d1);
        let line = (0..=80).map(|i| {
            let d = a + (b - a) * i as f64 / 80.0;
            (d, t.at(d))
        });
        chart
            .draw_series(LineSeries::new(line, t.color.stroke_width(2)))
            .plot(fig)?;
    }
    if let Some(d) = split_day {
        let steps = 24;
        let ratio = (y1 / y0).powf(1.0 / (2 * steps) as f64);
        let dashes = (0..steps).map(|k| {
            let a = y0 * ratio.powi(2 * k);
            PathElement::new(vec![(d, a), (d, a * ratio)], FAINT.stroke_width(2))
        });
        chart.draw_series(dashes).plot(fig)?;
    }
    chart
        .draw_series(points.iter().filter_map(|p| {
            let [lo, hi] = p.model.rho_ci95?;
            (lo > 0.0 && hi > 0.0)
                .then(|| PathElement::new(vec![(p.day, lo), (p.day, hi)], FAINT.stroke_width(1)))
        }))
        .plot(fig)?;

    // Markers: ordinary points first so the envelope is drawn on top.
    let marker_radius = if points.len() > 150 { 3 } else { 5 };
    chart
        .draw_series(
            points
                .iter()
                .filter(|p| excluded(p))
                .map(|p| Circle::new((p.day, p.value), marker_radius, EXCLUDED.filled())),
        )
        .plot(fig)?;
    chart
        .draw_series(
            points
                .iter()
                .filter(|p| p.censor.is_none() && !p.model.on_envelope && !excluded(p))
                .map(|p| Circle::new((p.day, p.value), marker_radius, OTHER.mix(0.85).filled())),
        )
        .plot(fig)?;
    chart
        .draw_series(points.iter().filter(|p| p.censor.is_some()).map(|p| {
            let dir = if p.censor == Some(CensorKind::Lower) {
                -1
            } else {
                1
            };
            let style = CENSORED.stroke_width(2);
            EmptyElement::at((p.day, p.value))
                + Circle::new((0, 0), 5, style)
                + PathElement::new(vec![(0, 5 * dir), (0, 22 * dir)], style)
                + Polygon::new(
                    vec![(-5, 17 * dir), (5, 17 * dir), (0, 24 * dir)],
                    CENSORED.filled(),
                )
        }))
        .plot(fig)?;
    chart
        .draw_series(
            points
                .iter()
                .filter(|p| p.censor.is_none() && p.model.on_envelope)
                .map(|p| {
                    EmptyElement::at((p.day, p.value))
                        + Circle::new((0, 0), marker_radius + 2, ENVELOPE.filled())
                        + Circle::new((0, 0), marker_radius + 2, BLACK.stroke_width(1))
                }),
        )
        .plot(fig)?;

    // Labels, most important first: envelope, censored, then by density.
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let mut placer = Placer::new(Rect {
        x0: xr.start,
        y0: yr.start,
        x1: xr.end,
        y1: yr.end,
    });
    let pix = |p: &DatedPoint| chart.backend_coord(&(p.day, p.value));
    for p in &points {
        let c = pix(p);
        placer.block(Rect::around(c, marker_radius + 2));
        if let Some(kind) = p.censor {
            let dir = if kind == CensorKind::Lower { -1 } else { 1 };
            placer.block(Rect {
                x0: c.0 - 6,
                x1: c.0 + 6,
                y0: c.1.min(c.1 + 24 * dir),
                y1: c.1.max(c.1 + 24 * dir),
            });
        }
    }
    let mut order: Vec<&DatedPoint> = points
        .iter()
        .filter(|p| label_all || p.model.on_envelope)
        .collect();
    order.sort_by(|a, b| {
        let rank = |p: &DatedPoint| (!p.model.on_envelope, p.censor.is_none());
        rank(a).cmp(&rank(b)).then(b.value.total_cmp(&a.value))
    });
    let labels: Vec<(String, (i32, i32), RGBColor)> = order
        .into_iter()
        .map(|p| {
            let color = if p.model.on_envelope {
                ENVELOPE
            } else if excluded(p) {
                FAINT
            } else {
                INK
            };
            (p.model.name.clone(), pix(p), color)
        })
        .collect();
    draw_labels(fig, &plot, &mut placer, labels)?;
    Ok(())
}

/// Places and draws point labels in the given order (most important first);
/// anchors are backend pixels. Labels set apart from their point get a leader line.
fn draw_labels<DB: DrawingBackend>(
    fig: &Figure,
    plot: &DrawingArea<DB, Shift>,
    placer: &mut Placer,
    labels: Vec<(String, (i32, i32), RGBColor)>,
) -> Result<()> {
    let base = plot.get_base_pixel();
    for (name, anchor, color) in labels {
        let style = text_style(LABEL_PX, color);
        let size = plot.estimate_text_size(&name, &style).plot(fig)?;
        let Some(spot) = placer.place(anchor, size) else {
            continue;
        };
        let (x, y) = (spot.top_left.0 - base.0, spot.top_left.1 - base.1);
        if spot.leader {
            let (ax, ay) = (anchor.0 - base.0, anchor.1 - base.1);
            let tx = ax.clamp(x, x + size.0 as i32);
            let ty = ay.clamp(y, y + size.1 as i32);
            plot.draw(&PathElement::new(
                vec![(ax, ay), (tx, ty)],
                FAINT.stroke_width(1),
            ))
            .plot(fig)?;
        }
        plot.draw(&Text::new(name, (x, y), style)).plot(fig)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Fig. 2a: loss law

fn draw_loss_law<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<()> {
    let Some(ladder) = &input.ladder else {
        return Ok(());
    };
    let sizes = SizeColors::new(ladder.points.iter().map(|p| p.params));
    let color_of = |n: f64| sizes.color(n);
    let mut legend = sizes.legend();
    if !ladder.curves.is_empty() {
        legend.push((Mark::Line(INK), "fitted loss law".into()));
    }
    let plot = with_legend(fig, root, &legend)?;

    let compute = |p: &crate::LadderPoint| 6.0 * p.params * p.tokens;
    let xs = ladder.points.iter().map(compute).chain(
        ladder
            .curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p[0])),
    );
    let ys = ladder.points.iter().map(|p| p.loss).chain(
        ladder
            .curves
            .iter()
            .flat_map(|c| c.points.iter().map(|p| p[1])),
    );
    let (x0, x1) = log_range(xs, 1.5);
    let (y0, y1) = linear_range(ys, 0.06);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&fig.title, (FAMILY, TITLE_PX))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(log_axis(x0, x1), y0..y1)
        .plot(fig)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| fmt_sig(*v))
        .x_desc("training compute 6·N·D (FLOPs, log scale)")
        .y_desc("conditional loss (nats/token)")
        .house_style()
        .draw()
        .plot(fig)?;
    for curve in &ladder.curves {
        let pts = curve
            .points
            .iter()
            .filter(|p| p[0] > 0.0 && p[1] > 0.0)
            .map(|p| (p[0], p[1]));
        chart
            .draw_series(LineSeries::new(pts, color_of(curve.params).stroke_width(2)))
            .plot(fig)?;
    }
    chart
        .draw_series(
            ladder
                .points
                .iter()
                .filter(|p| compute(p) > 0.0 && p.loss > 0.0)
                .map(|p| {
                    EmptyElement::at((compute(p), p.loss))
                        + Circle::new((0, 0), 5, color_of(p.params).filled())
                        + Circle::new((0, 0), 5, WHITE.stroke_width(1))
                }),
        )
        .plot(fig)?;
    Ok(())
}

/// One palette colour per model size N, in ascending order (FAINT for a size
/// not in the list), and the legend entries naming them.
struct SizeColors(Vec<f64>);

impl SizeColors {
    fn new(params: impl Iterator<Item = f64>) -> SizeColors {
        let mut sizes: Vec<f64> = params.collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup_by(|a, b| same_size(*a, *b));
        SizeColors(sizes)
    }

    fn color(&self, n: f64) -> RGBColor {
        self.0
            .iter()
            .position(|s| same_size(*s, n))
            .map(|i| PALETTE[i % PALETTE.len()])
            .unwrap_or(FAINT)
    }

    fn legend(&self) -> Vec<(Mark, String)> {
        self.0
            .iter()
            .map(|&n| {
                (
                    Mark::Dot(self.color(n), true),
                    format!("N = {}", fmt_count(n)),
                )
            })
            .collect()
    }
}

fn same_size(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

// ---------------------------------------------------------------------------
// Fig. 2b: score map

fn draw_score_map<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<()> {
    let Some(map) = &input.score_map else {
        return Ok(());
    };
    let n_held = map.points.iter().filter(|p| p.heldout).count();
    let mut legend = vec![(
        Mark::Dot(OTHER, true),
        format!("fitted on ({})", map.points.len() - n_held),
    )];
    if n_held > 0 {
        legend.push((Mark::Triangle(AFTER), format!("held out ({n_held})")));
    }
    if !map.curve.is_empty() {
        legend.push((Mark::Line(INK), "fitted sigmoid".into()));
    }
    let plot = with_legend(fig, root, &legend)?;

    let (x0, x1) = linear_range(
        map.points
            .iter()
            .map(|p| p.loss)
            .chain(map.curve.iter().map(|p| p[0])),
        0.05,
    );
    let (ylo, yhi) = linear_range(
        map.points
            .iter()
            .map(|p| p.score)
            .chain(map.curve.iter().map(|p| p[1])),
        0.08,
    );
    let (y0, y1) = (ylo.max(-0.02), yhi.min(1.02));
    let y_desc = if map.benchmark.is_empty() {
        "score".to_string()
    } else {
        format!("score: {}", map.benchmark)
    };
    let mut chart = ChartBuilder::on(&plot)
        .caption(&fig.title, (FAMILY, TITLE_PX))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)
        .plot(fig)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| fmt_sig(*v))
        .y_label_formatter(&|v| fmt_sig(*v))
        .x_desc("conditional loss (nats/token)")
        .y_desc(y_desc)
        .house_style()
        .draw()
        .plot(fig)?;
    chart
        .draw_series(LineSeries::new(
            map.curve.iter().map(|p| (p[0], p[1])),
            INK.stroke_width(2),
        ))
        .plot(fig)?;
    chart
        .draw_series(
            map.points
                .iter()
                .filter(|p| !p.heldout)
                .map(|p| Circle::new((p.loss, p.score), 5, OTHER.filled())),
        )
        .plot(fig)?;
    chart
        .draw_series(
            map.points
                .iter()
                .filter(|p| p.heldout)
                .map(|p| TriangleMarker::new((p.loss, p.score), 8, AFTER.filled())),
        )
        .plot(fig)?;

    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let mut placer = Placer::new(Rect {
        x0: xr.start,
        y0: yr.start,
        x1: xr.end,
        y1: yr.end,
    });
    for p in &map.points {
        placer.block(Rect::around(chart.backend_coord(&(p.loss, p.score)), 7));
    }
    let mut order: Vec<_> = map.points.iter().collect();
    order.sort_by_key(|p| !p.heldout);
    let labels = order
        .into_iter()
        .map(|p| {
            let color = if p.heldout { AFTER } else { INK };
            (
                p.name.clone(),
                chart.backend_coord(&(p.loss, p.score)),
                color,
            )
        })
        .collect();
    draw_labels(fig, &plot, &mut placer, labels)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Fig. 5: parent vs child

/// `(child, parent)` pairs where both have a density or a bound to show.
pub(crate) fn parent_pairs(input: &ReportInput) -> Vec<(&ModelRow, &ModelRow)> {
    input
        .models
        .iter()
        .filter_map(|child| {
            let parent_name = child.parent.as_deref()?;
            let parent = input
                .models
                .iter()
                .find(|m| m.name.eq_ignore_ascii_case(parent_name))?;
            (density_value(child).is_some() && density_value(parent).is_some())
                .then_some((child, parent))
        })
        .collect()
}

/// Draws names in the left margin of a category chart, one per row, right-aligned
/// against the axis; plotters' own tick labels would sit at "nice" numbers instead.
/// `rows` holds each row's backend pixel y.
fn draw_row_names<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
    fig: &Figure,
    plot: &DrawingArea<DB, Shift>,
    chart: &ChartContext<'_, DB, Cartesian2d<X, RangedCoordf64>>,
    rows: &[(i32, String)],
) -> Result<()> {
    let base = plot.get_base_pixel();
    let right = chart.plotting_area().get_pixel_range().0.start - 8 - base.0;
    for (y, name) in rows {
        plot.draw(&Text::new(
            name.clone(),
            (right, *y - base.1),
            text_style(13, INK).pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .plot(fig)?;
    }
    Ok(())
}

fn row_label_width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, names: &[String]) -> u32 {
    let style = text_style(13, INK);
    let widest = names
        .iter()
        .filter_map(|n| area.estimate_text_size(n, &style).ok())
        .map(|(w, _)| w)
        .max()
        .unwrap_or(40);
    (widest + 16).min(area.dim_in_pixel().0 * 45 / 100)
}

fn draw_parent_child<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<()> {
    let pairs = parent_pairs(input);
    let legend = vec![
        (Mark::Square(OTHER), "parent".to_string()),
        (Mark::Dot(AFTER, true), "pruned / distilled child".into()),
        (Mark::Dot(CENSORED, false), "censored (bound only)".into()),
    ];
    let plot = with_legend(fig, root, &legend)?;
    let names: Vec<String> = pairs
        .iter()
        .map(|(c, p)| format!("{} ← {}", c.name, p.name))
        .collect();
    let label_w = row_label_width(&plot, &names);
    let n = pairs.len() as f64;
    let values = pairs
        .iter()
        .flat_map(|(c, p)| [density_value(c), density_value(p)])
        .flatten()
        .map(|v| v.0);
    let (x0, x1) = log_range(values, 1.5);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&fig.title, (FAMILY, TITLE_PX))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(label_w)
        .build_cartesian_2d(log_axis(x0, x1), -0.6..n - 0.4)
        .plot(fig)?;
    chart
        .configure_mesh()
        .y_labels(0)
        .disable_y_mesh()
        .x_label_formatter(&|v| fmt_sig(*v))
        .x_desc("capability density ρ (log scale)")
        .house_style()
        .draw()
        .plot(fig)?;
    let row = |i: usize| n - 1.0 - i as f64;
    let mut row_names = Vec::new();
    for (i, ((child, parent), name)) in pairs.iter().zip(names).enumerate() {
        let (Some((cv, cc)), Some((pv, pc))) = (density_value(child), density_value(parent)) else {
            continue;
        };
        let y = row(i);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(pv, y), (cv, y)],
                FAINT.stroke_width(2),
            )))
            .plot(fig)?;
        let parent_style = if pc.is_some() {
            CENSORED.stroke_width(2)
        } else {
            OTHER.filled()
        };
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((pv, y)) + Rectangle::new([(-6, -6), (6, 6)], parent_style),
            ))
            .plot(fig)?;
        let child_style = if cc.is_some() {
            CENSORED.stroke_width(2)
        } else {
            AFTER.filled()
        };
        chart
            .draw_series(std::iter::once(Circle::new((cv, y), 6, child_style)))
            .plot(fig)?;
        let left = chart.backend_coord(&(x0, y));
        row_names.push((left.1, name));
    }
    draw_row_names(fig, &plot, &chart, &row_names)
}

// ---------------------------------------------------------------------------
// Residuals

fn draw_residuals<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &ReportInput,
    index: usize,
) -> Result<()> {
    let Some(set) = input.residuals.get(index) else {
        return Ok(());
    };
    let pts: Vec<(f64, f64)> = set
        .points
        .iter()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .map(|p| (p[0], p[1]))
        .collect();
    let legend = vec![
        (
            Mark::Dot(OTHER, true),
            format!("residual ({} points)", pts.len()),
        ),
        (Mark::Line(FAINT), "zero".into()),
    ];
    let plot = with_legend(fig, root, &legend)?;
    // Compute and sizes span decades: plot those on log10 x so points do not pile up.
    let log_x =
        finite_bounds(pts.iter().map(|p| p.0)).is_some_and(|(lo, hi)| lo > 0.0 && hi / lo > 100.0);
    let tx = |x: f64| if log_x { x.log10() } else { x };
    let (x0, x1) = linear_range(pts.iter().map(|p| tx(p.0)), 0.05);
    let ymax = pts.iter().map(|p| p.1.abs()).fold(0.0, f64::max);
    let ymax = if ymax > 0.0 { ymax * 1.15 } else { 1.0 };
    // An axis spanning more than f64 can hold has no ticks (plotters loops forever).
    if !(2.0 * ymax).is_finite() {
        return Err(ReportError::Input(format!(
            "{}: a residual of magnitude {:e} cannot be drawn",
            set.fit_name,
            ymax / 1.15
        )));
    }
    let x_desc = match (set.x_label.is_empty(), log_x) {
        (true, _) => "x".to_string(),
        (false, true) => format!("{} (log scale)", set.x_label),
        (false, false) => set.x_label.clone(),
    };
    let mut chart = ChartBuilder::on(&plot)
        .caption(&fig.title, (FAMILY, TITLE_PX))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, -ymax..ymax)
        .plot(fig)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| {
            if log_x {
                fmt_sig(10f64.powf(*v))
            } else {
                fmt_sig(*v)
            }
        })
        .y_label_formatter(&|v| fmt_sig(*v))
        .x_desc(x_desc)
        .y_desc("residual")
        .house_style()
        .draw()
        .plot(fig)?;
    chart
        .draw_series(LineSeries::new(
            [(x0, 0.0), (x1, 0.0)],
            FAINT.stroke_width(2),
        ))
        .plot(fig)?;
    chart
        .draw_series(
            pts.iter()
                .map(|p| Circle::new((tx(p.0), p.1), 4, OTHER.mix(0.85).filled())),
        )
        .plot(fig)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Sweep

fn draw_sweep<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<()> {
    let rows: Vec<&crate::SweepRow> = input
        .sweep
        .iter()
        .flatten()
        .filter(|r| r.doubling_days.is_finite())
        .collect();
    let mut legend = vec![
        (Mark::Dot(OTHER, true), "doubling time".to_string()),
        (Mark::Whisker(OTHER), "95% interval".into()),
    ];
    if let Some(t) = &input.trend {
        legend.push((
            Mark::Dashed(ENVELOPE),
            format!("main result: {} days", fmt_sig(t.doubling_days)),
        ));
    }
    let plot = with_legend(fig, root, &legend)?;
    let names: Vec<String> = rows
        .iter()
        .map(|r| format!("{} (n={})", r.label, r.n))
        .collect();
    let label_w = row_label_width(&plot, &names);
    let n = rows.len() as f64;
    let xs = rows
        .iter()
        .flat_map(|r| {
            let ci = r.ci95.unwrap_or([r.doubling_days; 2]);
            [r.doubling_days, ci[0], ci[1]]
        })
        .chain(input.trend.iter().map(|t| t.doubling_days));
    let (x0, x1) = linear_range(xs, 0.08);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&fig.title, (FAMILY, TITLE_PX))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(label_w)
        .build_cartesian_2d(x0..x1, -0.6..n - 0.4)
        .plot(fig)?;
    chart
        .configure_mesh()
        .y_labels(0)
        .disable_y_mesh()
        .x_label_formatter(&|v| fmt_sig(*v))
        .x_desc("doubling time of density (days)")
        .house_style()
        .draw()
        .plot(fig)?;
    if let Some(t) = &input.trend {
        let steps = 20;
        let h = (n + 0.2) / (2 * steps) as f64;
        let dashes = (0..steps).map(|k| {
            let a = -0.6 + 2.0 * h * k as f64;
            PathElement::new(
                vec![(t.doubling_days, a), (t.doubling_days, a + h)],
                ENVELOPE.stroke_width(2),
            )
        });
        chart.draw_series(dashes).plot(fig)?;
    }
    let mut row_names = Vec::new();
    for (i, (r, name)) in rows.iter().zip(names).enumerate() {
        let y = n - 1.0 - i as f64;
        if let Some([lo, hi]) = r.ci95 {
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((lo, y))
                        + PathElement::new(vec![(0, -6), (0, 6)], OTHER.stroke_width(2)),
                ))
                .plot(fig)?;
            chart
                .draw_series(std::iter::once(
                    EmptyElement::at((hi, y))
                        + PathElement::new(vec![(0, -6), (0, 6)], OTHER.stroke_width(2)),
                ))
                .plot(fig)?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(lo, y), (hi, y)],
                    OTHER.stroke_width(2),
                )))
                .plot(fig)?;
        }
        chart
            .draw_series(std::iter::once(Circle::new(
                (r.doubling_days, y),
                6,
                OTHER.filled(),
            )))
            .plot(fig)?;
        row_names.push((chart.backend_coord(&(x0, y)).1, name));
    }
    draw_row_names(fig, &plot, &chart, &row_names)
}

fn draw_backtest<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &ReportInput,
) -> Result<()> {
    let mut estimators: Vec<&str> = input
        .backtest
        .iter()
        .map(|r| r.estimator.as_str())
        .collect();
    estimators.dedup();
    let day = |r: &crate::BacktestPoint| parse_days(&r.cutoff).map(|d| d as f64);
    let series: Vec<Vec<(f64, f64)>> = estimators
        .iter()
        .map(|e| {
            input
                .backtest
                .iter()
                .filter(|r| r.estimator == *e)
                .filter_map(|r| Some((day(r)?, r.law_log_error.exp())))
                .collect()
        })
        .collect();
    // "No growth" does not depend on the estimator: one series, from the first.
    let baseline: Vec<(f64, f64)> = input
        .backtest
        .iter()
        .filter(|r| r.estimator == estimators[0])
        .filter_map(|r| Some((day(r)?, r.baseline_log_error.exp())))
        .collect();
    let mut legend: Vec<(Mark, String)> = estimators
        .iter()
        .enumerate()
        .map(|(i, e)| (Mark::Line(PALETTE[i % PALETTE.len()]), e.to_string()))
        .collect();
    legend.push((Mark::Dashed(FAINT), "no further growth".into()));
    let plot = with_legend(fig, root, &legend)?;
    let all = || series.iter().flatten().chain(&baseline);
    let (d0, d1) = linear_range(all().map(|p| p.0), 0.05);
    let (d0, d1) = (d0.min(d1 - 60.0), d1.max(d0 + 60.0));
    let (y0, y1) = log_range(all().map(|p| p.1).chain([1.0]), 1.3);
    let mut chart = date_log_chart(
        fig,
        &plot,
        (d0, d1),
        (y0.min(1.0), y1),
        (
            "cutoff (trend fitted on models released before it)",
            "forecast error factor  (log scale)",
        ),
        &|v| format!("{}×", fmt_sig(*v)),
    )?;
    chart
        .draw_series(DashedLineSeries::new(
            baseline.iter().copied(),
            8,
            6,
            FAINT.stroke_width(2),
        ))
        .plot(fig)?;
    for (i, pts) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .plot(fig)?;
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))
            .plot(fig)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_compactly() {
        assert_eq!(fmt_sig(0.0073), "0.0073");
        assert_eq!(fmt_sig(94.95), "95");
        assert_eq!(fmt_sig(1.0), "1");
        assert_eq!(fmt_sig(1e15), "1e15");
        assert_eq!(fmt_sig(3.16e18), "3.16e18");
        assert_eq!(fmt_sig(0.912), "0.912");
        assert_eq!(fmt_count(45e6), "45M");
        assert_eq!(fmt_count(1.2e9), "1.2B");
        assert_eq!(slug("loss law (ln L)"), "loss_law_ln_l");
    }
}
