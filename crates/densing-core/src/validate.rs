//! The rules every registry row obeys, wherever it comes from: the bundled
//! tables, `--registry` files, Python frames and `densing models add` all pass
//! through [`model_problems`] and [`score_problems`] (called by
//! [`crate::registry::Registry::layer_with`] and [`crate::registry::Registry::check`]),
//! so a row `models check` rejects can never enter a run silently.
//!
//! The ranges are what a language model's registry row can plausibly hold; a
//! value outside them is a typo or a unit slip (millions typed as billions), and
//! each message says the unit.

use crate::error::Error;
use crate::registry::{Model, Score};
use chrono::NaiveDate;

/// Release dates before this are not LLMs of the density era (GPT-1 was June
/// 2018; the registry's trend starts in 2023).
pub const EARLIEST_RELEASE: NaiveDate = match NaiveDate::from_ymd_opt(2018, 1, 1) {
    Some(d) => d,
    None => panic!("a valid date"),
};

/// Total parameters, billions: 10 million to 10 trillion.
pub const PARAMS_RANGE_B: [f64; 2] = [0.01, 10_000.0];
/// Non-embedding and active parameters, billions: 1 million up to the total.
pub const PART_MIN_B: f64 = 0.001;
/// Training tokens, trillions: 1 billion to 1,000 trillion.
pub const TOKENS_RANGE_T: [f64; 2] = [0.001, 1_000.0];

/// Every rule a model row breaks beyond what parsing enforces, each as
/// `file:line: field`: the release date within [`EARLIEST_RELEASE`]..=`today`,
/// parameter and token counts within their ranges, non-embedding ≤ total,
/// active ≤ non-embedding (or total), and a source.
pub fn model_problems(m: &Model, today: NaiveDate) -> Vec<Error> {
    let err = |field: &str, msg: String| Error::field(&m.file, m.line, field, msg);
    let mut out = Vec::new();
    let [lo, hi] = PARAMS_RANGE_B;
    if !(lo..=hi).contains(&m.params_b) {
        out.push(err(
            "params_billion",
            format!(
                "{} is outside {lo}–{hi} (billions of parameters: 7 means 7B, 0.135 means 135M)",
                m.params_b
            ),
        ));
    }
    for (col, v) in [
        ("nonemb_params_billion", m.nonemb_b),
        ("active_params_billion", m.active_b),
    ] {
        if let Some(v) = v.filter(|v| *v < PART_MIN_B) {
            out.push(err(
                col,
                format!("{v} is below {PART_MIN_B} (billions of parameters: 0.001 means 1M)"),
            ));
        }
    }
    if let Some(ne) = m.nonemb_b.filter(|ne| *ne > m.params_b) {
        out.push(err(
            "nonemb_params_billion",
            format!("{ne} exceeds the total params_billion {}", m.params_b),
        ));
    }
    if let Some(a) = m.active_b {
        let (cap, col) = match m.nonemb_b {
            Some(ne) => (ne, "nonemb_params_billion"),
            None => (m.params_b, "params_billion"),
        };
        if a > cap {
            out.push(err(
                "active_params_billion",
                format!("{a} exceeds {col} {cap}"),
            ));
        }
    }
    let [tlo, thi] = TOKENS_RANGE_T;
    if let Some(t) = m.tokens_t.filter(|t| !(tlo..=thi).contains(t)) {
        out.push(err(
            "training_tokens_trillion",
            format!("{t} is outside {tlo}–{thi} (trillions of tokens: 18 means 18T)"),
        ));
    }
    if m.release > today {
        out.push(err(
            "release_date",
            format!("{} is in the future (today is {today})", m.release),
        ));
    }
    if m.release < EARLIEST_RELEASE {
        out.push(err(
            "release_date",
            format!(
                "{} is before {EARLIEST_RELEASE}, earlier than any LLM of the density era",
                m.release
            ),
        ));
    }
    if m.source.trim().is_empty() {
        out.push(err("source", "is empty; every row needs a source".into()));
    }
    out
}

/// Every rule a long-table score breaks: no protocol, no source.
pub fn score_problems(s: &Score, file: &str, line: u64) -> Vec<Error> {
    let mut out = Vec::new();
    if s.protocol.is_none() {
        out.push(Error::field(
            file,
            line,
            "protocol",
            "is empty; every score needs its protocol (e.g. `5-shot`, `0-shot pass@1`)",
        ));
    }
    if s.source.is_none() {
        out.push(Error::field(
            file,
            line,
            "source",
            "is empty; every score needs a source",
        ));
    }
    out
}
