//! Benchmarks as data: the bundled `data/benchmarks.csv` defines every benchmark
//! id densing knows (its chance level, what its score is, and the protocol a
//! `models.csv` column of that name holds). A [`Benchmark`] is an interned id into
//! that catalog: `Copy`, ordered as the file lists them (the paper's five first),
//! serialised as its name.

use crate::error::{Error, Result};
use crate::table::Table;
use serde::{Serialize, Serializer};
use std::sync::LazyLock;

/// The bundled benchmark catalog, compiled in.
pub const BUNDLED_CSV: &str = include_str!("../../../data/benchmarks.csv");
pub const BUNDLED_NAME: &str = "data/benchmarks.csv (bundled)";

/// The Densing paper's five benchmarks: the default set and the score columns of
/// the wide `models.csv`.
pub const PAPER: [&str; 5] = ["mmlu", "bbh", "math", "humaneval", "mbpp"];

/// One row of the catalog.
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkDef {
    /// Lowercase id, as in `scores.csv` and `--benchmarks`.
    pub name: String,
    /// Score of random guessing, percent.
    pub chance: f64,
    /// Test questions a score is the mean over (binomial score noise in the
    /// capability scale's bootstrap); `None` where the catalog does not say.
    pub items: Option<u32>,
    /// What the number is ("accuracy %", "pass@1 %", ...).
    pub score: String,
    /// Shots and protocol a `models.csv` column of this name holds (the paper's
    /// five); `None` where only the long table carries the benchmark.
    pub shots: Option<u32>,
    pub protocol: Option<String>,
    pub description: String,
}

/// Parse a benchmark catalog; `name` is what error messages call the file.
pub fn parse_catalog(name: &str, text: &str) -> Result<Vec<BenchmarkDef>> {
    let table = Table::parse(name, text)?;
    table.require(&["name", "chance", "score", "description"])?;
    let mut defs: Vec<BenchmarkDef> = Vec::new();
    for row in table.rows() {
        let id = row.required("name")?;
        if id != id.to_ascii_lowercase() || id.contains(char::is_whitespace) {
            return Err(row.error("name", format!("`{id}` must be lowercase, without spaces")));
        }
        if defs.iter().any(|d| d.name == id) {
            return Err(row.error("name", format!("benchmark `{id}` is defined twice")));
        }
        let chance = row.number("chance")?;
        if !(0.0..100.0).contains(&chance) {
            return Err(row.error("chance", format!("{chance} is outside [0, 100) percent")));
        }
        let shots = row.opt_count("shots")?;
        let items = row.opt_count("items")?;
        if items == Some(0) {
            return Err(row.error("items", "must be ≥ 1 (or empty when unknown)"));
        }
        defs.push(BenchmarkDef {
            name: id.to_string(),
            chance,
            items,
            score: row
                .text("score")
                .ok_or_else(|| row.error("score", "is empty; say what the number is"))?
                .to_string(),
            shots,
            protocol: row.text("protocol").map(str::to_string),
            description: row.text("description").unwrap_or_default().to_string(),
        });
    }
    // The paper's five come first, in its order: they are the default set, and
    // bootstrap seeds derive from catalog positions.
    let head: Vec<&str> = defs
        .iter()
        .take(PAPER.len())
        .map(|d| d.name.as_str())
        .collect();
    if head != PAPER {
        return Err(Error::file(
            name,
            format!(
                "the first rows must be the paper's five ({}), got {}",
                PAPER.join(", "),
                head.join(", ")
            ),
        ));
    }
    if defs.len() > u16::MAX as usize {
        return Err(Error::file(name, "too many benchmarks"));
    }
    Ok(defs)
}

static CATALOG: LazyLock<Vec<BenchmarkDef>> = LazyLock::new(|| {
    // The file is compiled in and a test parses it, so this cannot fail at run time.
    parse_catalog(BUNDLED_NAME, BUNDLED_CSV).unwrap_or_else(|e| panic!("{e}"))
});

/// A benchmark id: an index into the bundled catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Benchmark(u16);

impl Benchmark {
    /// The benchmark named `s` (case-insensitive).
    pub fn parse(s: &str) -> Result<Benchmark> {
        let key = s.trim().to_ascii_lowercase();
        CATALOG
            .iter()
            .position(|d| d.name == key)
            .map(|i| Benchmark(i as u16))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown benchmark `{s}`; {BUNDLED_NAME} defines {}",
                    CATALOG
                        .iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Every benchmark in the catalog, in its order.
    pub fn all() -> Vec<Benchmark> {
        (0..CATALOG.len()).map(|i| Benchmark(i as u16)).collect()
    }

    /// The paper's five, in the paper's order.
    pub fn paper() -> Vec<Benchmark> {
        (0..PAPER.len()).map(|i| Benchmark(i as u16)).collect()
    }

    /// Position in the catalog (the paper's five are 0–4, in the paper's order;
    /// bootstrap seeds derive from it).
    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub fn def(self) -> &'static BenchmarkDef {
        &CATALOG[self.0 as usize]
    }

    pub fn key(self) -> &'static str {
        &self.def().name
    }

    /// Chance-level score as a fraction: the floor of a calibration curve.
    pub fn floor(self) -> f64 {
        self.def().chance / 100.0
    }

    /// Whether the wide `models.csv` has a column for this benchmark.
    pub fn is_paper(self) -> bool {
        PAPER.contains(&self.key())
    }
}

impl std::fmt::Display for Benchmark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl Serialize for Benchmark {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}
