//! Renders the bundled fixture and checks the written files and the SVGs' structure
//! (element counts, axis titles, legend text), not their pixels, so layout tweaks
//! pass and lost series, axes or labels fail.

use densing_report::{
    render_figure_svg, render_html, write_report, BenchPoint, CapPoint, CapabilityFigures, Censor,
    CensorKind, FigureKind, Format, ModelRow, ReportInput, RulerLine,
};
use std::path::PathBuf;

fn fixture() -> ReportInput {
    let text = include_str!("fixtures/report_input.json");
    serde_json::from_str(text).expect("fixture parses")
}

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The text content of every `<text>` element.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let start = t.find('>')? + 1;
            let end = t.find("</text>")?;
            Some(t[start..end].trim().to_string())
        })
        .collect()
}

fn has_text(svg: &str, needle: &str) -> bool {
    texts(svg).iter().any(|t| t.contains(needle))
}

/// `<tag ...>` elements whose attributes contain `attr` (e.g. `fill="#C81E2D"`).
fn shapes(svg: &str, tag: &str, attr: &str) -> usize {
    svg.split(&format!("<{tag} "))
        .skip(1)
        .filter(|c| c[..c.find('>').unwrap_or(c.len())].contains(attr))
        .count()
}

// The figures' colours, as plotters writes them.
const ENVELOPE: &str = "fill=\"#C81E2D\"";
const OTHER: &str = "fill=\"#466EAA\"";
const CENSORED: &str = "stroke=\"#DC7D00\"";
const HELD_OUT: &str = "fill=\"#C83C1E\"";

fn svg_of(input: &ReportInput, kind: FigureKind) -> String {
    render_figure_svg(input, kind)
        .expect("renders")
        .unwrap_or_else(|| panic!("{kind:?} has no figure"))
}

fn model(name: &str, date: &str, rho: Option<f64>) -> ModelRow {
    ModelRow {
        name: name.into(),
        family: "F".into(),
        release_date: date.into(),
        params: 7.0,
        n_hat: rho.map(|r| r * 7.0),
        n_hat_ci95: None,
        rho,
        rho_ci95: None,
        censor: None,
        on_envelope: false,
        in_trend: false,
        flags: vec![],
        parent: None,
        source: String::new(),
        scores: Default::default(),
    }
}

fn bare(models: Vec<ModelRow>) -> ReportInput {
    ReportInput {
        reference: "test reference".into(),
        generated_by: "test".into(),
        params_basis: "total".into(),
        models,
        trend: None,
        split: None,
        ladder: None,
        score_map: None,
        residuals: vec![],
        sweep: None,
        backtest: vec![],
        methods: vec![],
        caveats: vec![],
        capability: None,
    }
}

