//! Residuals (observed minus fitted) of each fit in the report.

use super::*;

pub(super) fn draw_residuals<DB: DrawingBackend>(
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
