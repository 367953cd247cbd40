//! The shared chart skeleton: axis ranges (linear, log with decade ticks, dates),
//! the date × log-density chart the density figures are built on, and the legend strip
//! every figure puts below its plot.

use super::*;

/// `[lo, hi]` covering the values with a margin, for a linear axis.
pub(super) fn linear_range(values: impl IntoIterator<Item = f64>, margin: f64) -> (f64, f64) {
    let (lo, hi) = finite_bounds(values).unwrap_or((0.0, 1.0));
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - span * margin, hi + span * margin)
}

/// `[lo, hi]` covering the positive values with a multiplicative margin, for a log axis.
pub(super) fn log_range(values: impl IntoIterator<Item = f64>, factor: f64) -> (f64, f64) {
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
pub(super) fn log_axis(lo: f64, hi: f64) -> WithKeyPoints<LogCoord<f64>> {
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
pub(super) struct DateAxis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) ticks: Vec<f64>,
}

impl DateAxis {
    pub(super) fn new(lo: f64, hi: f64) -> DateAxis {
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
pub(super) type DateLogChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<DateAxis, WithKeyPoints<LogCoord<f64>>>>;

/// A chart with dates on x and a log axis on y, titled, with the figures' mesh
/// style; `descs` are the (x, y) axis titles.
pub(super) fn date_log_chart<'a, DB: DrawingBackend>(
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

pub(super) fn finite_bounds(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
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
pub(super) enum Mark {
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
pub(super) fn legend_layout<DB: DrawingBackend>(
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

pub(super) fn draw_legend<DB: DrawingBackend>(
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
pub(super) fn with_legend<DB: DrawingBackend>(
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
