//! Sensitivity of the doubling time: one interval per `--sweep` choice.

use super::*;

pub(super) fn draw_sweep<DB: DrawingBackend>(
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
