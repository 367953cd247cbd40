//! The report page: one self-contained HTML file. Figures are inlined as SVG, the
//! style sheet and the table-sorting script are inline, and nothing is loaded from
//! anywhere, so the file can be mailed, archived or opened offline.

use crate::dates::parse_days;
use crate::figures::{fmt_days_ci, fmt_p, fmt_sig, trend_summary, Figure};
use crate::input::{CensorKind, ModelRow, ReportInput, Trend};
use std::collections::BTreeSet;
use std::fmt::Write;

/// Escapes text for HTML element content and quoted attribute values alike.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; --ink:#222; --muted:#666; --line:#ddd; --accent:#c81e2d; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, "DejaVu Sans", sans-serif; color: var(--ink); margin: 0; background: #fafafa; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 60px; background: #fff; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 34px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 18px; }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(230px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
.card .k { color: var(--muted); font-size: .85em; }
.card .v { font-size: 1.25em; font-weight: 600; }
.card .v.long { font-size: 1em; }
.card .n { font-size: .85em; color: var(--muted); }
nav ul { padding-left: 20px; columns: 2; }
figure { margin: 18px 0 28px; }
figure .svg svg { width: 100%; height: auto; display: block; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .92em; margin-top: 6px; }
.tablewrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .88em; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 7px; text-align: left; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th button { font: inherit; font-weight: 600; border: 0; background: none; cursor: pointer; padding: 0; color: var(--ink); }
th[aria-sort="ascending"] button::after { content: " ▲"; }
th[aria-sort="descending"] button::after { content: " ▼"; }
tr.env td:first-child { border-left: 3px solid var(--accent); }
.cens { color: #b86b00; font-weight: 600; }
.ci { color: var(--muted); font-size: .9em; }
.flag { display: inline-block; background: #eef; border-radius: 3px; padding: 0 4px; margin-right: 3px; }

"#;

/// Sorts a `table.sortable` (the models table, the predictions table) by the
/// clicked column, using each cell's `data-sort` value (numbers compare
/// numerically; empty cells always go last).
pub(crate) const SCRIPT: &str = r#"
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    var button = th.querySelector('button');
    if (!button) return;
    button.addEventListener('click', function () {
      var numeric = th.dataset.type === 'num';
      var current = th.getAttribute('aria-sort');
      var dir = current ? (current === 'ascending' ? -1 : 1) : (numeric ? -1 : 1);
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var v = row.cells[col].dataset.sort;
        if (v === undefined || v === '') return null;
        return numeric ? parseFloat(v) : v.toLowerCase();
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null && y === null) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"#;

/// The page up to `<main>`: head with the inline style and a strict
/// Content-Security-Policy, and `<body data-page=KIND>` (the browser check reads
/// the kind), with room reserved for the inlined figures.
pub(crate) fn page_head(title: &str, kind: &str, figures: &[(Figure, String)]) -> String {
    let mut h = String::with_capacity(64 * 1024 + figures.iter().map(|f| f.1.len()).sum::<usize>());
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // A strict policy makes "no network" a property of the page, not only of the test.
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n",
    );
    let _ = write!(
        h,
        "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body data-page=\"{kind}\">\n<main>\n",
        escape(title)
    );
    h
}

/// The "Figures" section: each figure inlined with its title and caption.
pub(crate) fn figure_section(h: &mut String, figures: &[(Figure, String)]) {
    h.push_str("<h2>Figures</h2>\n");
    for (fig, svg) in figures {
        let _ = write!(
            h,
            "<figure id=\"{}\" class=\"fig\" data-kind=\"{:?}\">\n<div class=\"svg\" role=\"img\" aria-label=\"{}\">{}</div>\n<figcaption><strong>{}.</strong> {}</figcaption>\n</figure>\n",
            escape(&fig.file_stem),
            fig.kind,
            escape(&fig.title),
            inline_svg(svg),
            escape(&fig.title),
            escape(&fig.caption)
        );
    }
}

pub(crate) fn render_page(input: &ReportInput, figures: &[(Figure, String)]) -> String {
    let mut h = page_head("Capability density report", "density", figures);
    let _ = write!(
        h,
        "<h1>Capability density report</h1>\n<p class=\"sub\">Densities relative to {}. Generated by {}.</p>\n",
        escape(&input.reference),
        escape(&input.generated_by)
    );
    summary(&mut h, input);

    h.push_str("<nav><h2>Contents</h2><ul>\n");
    for (fig, _) in figures {
        let _ = writeln!(
            h,
            "<li><a href=\"#{}\">{}</a></li>",
            escape(&fig.file_stem),
            escape(&fig.title)
        );
    }
    h.push_str("<li><a href=\"#table\">All models</a></li>\n<li><a href=\"#methods\">Methods</a></li>\n<li><a href=\"#caveats\">Caveats</a></li>\n</ul></nav>\n");

    figure_section(&mut h, figures);

    models_table(&mut h, input);

    h.push_str("<h2 id=\"methods\">Methods</h2>\n");
    h.push_str(
        "<p>A model's <em>capability density</em> is ρ = N̂ / N: the size N̂ a model trained the \
         reference way would need to score what this model scores, divided by the model's own \
         size N. The trend fits ln ρ = A·t + B to the densities, t in days since its origin date; \
         density doubles every ln 2 / A days. The envelope is the set of models denser than \
         every model released before them.</p>\n",
    );
    for p in &input.methods {
        let _ = writeln!(h, "<p>{}</p>", escape(p));
    }
    h.push_str("<h2 id=\"caveats\">Caveats</h2>\n");
    h.push_str(
        "<p>A score outside the range the calibration can invert gives only a bound: such models \
         are shown as “ρ &gt; x” (score above the calibration's top) or “ρ &lt; x” (at or below \
         its floor), never as a made-up number.</p>\n",
    );
    for p in &input.caveats {
        let _ = writeln!(h, "<p>{}</p>", escape(p));
    }
    h.push_str("</main>\n<script>");
    h.push_str(SCRIPT);
    h.push_str("</script>\n</body>\n</html>\n");
    h
}

/// plotters writes a complete SVG document; the page needs only the `<svg>` element,
/// and a `viewBox` so CSS can scale it to the column width.
fn inline_svg(svg: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let body = &svg[start..];
    if body.contains("viewBox") {
        return body.to_string();
    }
    let tag_end = body.find('>').unwrap_or(0);
    let tag = &body[..tag_end];
    let attr = |name: &str| {
        let key = format!("{name}=\"");
        let i = tag.find(&key)? + key.len();
        let j = tag[i..].find('"')? + i;
        tag[i..j].parse::<f64>().ok()
    };
    match (attr("width"), attr("height")) {
        (Some(w), Some(h)) => format!("<svg viewBox=\"0 0 {w} {h}\"{}", &body[4..]),
        _ => body.to_string(),
    }
}

fn card(h: &mut String, key: &str, value: &str, note: &str) {
    let _ = writeln!(
        h,
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v{}\">{}</div><div class=\"n\">{}</div></div>",
        escape(key),
        if value.chars().count() > 24 { " long" } else { "" },
        escape(value),
        escape(note)
    );
}

fn summary(h: &mut String, input: &ReportInput) {
    h.push_str("<section id=\"summary\"><h2>Summary</h2>\n<div class=\"summary\">\n");
    match &input.trend {
        Some(t) => {
            let ci = t
                .doubling_ci95
                .map(|ci| format!("95% CI {} days", fmt_days_ci(ci)))
                .unwrap_or_else(|| "no interval computed".into());
            card(
                h,
                "Density doubling time",
                &format!(
                    "{} days (≈ {} months)",
                    fmt_sig(t.doubling_days),
                    fmt_sig(t.doubling_days / 30.4375)
                ),
                &ci,
            );
            card(
                h,
                "Trend slope A",
                &format!("{} per day", fmt_sig(t.a)),
                &format!("ln ρ = A·t + B, t in days since {}", t.origin_date),
            );
            card(
                h,
                "Evidence of a trend",
                &t.p_value
                    .map_or("not tested".into(), |p| format!("p = {}", fmt_p(p))),
                &format!(
                    "{}; {} estimator on {} models ({} censored){}",
                    if t.p_value.is_some_and(|p| p >= crate::ALPHA) {
                        "not distinguishable from no trend (permutation test)"
                    } else {
                        "one-sided permutation test of the release dates"
                    },
                    t.estimator,
                    t.n_points,
                    t.n_censored,
                    t.r2.map(|r| format!(", R² = {}", fmt_sig(r)))
                        .unwrap_or_default()
                ),
            );
        }
        None => card(
            h,
            "Density doubling time",
            "no trend fitted",
            "too few models with a finite density",
        ),
    }
    let with_rho = input.models.iter().filter(|m| m.rho.is_some()).count();
    let censored = input.models.iter().filter(|m| m.censor.is_some()).count();
    card(
        h,
        "Models",
        &input.models.len().to_string(),
        &format!("{with_rho} with a density, {censored} censored"),
    );
    card(h, "Reference (calibration)", &input.reference, "");
    card(h, "Parameter count", &input.params_basis, "");
    if let Some(s) = &input.split {
        let one = |t: &Trend| format!("A = {}/day", fmt_sig(t.a));
        card(
            h,
            &format!("Split at {}", s.date),
            &format!("{} → {}", one(&s.before), one(&s.after)),
            &format!(
                "before: {}; after: {}",
                trend_summary(&s.before),
                trend_summary(&s.after)
            ),
        );
    }
    h.push_str("</div></section>\n");
}

fn ci_text(ci: Option<[f64; 2]>) -> String {
    ci.map(|[lo, hi]| format!("[{}, {}]", fmt_sig(lo), fmt_sig(hi)))
        .unwrap_or_default()
}

fn num_cell(h: &mut String, sort: Option<f64>, text: &str, extra: &str) {
    let key = sort
        .filter(|v| v.is_finite())
        .map(|v| format!("{v:e}"))
        .unwrap_or_default();
    let _ = write!(
        h,
        "<td class=\"num\" data-sort=\"{key}\">{}{extra}</td>",
        escape(text)
    );
}

fn text_cell(h: &mut String, text: &str) {
    let _ = write!(
        h,
        "<td data-sort=\"{}\">{}</td>",
        escape(text),
        escape(text)
    );
}

fn models_table(h: &mut String, input: &ReportInput) {
    let benchmarks: BTreeSet<&str> = input
        .models
        .iter()
        .flat_map(|m| m.scores.keys().map(String::as_str))
        .collect();
    h.push_str("<h2 id=\"table\">All models</h2>\n");
    h.push_str(
        "<p class=\"sub\">Click a column heading to sort. N̂ and ρ show 95% intervals in brackets; \
         censored models show only a bound.</p>\n<div class=\"tablewrap\"><table id=\"models\" class=\"sortable\">\n<thead><tr>",
    );
    let head = |h: &mut String, key: &str, label: &str, numeric: bool| {
        let _ = write!(
            h,
            "<th data-key=\"{}\" data-type=\"{}\"><button type=\"button\">{}</button></th>",
            escape(key),
            if numeric { "num" } else { "text" },
            escape(label)
        );
    };
    head(h, "name", "Model", false);
    head(h, "family", "Family", false);
    head(h, "date", "Released", true);
    head(h, "params", "Params (B)", true);
    head(h, "nhat", "N̂ (B)", true);
    head(h, "rho", "Density ρ", true);
    head(h, "envelope", "Envelope", false);
    head(h, "in_trend", "In trend fit", false);
    for b in &benchmarks {
        head(h, &format!("score:{b}"), b, true);
    }
    head(h, "flags", "Flags", false);
    head(h, "parent", "Parent", false);
    head(h, "source", "Source", false);
    h.push_str("</tr></thead>\n<tbody>\n");

    let mut rows: Vec<&ModelRow> = input.models.iter().collect();
    rows.sort_by(|a, b| {
        a.release_date
            .cmp(&b.release_date)
            .then(a.name.cmp(&b.name))
    });
    for m in rows {
        let _ = write!(
            h,
            "<tr{}>",
            if m.on_envelope { " class=\"env\"" } else { "" }
        );
        text_cell(h, &m.name);
        text_cell(h, &m.family);
        let _ = write!(
            h,
            "<td class=\"num\" data-sort=\"{}\">{}</td>",
            parse_days(&m.release_date)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            escape(&m.release_date)
        );
        num_cell(h, Some(m.params), &fmt_sig(m.params), "");
        model_density_cells(h, m);
        text_cell(h, if m.on_envelope { "yes" } else { "" });
        text_cell(h, if m.in_trend { "yes" } else { "" });
        for b in &benchmarks {
            let s = m.scores.get(*b).copied();
            num_cell(h, s, &s.map(fmt_sig).unwrap_or_default(), "");
        }
        let flags: String = m
            .flags
            .iter()
            .map(|f| format!("<span class=\"flag\">{}</span>", escape(f)))
            .collect();
        let _ = write!(
            h,
            "<td data-sort=\"{}\">{flags}</td>",
            escape(&m.flags.join(" "))
        );
        text_cell(h, m.parent.as_deref().unwrap_or(""));
        source_cell(h, &m.source);
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table></div>\n");
}

/// N̂ and ρ cells; a censored model shows its bound ("ρ > x") and sorts by it.
fn model_density_cells(h: &mut String, m: &ModelRow) {
    if let Some(c) = m.censor {
        let op = match c.kind {
            CensorKind::Lower => ">",
            CensorKind::Upper => "<",
        };
        let nhat_bound = c.bound * m.params;
        let _ = write!(
            h,
            "<td class=\"num cens\" data-sort=\"{nhat_bound:e}\">N̂ {} {}</td>",
            escape(op),
            fmt_sig(nhat_bound)
        );
        let _ = write!(
            h,
            "<td class=\"num cens\" data-sort=\"{:e}\" data-censor=\"{}\">ρ {} {}</td>",
            c.bound,
            if c.kind == CensorKind::Lower {
                "lower"
            } else {
                "upper"
            },
            escape(op),
            fmt_sig(c.bound)
        );
        return;
    }
    let extra = |ci: Option<[f64; 2]>| {
        let t = ci_text(ci);
        if t.is_empty() {
            t
        } else {
            format!(" <span class=\"ci\">{}</span>", escape(&t))
        }
    };
    num_cell(
        h,
        m.n_hat,
        &m.n_hat.map(fmt_sig).unwrap_or_else(|| "–".into()),
        &extra(m.n_hat_ci95),
    );
    num_cell(
        h,
        m.rho,
        &m.rho.map(fmt_sig).unwrap_or_else(|| "–".into()),
        &extra(m.rho_ci95),
    );
}

/// Links only http(s) sources, so a source text can never become a script URL. Long
/// sources are shortened in the cell (the full text is the tooltip) to keep rows
/// one line high.
fn source_cell(h: &mut String, source: &str) {
    let s = source.trim();
    let is_url = s.starts_with("https://") || s.starts_with("http://");
    let shown = if is_url {
        s.split_once("://").map_or(s, |(_, rest)| rest)
    } else {
        s
    };
    let short: String = if shown.chars().count() > 48 {
        shown.chars().take(47).chain(std::iter::once('…')).collect()
    } else {
        shown.to_string()
    };
    if is_url {
        let _ = write!(
            h,
            "<td class=\"src\" data-sort=\"{0}\" title=\"{0}\"><a href=\"{0}\" rel=\"noreferrer noopener\">{1}</a></td>",
            escape(s),
            escape(&short)
        );
    } else {
        let _ = write!(
            h,
            "<td class=\"src\" data-sort=\"{0}\" title=\"{0}\">{1}</td>",
            escape(s),
            escape(&short)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<b a=\"x\">&'</b>"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn adds_a_viewbox() {
        let s = inline_svg(
            "<?xml version=\"1.0\"?>\n<svg width=\"900\" height=\"600\" xmlns=\"x\"></svg>",
        );
        assert!(
            s.starts_with("<svg viewBox=\"0 0 900 600\" width=\"900\""),
            "{s}"
        );
    }
}
