//! Forecast skill: each estimator's miss factor in the rolling-origin backtest,
//! against the "no further growth" forecast.

use super::*;

pub(super) fn draw_backtest<DB: DrawingBackend>(
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
