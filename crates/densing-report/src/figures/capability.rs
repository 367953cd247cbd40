//! The capability scale's two figures: density against release date with the
//! trend under every eligible reference family (the ruler's spread, seen), and
//! the benchmark map, difficulty against slope.

use super::*;
use crate::capability::CapabilityFigures;

/// The figures of the capability scale, in page order.
pub(crate) fn capability_figures(input: &CapabilityFigures) -> Vec<Figure> {
    vec![
        Figure {
            kind: FigureKind::CapabilityDensity,
            file_stem: "capability_density".into(),
            title: "Capability-scale density vs release date".into(),
            caption: format!(
                "Each point is a model's density on the capability scale (IRT over every \
                 benchmark), read through {} with its 95% interval; filled points are in the \
                 trend. Each line is the trend when another eligible family is the ruler; a density \
                 is relative to its ruler, so the lines sit at their rulers' own levels: compare \
                 their slopes.",
                input.reference
            ),
        },
        Figure {
            kind: FigureKind::BenchmarkMap,
            file_stem: "benchmark_map".into(),
            title: "Benchmark map: difficulty vs slope".into(),
            caption: "Each benchmark's fitted difficulty d_b (capability at which it is half-way \
                      between chance and 100%) against its slope a_b (how sharply it separates \
                      capabilities); point size grows with its number of scores."
                .into(),
        },
    ]
}

impl Drawing for CapabilityFigures {
    fn draw<DB: DrawingBackend>(&self, fig: &Figure, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).plot(fig)?;
        match fig.kind {
            FigureKind::CapabilityDensity => draw_density_lines(fig, root, self),
            FigureKind::BenchmarkMap => draw_map(fig, root, self),
            _ => Ok(()),
        }
    }
}

const RULERS: [RGBColor; 8] = [
    RGBColor(30, 110, 200),
    RGBColor(200, 60, 30),
    RGBColor(40, 150, 70),
    RGBColor(150, 70, 170),
    RGBColor(220, 125, 0),
    RGBColor(0, 150, 150),
    RGBColor(120, 90, 40),
    RGBColor(200, 30, 120),
];

fn draw_density_lines<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &CapabilityFigures,
) -> Result<()> {
    let pts: Vec<(f64, &crate::capability::CapPoint)> = input
        .models
        .iter()
        .filter_map(|m| Some((parse_days(&m.release_date)? as f64, m)))
        .filter(|(_, m)| m.rho.is_finite() && m.rho > 0.0)
        .collect();
    let Some((d0, d1)) = finite_bounds(pts.iter().map(|p| p.0)) else {
        return Ok(());
    };
    let (d0, d1) = (d0 - 30.0, d1 + 30.0);
    let ys = pts
        .iter()
        .flat_map(|(_, m)| [m.rho, m.rho_lo, m.rho_hi])
        .filter(|v| v.is_finite() && *v > 0.0);
    let (y0, y1) = log_range(ys, 1.5);
    let mut legend: Vec<(Mark, String)> = input
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                Mark::Line(RULERS[i % RULERS.len()]),
                format!(
                    "{}{}: doubling {:.0} d",
                    l.family,
                    if l.main { " (ruler of the points)" } else { "" },
                    l.doubling_days
                ),
            )
        })
        .collect();
    legend.push((Mark::Dot(OTHER, true), "in the trend".into()));
    legend.push((Mark::Dot(FAINT, false), "not in the trend".into()));
    let plot = with_legend(fig, root, &legend)?;
    let mut chart = date_log_chart(
        fig,
        &plot,
        (d0, d1),
        (y0, y1),
        ("release date", "density ρ = N̂/N"),
        &|v| fmt_sig(*v),
    )?;
    for (x, m) in &pts {
        let color = if m.in_trend { OTHER } else { FAINT };
        if m.rho_lo.is_finite() && m.rho_hi.is_finite() && m.rho_lo > 0.0 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*x, m.rho_lo), (*x, m.rho_hi)],
                    color.mix(0.35).stroke_width(1),
                )))
                .plot(fig)?;
        }
        let style = if m.in_trend {
            color.filled()
        } else {
            color.stroke_width(1)
        };
        chart
            .draw_series(std::iter::once(Circle::new((*x, m.rho), 3, style)))
            .plot(fig)?;
    }
    for (i, l) in input.lines.iter().enumerate() {
        let origin = parse_days(&l.origin_date).unwrap_or(0) as f64;
        let color = RULERS[i % RULERS.len()];
        let line: Vec<(f64, f64)> = (0..=50)
            .map(|k| d0 + (d1 - d0) * k as f64 / 50.0)
            .map(|d| (d, (l.a * (d - origin) + l.b).exp()))
            .filter(|(_, y)| *y >= y0 && *y <= y1)
            .collect();
        let width = if l.main { 3 } else { 1 };
        chart
            .draw_series(std::iter::once(PathElement::new(
                line,
                color.stroke_width(width),
            )))
            .plot(fig)?;
    }
    Ok(())
}

fn draw_map<DB: DrawingBackend>(
    fig: &Figure,
    root: &DrawingArea<DB, Shift>,
    input: &CapabilityFigures,
) -> Result<()> {
    let (x0, x1) = linear_range(input.benchmarks.iter().map(|b| b.difficulty), 0.12);
    let (y0, y1) = log_range(input.benchmarks.iter().map(|b| b.slope), 1.3);
    let mut chart = ChartBuilder::on(root)
        .caption(&fig.title, (FAMILY, TITLE_PX))
        .margin(14)
        .x_label_area_size(46)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, log_axis(y0, y1))
        .plot(fig)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|v| fmt_sig(*v))
        .y_label_formatter(&|v| fmt_sig(*v))
        .x_desc("difficulty d_b (capability units)")
        .y_desc("slope a_b")
        .house_style()
        .draw()
        .plot(fig)?;
    for b in &input.benchmarks {
        let r = (2.0 + (b.n_scores as f64).sqrt() * 0.6).min(9.0) as i32;
        chart
            .draw_series(std::iter::once(Circle::new(
                (b.difficulty, b.slope),
                r,
                OTHER.mix(0.7).filled(),
            )))
            .plot(fig)?;
        chart
            .draw_series(std::iter::once(Text::new(
                b.name.clone(),
                (b.difficulty, b.slope),
                text_style(LEGEND_PX - 2, INK).pos(Pos::new(HPos::Left, VPos::Bottom)),
            )))
            .plot(fig)?;
    }
    Ok(())
}
