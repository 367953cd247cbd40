//! Fig. 2a and 2b, the two-step calibration: the loss law on the reference ladder
//! (loss against compute 6·N·D per size) and the score map (score against loss with
//! the fitted sigmoid).

use super::*;

pub(super) fn draw_loss_law<DB: DrawingBackend>(
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
pub(super) struct SizeColors(Vec<f64>);

impl SizeColors {
    pub(super) fn new(params: impl Iterator<Item = f64>) -> SizeColors {
        let mut sizes: Vec<f64> = params.collect();
        sizes.sort_by(f64::total_cmp);
        sizes.dedup_by(|a, b| same_size(*a, *b));
        SizeColors(sizes)
    }

    pub(super) fn color(&self, n: f64) -> RGBColor {
        self.0
            .iter()
            .position(|s| same_size(*s, n))
            .map(|i| PALETTE[i % PALETTE.len()])
            .unwrap_or(FAINT)
    }

    pub(super) fn legend(&self) -> Vec<(Mark, String)> {
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

pub(super) fn same_size(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

// ---------------------------------------------------------------------------
// Fig. 2b: score map

pub(super) fn draw_score_map<DB: DrawingBackend>(
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
