//! The registry as data: the bundled tables and benchmark catalog, strict
//! validation (one case per class), layering user files with replacements
//! reported, the wide ↔ long round trip, and a benchmark outside the paper's
//! five that calibrates and inverts.

use chrono::NaiveDate;
use densing_core::benchmark::{parse_catalog, Benchmark, PAPER};
use densing_core::calibration::{Calibration, Curve, Uncertainty};
use densing_core::density::{model_density, DensityOptions};
use densing_core::law::Inverse;
use densing_core::registry::{self, ParamsBasis, Registry, BUNDLED_CSV, BUNDLED_NAME};
use densing_core::registry::{BUNDLED_SCORES_CSV, BUNDLED_SCORES_NAME};
use densing_core::table::Table;
use std::path::PathBuf;

const TODAY: &str = "2026-11-30";

/// The later of the system clock's today and the day these tests were written,
/// so the check stays valid on a machine whose clock is behind.
fn today() -> NaiveDate {
    registry::today().max(TODAY.parse().unwrap())
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn the_catalog_defines_the_paper_five_first_with_their_floors() {
    let all = Benchmark::all();
    assert_eq!(Benchmark::paper(), all[..5].to_vec());
    let keys: Vec<&str> = Benchmark::paper().iter().map(|b| b.key()).collect();
    assert_eq!(keys, PAPER);
    // The floors the enum had: MMLU 4-option chance, the generative four none.
    let floors: Vec<f64> = Benchmark::paper().iter().map(|b| b.floor()).collect();
    assert_eq!(floors, [0.25, 0.0, 0.0, 0.0, 0.0]);
    assert_eq!(Benchmark::parse(" MMLU_Pro ").unwrap().floor(), 0.10);
    for b in Benchmark::paper() {
        let d = b.def();
        assert!(d.shots.is_some() && d.protocol.is_some(), "{}", d.name);
    }
    for b in &all {
        assert!(!b.def().score.is_empty() && !b.def().description.is_empty());
    }
    let err = Benchmark::parse("mmlx").unwrap_err().to_string();
    assert!(
        err.contains("unknown benchmark `mmlx`") && err.contains("mmlu_pro"),
        "{err}"
    );
    let bad = "# x\nname,chance,score,description\nbbh,0,em,x\n";
    let err = parse_catalog("b.csv", bad).unwrap_err().to_string();
    assert!(err.contains("first rows must be the paper's five"), "{err}");
    let bad = "name,chance,score,description\nmmlu,125,acc,x\n";
    let err = parse_catalog("b.csv", bad).unwrap_err().to_string();
    assert!(err.starts_with("b.csv:2: field `chance`"), "{err}");
}

#[test]
fn every_bundled_row_parses_has_a_source_and_passes_the_strict_check() {
    let reg = Registry::bundled().unwrap();
    assert!(reg.models.len() >= 60);
    assert!(
        reg.replacements.is_empty(),
        "the bundled scores.csv repeats models.csv: {:?}",
        reg.replacements
    );
    for m in &reg.models {
        assert!(!m.source.trim().is_empty(), "{} has no source", m.name);
        for (b, s) in &m.scores {
            assert!(s.protocol.is_some(), "{} {b}: no protocol", m.name);
            assert!(s.source.is_some(), "{} {b}: no source", m.name);
            assert!((0.0..=1.0).contains(&s.value));
        }
    }
    let non_paper: usize = reg
        .models
        .iter()
        .map(|m| m.scores.keys().filter(|b| !b.is_paper()).count())
        .sum();
    assert!(
        non_paper > 0,
        "scores.csv adds no benchmark beyond the five"
    );
    for (name, text) in [
        (BUNDLED_NAME, BUNDLED_CSV),
        (BUNDLED_SCORES_NAME, BUNDLED_SCORES_CSV),
    ] {
        let errors = reg.check(&Table::parse(name, text).unwrap(), today());
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}

const HEADER: &str = "model,family,weights,params_billion,nonemb_params_billion,active_params_billion,training_tokens_trillion,release_date,mmlu,bbh,math,humaneval,mbpp,parent,in_densing_fig1,source,notes";

/// Strict check of `rows` under a header, as a file named `user.csv`.
fn check(header: &str, rows: &[&str]) -> Vec<String> {
    let reg = Registry::bundled().unwrap();
    let text = format!("# user file\n{header}\n{}\n", rows.join("\n"));
    reg.check(&Table::parse("user.csv", &text).unwrap(), today())
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn each_validation_class_is_reported_with_file_line_and_field() {
    let good = "Ok-1B,Ok,base,1.2,1.0,,2,2025-01-01,50,40,10,20,30,,no,src,";
    assert!(check(HEADER, &[good]).is_empty());
    let cases = [
        (
            "Ne-1B,Ne,base,1.0,1.5,,2,2025-01-01,50,,,,,,no,src,",
            "user.csv:3: field `nonemb_params_billion`: 1.5 exceeds the total params_billion 1",
        ),
        (
            "Moe-1B,Moe,base,10,8,9,2,2025-01-01,50,,,,,,no,src,",
            "user.csv:3: field `active_params_billion`: 9 exceeds nonemb_params_billion 8",
        ),
        (
            "Moe-2B,Moe,base,10,,12,2,2025-01-01,50,,,,,,no,src,",
            "user.csv:3: field `active_params_billion`: 12 exceeds params_billion 10",
        ),
        (
            "Late-1B,Late,base,1,,,2,2999-01-01,50,,,,,,no,src,",
            "user.csv:3: field `release_date`: 2999-01-01 is in the future",
        ),
        (
            "Nosrc-1B,N,base,1,,,2,2025-01-01,50,,,,,,no,,",
            "user.csv:3: field `source`: is empty; every row needs a source",
        ),
        (
            "Orphan-1B,O,base,1,,,2,2025-01-01,50,,,,,Nope,no,src,",
            "user.csv:3: field `parent`: parent `Nope` of `Orphan-1B` is not in the registry",
        ),
        (
            "Bad-1B,B,base,1,,,2,2025-02-30,50,,,,,,no,src,",
            "user.csv:3: field `release_date`: `2025-02-30` is not a valid date",
        ),
        (
            "Pct-1B,P,base,1,,,2,2025-01-01,150,,,,,,no,src,",
            "user.csv:3: field `mmlu`: score 150 is outside 0–100",
        ),
    ];
    for (row, msg) in cases {
        let errors = check(HEADER, &[row]);
        assert!(
            errors.iter().any(|e| e.starts_with(msg)),
            "{row}: {errors:#?} lacks `{msg}`"
        );
    }
    // Every problem of a file at once, the unparseable row included.
    let errors = check(HEADER, &[cases[0].0, good, cases[6].0, cases[3].0]);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors.iter().any(|e| e.starts_with("user.csv:3:")));
    assert!(errors.iter().any(|e| e.starts_with("user.csv:5:")));
    assert!(errors.iter().any(|e| e.starts_with("user.csv:6:")));
    let errors = check(HEADER, &[good, &good.replace("Ok-1B", "ok-1b")]);
    assert_eq!(
        errors,
        ["user.csv:4: field `model`: duplicate model `ok-1b` (first on line 3)"]
    );

    let sh = "model,benchmark,shots,protocol,value,source";
    assert!(check(sh, &["Qwen2.5-7B,gpqa_diamond,5,5-shot,30,src"]).is_empty());
    let cases = [
        (
            "Qwen2.5-7B,gpqa_diamond,5,,30,src",
            "user.csv:3: field `protocol`: is empty; every score needs its protocol",
        ),
        (
            "Qwen2.5-7B,gpqa_diamond,5,5-shot,30,",
            "user.csv:3: field `source`: is empty; every score needs a source",
        ),
        (
            "Nobody-1B,gpqa,5,5-shot,30,src",
            "user.csv:3: field `model`: model `Nobody-1B` is not in",
        ),
        (
            "Qwen2.5-7B,gpqa_extreme,5,5-shot,30,src",
            "user.csv:3: field `benchmark`: unknown benchmark `gpqa_extreme`",
        ),
        (
            "Qwen2.5-7B,gpqa,five,5-shot,30,src",
            "user.csv:3: field `shots`: `five` is not a number",
        ),
        (
            "Qwen2.5-7B,gpqa,5,5-shot,101,src",
            "user.csv:3: field `value`: score 101 is outside 0–100",
        ),
    ];
    for (row, msg) in cases {
        let errors = check(sh, &[row]);
        assert!(
            errors.iter().any(|e| e.starts_with(msg)),
            "{row}: {errors:#?} lacks `{msg}`"
        );
    }
    let row = "Qwen2.5-7B,gpqa_diamond,5,5-shot,30,src";
    assert_eq!(
        check(sh, &[row, row]),
        ["user.csv:4: field `benchmark`: second gpqa_diamond score for `Qwen2.5-7B` under 5-shot (first on line 3)"]
    );
    // The same benchmark under another protocol is an alternate, not a repeat.
    assert!(check(sh, &[row, "Qwen2.5-7B,gpqa_diamond,0,0-shot,28,src"]).is_empty());
    // A missing column is one error for the file.
    let errors = check("model,benchmark,value", &["Qwen2.5-7B,gpqa,30"]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("required column `shots`"), "{errors:?}");
}

#[test]
fn user_files_layer_on_the_bundled_registry_and_replacements_are_reported() {
    let bundled = Registry::bundled().unwrap();
    // Given scores first, models second: models files still load first.
    let reg = Registry::layered(&[fixture("user_scores.csv"), fixture("user_models.csv")]).unwrap();
    assert_eq!(reg.models.len(), bundled.models.len() + 1);
    let mine = reg.get("Mine-2B").unwrap();
    assert_eq!(mine.parent.as_deref(), Some("Qwen2.5-7B"));
    let pro = Benchmark::parse("mmlu_pro").unwrap();
    let mbpp = Benchmark::parse("mbpp").unwrap();
    assert_eq!(mine.score(pro), Some(0.25));
    // Its 5-shot MMLU (models file) is used; the 0-shot one is kept as an alternate.
    let mmlu = Benchmark::parse("mmlu").unwrap();
    assert_eq!(mine.score(mmlu), Some(0.55));
    assert_eq!(mine.alternates.len(), 1);
    assert_eq!(mine.alternates[0].0, mmlu);
    assert_eq!(mine.alternates[0].1.shots, Some(0));
    assert_eq!(mine.scores[&mbpp].shots, Some(0));
    assert_eq!(
        mine.scores[&mbpp].protocol.as_deref(),
        Some("0-shot pass@1 (EvalPlus harness)")
    );

    let msgs: Vec<String> = reg.replacements.iter().map(|r| r.to_string()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    let bundled_7b = bundled.get("Qwen2.5-7B").unwrap().line;
    let models_file = fixture("user_models.csv").display().to_string();
    assert_eq!(
        msgs[0],
        format!("model `Qwen2.5-7B`: row {models_file}:3 replaces {BUNDLED_NAME}:{bundled_7b}")
    );
    let scores_file = fixture("user_scores.csv").display().to_string();
    let line_15 = bundled.get("Qwen2.5-1.5B").unwrap().line;
    assert_eq!(
        msgs[1],
        format!(
            "model `Qwen2.5-1.5B`: mmlu score {scores_file}:6 replaces {BUNDLED_NAME}:{line_15}"
        )
    );
    let q = reg.get("Qwen2.5-1.5B").unwrap();
    assert_eq!(q.score(mmlu), Some(0.58));
    assert_eq!(q.scores[&mmlu].source.as_deref(), Some("test fixture"));
    // The replaced row keeps its place; the bundled long scores still attach.
    let pos = |r: &Registry| r.models.iter().position(|m| m.name == "Qwen2.5-7B");
    assert_eq!(pos(&reg), pos(&bundled));
    assert_eq!(
        reg.get("Qwen2.5-7B").unwrap().score(pro),
        bundled.get("Qwen2.5-7B").unwrap().score(pro)
    );
    assert!(reg.name.contains(&models_file) && reg.name.starts_with(BUNDLED_NAME));

    // A score for a model no models file defines is an error naming its line.
    let err = Registry::layered(&[fixture("user_scores.csv")])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("{scores_file}:3: field `model`: model `Mine-2B`")),
        "{err}"
    );
}

/// Field-by-field equality of two registries' models and scores.
fn assert_same(a: &Registry, b: &Registry) {
    assert_eq!(a.models.len(), b.models.len());
    for (x, y) in a.models.iter().zip(&b.models) {
        assert_eq!(x.name, y.name);
        assert_eq!(
            (x.params_b, x.nonemb_b, x.active_b, x.tokens_t, x.release),
            (y.params_b, y.nonemb_b, y.active_b, y.tokens_t, y.release),
            "{}",
            x.name
        );
        assert_eq!(
            (&x.parent, &x.source, &x.notes),
            (&y.parent, &y.source, &y.notes)
        );
        assert_eq!(x.scores.len(), y.scores.len(), "{}", x.name);
        assert_eq!(x.alternates.len(), y.alternates.len(), "{}", x.name);
        let all = |m: &densing_core::registry::Model| {
            let used = m.scores.iter().map(|(b, s)| (*b, s.clone()));
            used.chain(m.alternates.iter().cloned()).collect::<Vec<_>>()
        };
        for ((bx, sx), (by, sy)) in all(x).into_iter().zip(all(y)) {
            assert_eq!(bx, by);
            assert_eq!(
                (sx.value, sx.shots, &sx.protocol, &sx.source),
                (sy.value, sy.shots, &sy.protocol, &sy.source),
                "{} {bx}",
                x.name
            );
        }
    }
}

fn reread(wide: &str, long: &str) -> Registry {
    let mut dir = std::env::temp_dir();
    dir.push(format!("densing-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (w, l) = (dir.join("models.csv"), dir.join("scores.csv"));
    std::fs::write(&w, wide).unwrap();
    std::fs::write(&l, long).unwrap();
    let reg = Registry::parse("wide", wide).unwrap();
    let layered = Registry::layered(&[w, l]).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    // Layered on the bundled registry, every exported row replaces its original.
    assert!(layered.replacements.len() >= reg.models.len());
    layered
}

#[test]
fn wide_and_long_forms_round_trip() {
    let user =
        Registry::layered(&[fixture("user_models.csv"), fixture("user_scores.csv")]).unwrap();
    let (wide, long) = (user.wide_csv().unwrap(), user.long_csv().unwrap());
    // The five standard columns stay wide; variants (0-shot MMLU, EvalPlus MBPP),
    // alternates and newer benchmarks go long.
    assert!(
        long.contains("Mine-2B,mmlu,0,0-shot,52,test fixture"),
        "{long}"
    );
    assert!(long.contains("Mine-2B,mbpp,0,"), "{long}");
    assert!(
        long.contains("Mine-2B,mmlu_pro,5,5-shot,25,test fixture"),
        "{long}"
    );
    // A standard-protocol score goes long only when its source is not the row's.
    assert!(long.contains("Qwen2.5-1.5B,mmlu,5,5-shot,58,test fixture"));
    assert!(
        !long.contains("Mine-2B,mmlu,5,"),
        "standard MMLU went long:\n{long}"
    );
    let back = reread(&wide, &long);
    assert_same(&user, &back);

    // Long → wide: the bundled five, given only in long form under their
    // standard protocol and the row's source, come back as models.csv's columns.
    let bundled = Registry::parse(BUNDLED_NAME, BUNDLED_CSV).unwrap();
    let mut blank = bundled.clone();
    for m in &mut blank.models {
        m.scores.clear();
    }
    let mut long_five = String::from("model,benchmark,shots,protocol,value,source\n");
    let mut w = csv::Writer::from_writer(Vec::new());
    for m in &bundled.models {
        for (b, s) in &m.scores {
            w.write_record([
                m.name.as_str(),
                b.key(),
                &b.def().shots.unwrap().to_string(),
                b.def().protocol.as_deref().unwrap(),
                &(s.value * 100.0).to_string(),
                &m.source,
            ])
            .unwrap();
        }
    }
    long_five += &String::from_utf8(w.into_inner().unwrap()).unwrap();
    let rebuilt = reread(&blank.wide_csv().unwrap(), &long_five);
    let original = Table::parse(BUNDLED_NAME, BUNDLED_CSV).unwrap();
    let exported = Table::parse("export", &rebuilt.wide_csv().unwrap()).unwrap();
    let mut compared = 0;
    for ((o, e), m) in original.rows().zip(exported.rows()).zip(&bundled.models) {
        for key in PAPER {
            let (x, y) = (o.opt_number(key).unwrap(), e.opt_number(key).unwrap());
            assert_eq!(x, y, "{} {key}", m.name);
            compared += x.is_some() as usize;
        }
    }
    assert!(compared > 250, "{compared}");
    assert_eq!(
        rebuilt.long_csv().unwrap(),
        Registry::bundled().unwrap().long_csv().unwrap(),
        "only scores.csv's rows stay long"
    );
}

#[test]
fn a_benchmark_outside_the_five_calibrates_and_inverts() {
    let unc = Uncertainty {
        replicates: 200,
        seed: 7,
    };
    let reg = Registry::bundled().unwrap();
    let pro = Benchmark::parse("mmlu_pro").unwrap();
    let sizes = reg
        .models
        .iter()
        .filter(|m| m.family == "Qwen2.5" && m.score(pro).is_some())
        .count();
    assert_eq!(sizes, 7, "the Qwen2.5 family's MMLU-Pro scores");
    let cal = Calibration::family_on(&reg, "Qwen2.5", ParamsBasis::Nonemb, &[pro], unc).unwrap();
    assert_eq!(cal.benchmarks(), [pro]);
    let curve = cal.curve(pro, None).unwrap();
    let Curve::Family(fc) = curve else {
        panic!("a family calibration has family curves")
    };
    assert_eq!(fc.floor, 0.10, "MMLU-Pro's chance level from the catalog");
    // The curve follows the family's own points and rises with N.
    let pts = &cal.curves[&pro].points;
    assert_eq!(pts.len(), 7);
    for p in pts {
        let fitted = curve.score(p.n.unwrap());
        assert!(
            (fitted - p.score).abs() < 0.04,
            "{}: {fitted} vs {}",
            p.name,
            p.score
        );
    }
    for n in [0.5, 2.0, 10.0, 50.0] {
        let Inverse::Value(back) = curve.invert(curve.score(n)) else {
            panic!("{n}B inverts to a number")
        };
        assert!((back / n - 1.0).abs() < 1e-6, "{n} → {back}");
    }
    // A model between the 3B and 7B sizes gets N̂ between them, with a CI.
    let (p3, p7) = (
        reg.get("Qwen2.5-3B").unwrap(),
        reg.get("Qwen2.5-7B").unwrap(),
    );
    let mut mid = p7.clone();
    mid.name = "Between".into();
    mid.family = "test".into();
    let s = mid.scores.get_mut(&pro).unwrap();
    s.value = 0.5 * (p3.score(pro).unwrap() + p7.score(pro).unwrap());
    let opts = DensityOptions {
        benchmarks: vec![pro],
        min_benchmarks: 1,
        ..DensityOptions::default()
    };
    let d = model_density(&mid, &cal, &opts);
    let n_hat = d.n_hat.value().expect("inside the family's range");
    assert!(
        p3.params(ParamsBasis::Nonemb) < n_hat && n_hat < p7.params(ParamsBasis::Nonemb),
        "{n_hat}"
    );
    let ci = d.rho_ci95.expect("bootstrap interval");
    assert!(ci[0] < d.rho.value().unwrap() && d.rho.value().unwrap() < ci[1]);
    assert_eq!(d.per_benchmark.len(), 1);
    assert!(d.flags.is_empty(), "{:?}", d.flags);
}
