//! The house style every figure shares: colours, text sizes, the mesh style, number
//! formatting, and the error wrapper that names the figure a plotters error came from.

use super::*;

pub(super) const ENVELOPE: RGBColor = RGBColor(200, 30, 45);
pub(super) const OTHER: RGBColor = RGBColor(70, 110, 170);
pub(super) const CENSORED: RGBColor = RGBColor(220, 125, 0);
pub(super) const TREND: RGBColor = RGBColor(25, 25, 25);
pub(super) const BEFORE: RGBColor = RGBColor(30, 110, 200);
pub(super) const AFTER: RGBColor = RGBColor(200, 60, 30);
pub(super) const GRID: RGBColor = RGBColor(232, 232, 232);

/// The mesh style every report figure shares: tick and axis-title fonts, no
/// light grid lines, a pale bold grid.
pub(super) trait HouseStyle {
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
pub(super) const INK: RGBColor = RGBColor(40, 40, 40);
/// Models left out of the trend fit: present but visibly in the background.
pub(super) const EXCLUDED: RGBColor = RGBColor(175, 175, 175);
pub(super) const FAINT: RGBColor = RGBColor(150, 150, 150);
/// Tableau-10, distinguishable and print-safe, for per-N series.
pub(super) const PALETTE: [RGBColor; 10] = [
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

pub(super) const TICK_PX: u32 = 15;
pub(super) const DESC_PX: u32 = 16;
pub(super) const TITLE_PX: u32 = 21;
pub(super) const LABEL_PX: u32 = 13;
pub(super) const LEGEND_PX: u32 = 14;

/// Turns any plotters error into a [`ReportError`] naming the figure.
pub(super) trait PlotResult<T> {
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

pub(super) fn text_style(px: u32, color: RGBColor) -> TextStyle<'static> {
    TextStyle {
        font: (FAMILY, px).into_font(),
        color: color.to_backend_color(),
        pos: Pos::default(),
    }
}

/// A doubling time's interval in days: `lo–hi`, `≥ lo` when unbounded above
/// (the slope's interval reaches 0), `unbounded` when it has no lower end either.
pub(crate) fn fmt_days_ci(ci: [Option<f64>; 2]) -> String {
    match ci {
        [Some(lo), Some(hi)] => format!("{}–{}", fmt_sig(lo), fmt_sig(hi)),
        [Some(lo), None] => format!("≥ {}", fmt_sig(lo)),
        _ => "unbounded".into(),
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
pub(super) fn fmt_count(v: f64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_doubling_interval_unbounded_above_reads_as_a_lower_bound() {
        assert_eq!(fmt_days_ci([Some(97.0), Some(270.0)]), "97–270");
        assert_eq!(fmt_days_ci([Some(87.2), None]), "≥ 87.2");
        assert_eq!(fmt_days_ci([None, None]), "unbounded");
    }

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
