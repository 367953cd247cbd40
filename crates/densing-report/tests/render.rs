//! Renders the bundled fixture and checks the written files and the SVGs' structure
//! (element counts, axis titles, legend text), not their pixels, so layout tweaks
//! pass and lost series, axes or labels fail.

use densing_report::{
    render_figure_svg, render_html, write_report, Censor, CensorKind, FigureKind, Format, ModelRow,
    ReportInput,
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

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// Circles drawn with `color` (plotters writes `fill="#RRGGBB"` on filled shapes).
fn filled_circles(svg: &str, color: &str) -> usize {
    svg.split("<circle")
        .skip(1)
        .filter(|c| {
            let tag = &c[..c.find('>').unwrap_or(c.len())];
            tag.contains(&format!("fill=\"{color}\""))
        })
        .count()
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
        methods: vec![],
        caveats: vec![],
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
    // No temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
