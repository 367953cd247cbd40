//! The prediction report: one three-panel figure per task with every series,
//! axis and legend entry, and a page with the predictions, fits and backtest.

use densing_report::{
    render_predict_html, render_predict_svg, write_predict_report, Format, PredictInput,
    PredictTask, RunPoint, SizeCurve, TargetRow,
};
use std::path::PathBuf;

fn task(name: &str, with_truth: bool) -> PredictTask {
    let law = |n: f64, d: f64| {
        0.5 + 300.0 * (n / 1e9f64).powf(-0.3) * 1e-3 + (d / 1e12f64).powf(-0.3) * 0.1
    };
    let map = |l: f64| -0.6 / (1.0 + (-4.0 * (l - 1.3f64)).exp()) + 0.9;
    let sizes = [1.9e8, 3.7e8, 7.6e8, 1.3e9];
    let mut runs = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        for m in [1.0, 2.0, 5.0, 10.0] {
            let d = 20.0 * m * n;
            runs.push(RunPoint {
                run: format!("{i}-{m}xC"),
                params: n,
                tokens: d,
                loss: law(n, d),
                score: map(law(n, d)),
                fitted: i < 3,
            });
        }
    }
    let curve = |g: &dyn Fn(f64, f64) -> f64| -> Vec<SizeCurve> {
        sizes
            .iter()
            .map(|&n| SizeCurve {
                params: n,
                points: (0..20)
                    .map(|k| {
                        let d = n * 10.0 * 1.3f64.powi(k);
                        [6.0 * n * d, g(n, d)]
                    })
                    .collect(),
            })
            .collect()
    };
    let (n, d) = (7e9, 4e12);
    let l = law(n, d);
    PredictTask {
        task: name.into(),
        law: "L = 0.5 + ...".into(),
        map: "S = ...".into(),
        step1_error: 0.004,
        step2_rmse: 0.01,
        loss_curves: curve(&|n, d| law(n, d)),
        score_curves: curve(&|n, d| map(law(n, d))),
        step2_points: (0..200)
            .map(|k| {
                let l = 0.8 + k as f64 / 100.0;
                [l, map(l)]
            })
            .collect(),
        sigmoid: (0..=50)
            .map(|k| [k as f64 / 20.0, map(k as f64 / 20.0)])
            .collect(),
        runs,
        targets: vec![TargetRow {
            name: "7B".into(),
            params: n,
            tokens: d,
            loss: l,
            loss_ci95: [l * 0.98, l * 1.02],
            score: map(l),
            score_ci95: [map(l) - 0.02, map(l) + 0.02],
            true_loss: with_truth.then_some(l * 1.01),
            true_score: with_truth.then_some(map(l) - 0.01),
        }],
    }
}

fn input() -> PredictInput {
    PredictInput {
        ladder: "synthetic ladder <test>".into(),
        generated_by: "densing test".into(),
        loss_unit: "bits per byte".into(),
        tasks: vec![task("hellaswag", false), task("arc_easy", true)],
        methods: vec!["Step 1 & step 2.".into()],
    }
}

fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t[t.find('>')? + 1..t.find("</text>")?].trim().to_string()))
        .collect()
}

#[test]
fn the_figure_has_three_panels_series_axes_and_legend() {
    let svg = render_predict_svg(&input(), 0)
        .unwrap()
        .expect("task 0 has a figure");
    let t = texts(&svg);
    for want in [
        "Two-step prediction: hellaswag",
        "step 1",
        "step 2",
        "chain",
        "compute 6·N·D (FLOPs)",
        "loss (bits per byte)",
        "score",
        "N = 190M",
        "N = 1.3B",
        "not in the fit",
        "prediction, 95% CI",
    ] {
        assert!(t.iter().any(|x| x.contains(want)), "no `{want}` in {t:?}");
    }
    // One diamond per panel for the one target; 200 step-2 points.
    assert_eq!(svg.matches("<polygon").count(), 3, "diamonds");
    assert!(svg.matches("<circle").count() >= 200 + 2 * 16);
    assert!(render_predict_svg(&input(), 2).unwrap().is_none());
}

#[test]
fn the_page_lists_predictions_fits_and_the_backtest_and_escapes_text() {
    let page = render_predict_html(&input()).unwrap();
    assert!(page.contains("<table id=\"predictions\" class=\"sortable\">"));
    assert!(page.contains("data-key=\"score\""));
    assert!(page.contains("synthetic ladder &lt;test&gt;"));
    assert!(page.contains("Backtest on 1 held-out (run, task) pairs"));
    assert!(page.contains("Step 1 &amp; step 2."));
    assert_eq!(page.matches("<figure ").count(), 2);
}

#[test]
fn writes_figures_and_the_page() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("predict-report");
    let _ = std::fs::remove_dir_all(&dir);
    let written = write_predict_report(&input(), &dir, Format::Both).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "predict_hellaswag.svg",
            "predict_hellaswag.png",
            "predict_arc_easy.svg",
            "predict_arc_easy.png",
            "report.html"
        ]
    );
    assert!(
        std::fs::metadata(dir.join("predict_arc_easy.png"))
            .unwrap()
            .len()
            > 10_000
    );
}
