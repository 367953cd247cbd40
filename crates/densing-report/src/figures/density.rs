//! Fig. 1 and Fig. 4: density against release date, with the envelope, the fitted
//! trend(s) and their 95% bands, censored models as open markers with arrows, and
//! model names placed where they cover nothing.

use super::*;

/// Where a model goes on a density axis: ρ itself, or the bound when censored.
pub(super) fn density_value(m: &ModelRow) -> Option<(f64, Option<CensorKind>)> {
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
        .map(|ci| format!(" (95% CI {})", fmt_days_ci(ci)))
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

pub(super) struct TrendLine<'a> {
    pub(super) trend: &'a Trend,
    pub(super) color: RGBColor,
    pub(super) name: String,
    /// Days (since 1970) the line is drawn over; `None` ends at the plot's edge.
    /// A split trend only describes its own side of the split date.
    pub(super) from: Option<f64>,
    pub(super) to: Option<f64>,
}

impl TrendLine<'_> {
    pub(super) fn origin(&self) -> f64 {
        parse_days(&self.trend.origin_date).unwrap_or(0) as f64
    }
    pub(super) fn at(&self, day: f64) -> f64 {
        (self.trend.a * (day - self.origin()) + self.trend.b).exp()
    }
    /// The part of `[d0, d1]` this line covers.
    pub(super) fn span(&self, d0: f64, d1: f64) -> (f64, f64) {
        (
            self.from.map_or(d0, |f| f.max(d0)),
            self.to.map_or(d1, |t| t.min(d1)),
        )
    }
    pub(super) fn covers(&self, day: f64) -> bool {
        self.from.is_none_or(|f| day >= f) && self.to.is_none_or(|t| day <= t)
    }
    pub(super) fn band(&self) -> Vec<(f64, f64, f64)> {
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

pub(super) struct DatedPoint<'a> {
    pub(super) model: &'a ModelRow,
    pub(super) day: f64,
    pub(super) value: f64,
    pub(super) censor: Option<CensorKind>,
}

pub(super) fn draw_density<DB: DrawingBackend>(
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
pub(super) fn draw_labels<DB: DrawingBackend>(
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
