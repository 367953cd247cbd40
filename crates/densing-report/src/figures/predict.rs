//! The prediction figure of one task, in three panels like the ladder paper's
//! Figure 1: step 1 (loss vs compute), step 2 (score vs loss), chain (score vs
//! compute), sharing one legend strip.

use super::*;
use crate::predict::{PredictInput, PredictTask, RunPoint, SizeCurve, TargetRow};
use plotters::coord::ranged1d::ValueFormatter;

impl Drawing for PredictInput {
    fn draw<DB: DrawingBackend>(&self, fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).plot(fig)?;
        let FigureKind::Predict(i) = fig.kind else {
            return Ok(());
        };
        let Some(task) = self.tasks.get(i) else {
            return Ok(());
        };
        draw_task(fig, root, task, &self.loss_unit)
    }
}

/// The target marker: a black diamond.
const TARGET: RGBColor = INK;

fn draw_task<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    task: &PredictTask,
    loss_unit: &str,
) -> Result<()> {
    let sizes = SizeColors::new(task.runs.iter().map(|r| r.params));
    let color_of = |n: f64| sizes.color(n);
    let mut legend = sizes.legend();
    if task.runs.iter().any(|r| !r.fitted) {
        legend.push((Mark::Dot(FAINT, false), "not in the fit".into()));
    }
    legend.push((Mark::Line(INK), "fitted".into()));
    legend.push((Mark::Whisker(TARGET), "prediction, 95% CI".into()));
    let plot = with_legend(fig, root, &legend)?;
    let title_h = 34;
    let (head, body) = plot.split_vertically(title_h);
    head.draw(&Text::new(
        fig.title.clone(),
        (16, 8),
        text_style(TITLE_PX, INK),
    ))
    .plot(fig)?;
    let panels = body.split_evenly((1, 3));
    let compute = |n: f64, d: f64| 6.0 * n * d;

    // Step 1: loss against compute.
    let xs: Vec<f64> = task
        .runs
        .iter()
        .map(|r| compute(r.params, r.tokens))
        .chain(task.targets.iter().map(|t| compute(t.params, t.tokens)))
        .collect();
    let (x0, x1) = log_range(xs.iter().copied(), 1.6);
    let ys = task
        .runs
        .iter()
        .map(|r| r.loss)
        .chain(task.targets.iter().flat_map(|t| t.loss_ci95));
    let (y0, y1) = linear_range(ys, 0.06);
    let mut chart = panel(fig, &panels[0], "step 1", log_axis(x0, x1), y0..y1)?;
    mesh(
        fig,
        &mut chart,
        "compute 6·N·D (FLOPs)",
        &format!("loss ({loss_unit})"),
        true,
    )?;
    curves(fig, &mut chart, &task.loss_curves, &color_of)?;
    runs(
        fig,
        &mut chart,
        &task.runs,
        |r| (compute(r.params, r.tokens), r.loss),
        &color_of,
    )?;
    targets(fig, &mut chart, &task.targets, |t| {
        (
            compute(t.params, t.tokens),
            t.loss,
            t.loss_ci95,
            t.true_loss,
        )
    })?;

    // Step 2: score against loss.
    let (lx0, lx1) = linear_range(
        task.step2_points
            .iter()
            .map(|p| p[0])
            .chain(task.targets.iter().flat_map(|t| t.loss_ci95))
            .chain([0.0]),
        0.04,
    );
    let (sy0, sy1) = linear_range(
        task.step2_points
            .iter()
            .map(|p| p[1])
            .chain(task.targets.iter().flat_map(|t| t.score_ci95))
            .chain([1.0]),
        0.05,
    );
    let mut chart = panel(
        fig,
        &panels[1],
        "step 2",
        RangedCoordf64::from(lx0..lx1),
        sy0..sy1,
    )?;
    mesh(
        fig,
        &mut chart,
        &format!("loss ({loss_unit})"),
        "score",
        false,
    )?;
    chart
        .draw_series(
            task.step2_points
                .iter()
                .map(|p| Circle::new((p[0], p[1]), 2, OTHER.mix(0.35).filled())),
        )
        .plot(fig)?;
    chart
        .draw_series(LineSeries::new(
            task.sigmoid.iter().map(|p| (p[0], p[1])),
            INK.stroke_width(2),
        ))
        .plot(fig)?;
    targets(fig, &mut chart, &task.targets, |t| {
        (
            t.loss,
            t.score,
            t.score_ci95,
            t.true_score.map(|_| f64::NAN),
        )
    })?;

    // Chain: score against compute.
    let ys = task
        .runs
        .iter()
        .map(|r| r.score)
        .chain(task.targets.iter().flat_map(|t| t.score_ci95));
    let (y0, y1) = linear_range(ys, 0.06);
    let mut chart = panel(fig, &panels[2], "chain", log_axis(x0, x1), y0..y1)?;
    mesh(fig, &mut chart, "compute 6·N·D (FLOPs)", "score", true)?;
    curves(fig, &mut chart, &task.score_curves, &color_of)?;
    runs(
        fig,
        &mut chart,
        &task.runs,
        |r| (compute(r.params, r.tokens), r.score),
        &color_of,
    )?;
    targets(fig, &mut chart, &task.targets, |t| {
        (
            compute(t.params, t.tokens),
            t.score,
            t.score_ci95,
            t.true_score,
        )
    })?;
    Ok(())
}

