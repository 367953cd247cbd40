//! Fig. 5: each pruned or distilled model's density beside its parent's.

use super::*;

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
pub(super) fn draw_row_names<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
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

pub(super) fn row_label_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[String],
) -> u32 {
    let style = text_style(13, INK);
    let widest = names
        .iter()
        .filter_map(|n| area.estimate_text_size(n, &style).ok())
        .map(|(w, _)| w)
        .max()
        .unwrap_or(40);
    (widest + 16).min(area.dim_in_pixel().0 * 45 / 100)
}

pub(super) fn draw_parent_child<DB: DrawingBackend>(
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