#[test]
fn writes_every_figure_and_the_page() {
    let input = fixture();
    let dir = out_dir("report-fixture");
    let written = write_report(&input, &dir, Format::Both).expect("report");
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for stem in [
        "fig1_density",
        "fig2a_loss_law",
        "fig2b_score_map",
        "fig4_split_trend",
        "fig5_parent_child",
        "residuals_1_loss_law_ln_l",
        "residuals_2_trend_ln",
        "sweep_doubling",
        "backtest_forecast",
    ] {
        for ext in ["svg", "png"] {
            let name = format!("{stem}.{ext}");
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
    }
    assert_eq!(names.last().map(String::as_str), Some("report.html"));
    for p in &written {
        let len = std::fs::metadata(p).unwrap().len();
        assert!(len > 1000, "{} is only {len} bytes", p.display());
    }
    let png = std::fs::read(dir.join("fig1_density.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn svg_only_writes_no_png() {
    let dir = out_dir("report-svg-only");
    let written = write_report(&fixture(), &dir, Format::Svg).unwrap();
    assert!(written.iter().all(|p| p.extension().unwrap() != "png"));
}

#[test]
fn density_figure_has_every_series_axis_and_legend() {
    let input = fixture();
    let svg = svg_of(&input, FigureKind::Density);
    let envelope = input
        .models
        .iter()
        .filter(|m| m.on_envelope && m.censor.is_none())
        .count();
    let censored = input.models.iter().filter(|m| m.censor.is_some()).count();
    let other = input.models.len() - envelope - censored;
    // One marker per model plus the legend's sample.
    assert_eq!(shapes(&svg, "circle", ENVELOPE), envelope + 1);
    assert_eq!(shapes(&svg, "circle", OTHER), other + 1);
    assert_eq!(shapes(&svg, "circle", CENSORED), censored + 1);
    assert!(has_text(&svg, "release date"));
    assert!(has_text(&svg, "capability density ρ"));
    assert!(has_text(&svg, "2024-"), "date ticks missing");
    assert!(has_text(&svg, "trend: A = 0.00778/day, doubling 89"));
    assert!(has_text(&svg, "p = 0.012, R² = 0.671, n = 8"));
    assert!(has_text(&svg, "trend: 95% band"));
    assert!(has_text(&svg, "censored"));
    assert!(has_text(&svg, "reference family Qwen2.5"));
    // Every envelope model is named on the plot.
    let labels = texts(&svg);
    for m in input.models.iter().filter(|m| m.on_envelope) {
        assert!(labels.contains(&m.name), "{} not labelled", m.name);
    }
}

#[test]
fn ladder_score_map_split_parent_sweep_and_residual_figures() {
    let input = fixture();
    let ladder = input.ladder.as_ref().unwrap();
    let svg = svg_of(&input, FigureKind::LossLaw);
    for n in ["N = 5M", "N = 20M", "N = 800M", "fitted loss law"] {
        assert!(has_text(&svg, n), "{n} missing");
    }
    assert!(has_text(&svg, "training compute 6·N·D"));
    assert!(shapes(&svg, "polyline", "stroke") >= ladder.curves.len());
    assert!(svg.matches("<circle").count() >= ladder.points.len());

    let map = input.score_map.as_ref().unwrap();
    let held = map.points.iter().filter(|p| p.heldout).count();
    let svg = svg_of(&input, FigureKind::ScoreMap);
    assert_eq!(shapes(&svg, "polygon", HELD_OUT), held + 1);
    assert_eq!(shapes(&svg, "circle", OTHER), map.points.len() - held + 1);
    assert!(has_text(&svg, "fitted sigmoid"));
    assert!(has_text(&svg, "conditional loss"));
    for p in map.points.iter().filter(|p| p.heldout) {
        assert!(
            texts(&svg).contains(&p.name),
            "held-out {} unlabelled",
            p.name
        );
    }

    let svg = svg_of(&input, FigureKind::SplitTrend);
    assert!(has_text(&svg, "before 2023-11-30: A = 0.00544/day"));
    assert!(has_text(&svg, "after 2023-11-30: A = 0.00855/day"));
    assert!(has_text(&svg, "split at 2023-11-30"));

    let svg = svg_of(&input, FigureKind::ParentChild);
    let pairs = texts(&svg).iter().filter(|t| t.contains(" ← ")).count();
    assert_eq!(pairs, 5);
    assert!(has_text(&svg, "Llama-3.2-1B ← Llama-3.1-8B"));

    let svg = svg_of(&input, FigureKind::Sweep);
    assert!(has_text(&svg, "MMLU only (n=7)"));
    assert!(has_text(&svg, "main result: 89"));
    assert!(has_text(&svg, "doubling time of density (days)"));

    // One line and one dot per cutoff for each estimator, beside "no growth".
    let svg = svg_of(&input, FigureKind::Backtest);
    assert!(has_text(&svg, "censored-quantile τ=0.9"));
    assert!(has_text(&svg, "envelope"));
    assert!(has_text(&svg, "no further growth"));
    assert!(has_text(&svg, "forecast error factor"));
    assert_eq!(shapes(&svg, "circle", "fill=\"#1F77B4\""), 4);
    assert_eq!(shapes(&svg, "circle", "fill=\"#FF7F0E\""), 4);

    for (i, set) in input.residuals.iter().enumerate() {
        let svg = svg_of(&input, FigureKind::Residuals(i));
        assert_eq!(shapes(&svg, "circle", OTHER), set.points.len() + 1);
        assert!(has_text(&svg, "residual"));
        assert!(has_text(&svg, &set.x_label));
    }
}

#[test]
fn one_model_without_a_trend() {
    let mut m = model("Solo-1B", "2024-05-01", Some(1.5));
    m.on_envelope = true;
    let input = bare(vec![m]);
    let svg = svg_of(&input, FigureKind::Density);
    assert_eq!(shapes(&svg, "circle", ENVELOPE), 2);
    assert!(texts(&svg).contains(&"Solo-1B".to_string()));
    let html = render_html(&input).unwrap();
    assert!(html.contains("no trend fitted"));
    assert_eq!(html.matches("<tr").count(), 2, "header and one row");
    assert_eq!(html.matches("<figure").count(), 1);
}

#[test]
fn models_left_out_of_the_trend_fit_are_set_apart() {
    let mut env = model("Env-7B", "2024-01-01", Some(2.0));
    env.on_envelope = true;
    env.in_trend = true;
    let mut fitted = model("Fitted-7B", "2024-02-01", Some(1.0));
    fitted.in_trend = true;
    let left_out = model("Chat-7B", "2024-03-01", Some(0.5));
    let svg = svg_of(&bare(vec![env, fitted, left_out]), FigureKind::Density);
    assert_eq!(shapes(&svg, "circle", "fill=\"#AFAFAF\""), 2);
    assert_eq!(shapes(&svg, "circle", OTHER), 2);
    assert!(has_text(&svg, "not in the trend fit (1)"));
    assert!(has_text(&svg, "in the trend fit (1)"));
}

#[test]
fn no_models_still_renders() {
    let html = render_html(&bare(vec![])).unwrap();
    assert!(html.contains("<svg"));
}

#[test]
fn censored_models_show_bounds() {
    let mut hi = model("Top-7B", "2024-01-01", None);
    hi.censor = Some(Censor {
        kind: CensorKind::Lower,
        bound: 4.0,
    });
    let mut lo = model("Floor-7B", "2024-03-01", None);
    lo.censor = Some(Censor {
        kind: CensorKind::Upper,
        bound: 0.05,
    });
    let input = bare(vec![hi, lo]);
    let svg = svg_of(&input, FigureKind::Density);
    assert_eq!(shapes(&svg, "circle", CENSORED), 3);
    // Each censored marker carries an arrow head, and so does the legend's sample.
    assert_eq!(shapes(&svg, "polygon", "fill=\"#DC7D00\""), 3);
    let html = render_html(&input).unwrap();
    assert!(html.contains("ρ &gt; 4</td>"), "lower bound shown as ρ > x");
    assert!(
        html.contains("ρ &lt; 0.05</td>"),
        "upper bound shown as ρ < x"
    );
    assert!(!html.contains("NaN") && !html.contains("inf"));
}

#[test]
fn five_hundred_models() {
    let input: ReportInput = generated(500);
    let start = std::time::Instant::now();
    let dir = out_dir("report-500");
    write_report(&input, &dir, Format::Both).unwrap();
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
    let svg = std::fs::read_to_string(dir.join("fig1_density.svg")).unwrap();
    let markers = shapes(&svg, "circle", ENVELOPE)
        + shapes(&svg, "circle", OTHER)
        + shapes(&svg, "circle", CENSORED);
    assert_eq!(markers, 500 + 3);
    let labels = texts(&svg).iter().filter(|t| t.starts_with("gen-")).count();
    assert!(labels > 10 && labels < 500, "{labels} labels");
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<tr").count(), 501);
}

#[test]
fn text_is_escaped_and_only_web_links_are_links() {
    let mut m = model("<img src=x onerror=alert(1)>", "2024-01-01", Some(1.0));
    m.source = "javascript:alert(1)".into();
    m.flags = vec!["<b>".into()];
    let mut input = bare(vec![m]);
    input.reference = "ref & <co>".into();
    input.caveats = vec!["</p><script>bad()</script>".into()];
    let html = render_html(&input).unwrap();
    assert!(!html.contains("<img src=x"));
    assert!(!html.contains("<script>bad"));
    assert!(!html.contains("href=\"javascript"));
    assert!(html.contains("ref &amp; &lt;co&gt;"));
    let svg = svg_of(&input, FigureKind::Density);
    assert!(!svg.contains("<img"));
}

#[test]
fn fixture_round_trips_through_json() {
    let input = fixture();
    let text = serde_json::to_string(&input).unwrap();
    let back: ReportInput = serde_json::from_str(&text).unwrap();
    assert_eq!(back, input);
}

/// `n` models over two years with a rising trend, every 25th censored.
fn generated(n: usize) -> ReportInput {
    let origin = 19_412; // 2023-02-24 as days since 1970
    let mut best = 0.0;
    let models = (0..n)
        .map(|i| {
            let t = (i * 731 / n) as i64;
            let noise = ((i * 7919) % 100) as f64 / 100.0;
            let rho = (0.007 * t as f64 - 2.0 + 2.0 * noise).exp();
            let date = day_string(origin + t);
            let mut m = model(&format!("gen-{i}"), &date, Some(rho));
            m.rho_ci95 = Some([rho * 0.8, rho * 1.2]);
            if i % 25 == 7 {
                m.rho = None;
                m.censor = Some(Censor {
                    kind: if i % 2 == 0 {
                        CensorKind::Lower
                    } else {
                        CensorKind::Upper
                    },
                    bound: rho,
                });
            } else if rho > best {
                best = rho;
                m.on_envelope = true;
            }
            m
        })
        .collect();
    let mut input = bare(models);
    input.trend = serde_json::from_str(
        r#"{"a":0.007,"b":-1.0,"r2":0.9,"doubling_days":99.0,"origin_date":"2023-02-24",
            "band":[{"t_days":0,"lo":-1.5,"hi":-0.5},{"t_days":730,"lo":3.5,"hi":4.8}],"n_points":20}"#,
    )
    .unwrap();
    input
}

/// `YYYY-MM-DD` of a day number (test-only copy of the civil calendar).
fn day_string(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 {
        yoe + era * 400 + 1
    } else {
        yoe + era * 400
    };
    format!("{y}-{m:02}-{d:02}")
}

/// The capability figures of `generated(40)`'s models under three rulers,
/// and four benchmarks.
fn with_capability() -> ReportInput {
    let mut input = generated(40);
    let models = input
        .models
        .iter()
        .filter_map(|m| {
            let rho = m.rho?;
            Some(CapPoint {
                name: m.name.clone(),
                release_date: m.release_date.clone(),
                rho,
                rho_lo: rho * 0.7,
                rho_hi: rho * 1.4,
                in_trend: true,
            })
        })
        .collect();
    let line = |family: &str, a: f64, main: bool| RulerLine {
        family: family.into(),
        a,
        b: -1.0,
        origin_date: "2023-02-24".into(),
        doubling_days: std::f64::consts::LN_2 / a,
        main,
    };
    let bench = |name: &str, slope: f64, difficulty: f64| BenchPoint {
        name: name.into(),
        slope,
        difficulty,
        n_scores: 40,
    };
    input.capability = Some(CapabilityFigures {
        reference: "the Ref-A ruler".into(),
        models,
        lines: vec![
            line("Ref-A", 0.0036, true),
            line("Ref-B", 0.0050, false),
            line("Ref-C", 0.0013, false),
        ],
        benchmarks: vec![
            bench("bench-easy", 2.5, -1.0),
            bench("bench-hard", 4.0, 1.2),
            bench("bench-flat", 0.8, 0.3),
            bench("bench-mid", 1.6, 0.1),
        ],
    });
    input
}

#[test]
fn capability_figures_are_inlined_after_the_density_figure() {
    let input = with_capability();
    let html = render_html(&input).unwrap();
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} not in the page"))
    };
    let (density, cap, map) = (
        at("<figure id=\"fig1_density\""),
        at("<figure id=\"capability_density\""),
        at("<figure id=\"benchmark_map\""),
    );
    assert!(density < cap && cap < map, "{density} {cap} {map}");
    assert!(html[cap..map].contains(
        "<figcaption><strong>Capability-scale density vs release date.</strong> Each point"
    ));
    assert!(
        html[map..].contains("<figcaption><strong>Benchmark map: difficulty vs slope.</strong>")
    );
    // Both are in the contents list too.
    assert!(html.contains("<li><a href=\"#capability_density\">"));
    assert!(html.contains("<li><a href=\"#benchmark_map\">"));
    // The density figure draws every ruler's line with its doubling time in
    // the legend, the map every benchmark's name.
    let svg = svg_of(&input, FigureKind::CapabilityDensity);
    assert!(has_text(
        &svg,
        "Ref-A (ruler of the points): doubling 193 d"
    ));
    assert!(has_text(&svg, "Ref-B: doubling 139 d"));
    assert!(has_text(&svg, "Ref-C: doubling 533 d"));
    assert!(shapes(&svg, "circle", OTHER) >= 30);
    let svg = svg_of(&input, FigureKind::BenchmarkMap);
    for b in ["bench-easy", "bench-hard", "bench-flat", "bench-mid"] {
        assert!(has_text(&svg, b), "{b} missing from the map");
    }
    // Without capability data the page has neither figure.
    let plain = render_html(&generated(40)).unwrap();
    assert!(!plain.contains("capability_density") && !plain.contains("benchmark_map"));
    // And report.json carries them: `densing report --from` redraws them.
    let back: ReportInput = serde_json::from_str(&serde_json::to_string(&input).unwrap()).unwrap();
    let (a, b) = (back.capability.unwrap(), input.capability.unwrap());
    assert_eq!(
        (a.models.len(), a.lines.len(), a.benchmarks.len()),
        (b.models.len(), b.lines.len(), b.benchmarks.len())
    );
}

#[test]
fn capability_figures_are_written_beside_the_page() {
    let dir = out_dir("report-capability");
    let written = write_report(&with_capability(), &dir, Format::Both).unwrap();
    for name in [
        "capability_density.svg",
        "capability_density.png",
        "benchmark_map.svg",
        "benchmark_map.png",
    ] {
        assert!(written.contains(&dir.join(name)), "{name} not written");
    }
}