type Chart<'a, DB, X> = ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>;

fn panel<'a, DB: DrawingBackend, X: Ranged<ValueType = f64>>(
    fig: &Figure,
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    x: X,
    y: std::ops::Range<f64>,
) -> Result<Chart<'a, DB, X>> {
    ChartBuilder::on(area)
        .caption(caption, (FAMILY, DESC_PX + 2))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(58)
        .build_cartesian_2d(x, y)
        .plot(fig)
}

fn mesh<DB: DrawingBackend, X: Ranged<ValueType = f64> + ValueFormatter<f64>>(
    fig: &Figure,
    chart: &mut Chart<'_, DB, X>,
    x_desc: &str,
    y_desc: &str,
    log_x: bool,
) -> Result<()> {
    let fmt_x = move |v: &f64| {
        if log_x {
            format!("{v:.0e}")
        } else {
            fmt_sig(*v)
        }
    };
    chart
        .configure_mesh()
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&|v| fmt_sig(*v))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(6)
        .label_style((FAMILY, TICK_PX - 2))
        .axis_desc_style((FAMILY, DESC_PX - 1))
        .max_light_lines(0)
        .bold_line_style(GRID)
        .draw()
        .plot(fig)
}

fn curves<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
    fig: &Figure,
    chart: &mut Chart<'_, DB, X>,
    curves: &[SizeCurve],
    color_of: &dyn Fn(f64) -> RGBColor,
) -> Result<()> {
    for c in curves {
        chart
            .draw_series(LineSeries::new(
                c.points.iter().filter(|p| p[0] > 0.0).map(|p| (p[0], p[1])),
                color_of(c.params).stroke_width(2),
            ))
            .plot(fig)?;
    }
    Ok(())
}

fn runs<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
    fig: &Figure,
    chart: &mut Chart<'_, DB, X>,
    runs: &[RunPoint],
    at: impl Fn(&RunPoint) -> (f64, f64),
    color_of: &dyn Fn(f64) -> RGBColor,
) -> Result<()> {
    chart
        .draw_series(runs.iter().map(|r| {
            let style = if r.fitted {
                color_of(r.params).filled()
            } else {
                color_of(r.params).stroke_width(2)
            };
            EmptyElement::at(at(r)) + Circle::new((0, 0), 5, style)
        }))
        .plot(fig)?;
    Ok(())
}

/// Each target as a diamond with its interval as a whisker; `at` returns
/// `(x, y, ci, truth)`, and a known truth is drawn as a red cross.
fn targets<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
    fig: &Figure,
    chart: &mut Chart<'_, DB, X>,
    targets: &[TargetRow],
    at: impl Fn(&TargetRow) -> (f64, f64, [f64; 2], Option<f64>),
) -> Result<()> {
    for t in targets {
        let (x, y, ci, truth) = at(t);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, ci[0]), (x, ci[1])],
                TARGET.stroke_width(2),
            )))
            .plot(fig)?;
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((x, y))
                    + Polygon::new(vec![(0, -7), (6, 0), (0, 7), (-6, 0)], TARGET.filled()),
            ))
            .plot(fig)?;
        if let Some(v) = truth.filter(|v| v.is_finite()) {
            chart
                .draw_series(std::iter::once(Cross::new(
                    (x, v),
                    6,
                    AFTER.stroke_width(2),
                )))
                .plot(fig)?;
        }
    }
    Ok(())
}
