//! The capability fit's input: one cell per (model, item) score, where an item
//! is a benchmark under one protocol class (see [`Protocols`]).
//!
//! Built from a [`Registry`] (both tables: every score the registry keeps for a
//! model, the used one and its alternates under other protocols) or from any
//! long table of `model,benchmark,score,chance` ([`CellData::from_long`], the
//! form Epoch AI's benchmark-stitching data take).

use crate::error::{Error, Result};
use crate::registry::{Benchmark, Registry, Score};
use crate::table::Table;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// The protocol a score was measured under, as the capability fit sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// The developer's own number under the benchmark's standard shots.
    Standard,
    /// Other shots than the benchmark's standard (or shots not stated).
    OtherShots,
    /// Evaluated by someone other than the model's developer (`source`
    /// begins with `third-party`).
    ThirdParty,
}

impl Variant {
    /// The class of one registry score. A benchmark's standard shots are the
    /// catalog's (the paper's five) or else the most common stated shots among
    /// the registry's scores of it (`standard`).
    pub fn of(score: &Score, standard: Option<u32>) -> Variant {
        let third = score.source.as_deref().is_some_and(|s| {
            s.trim_start()
                .to_ascii_lowercase()
                .starts_with("third-party")
        });
        if third {
            Variant::ThirdParty
        } else if score.shots.is_some() && score.shots == standard {
            Variant::Standard
        } else {
            Variant::OtherShots
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Variant::Standard => "standard",
            Variant::OtherShots => "other shots",
            Variant::ThirdParty => "third-party",
        }
    }
}

/// How scores under non-standard protocols enter the fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocols {
    /// Every protocol of a benchmark is the same item.
    Pooled,
    /// Each (benchmark, protocol class) is its own item with its own slope and
    /// difficulty.
    OwnItem,
    /// One slope per benchmark; each non-standard class shifts the difficulty
    /// by its own offset (ridge-penalised towards 0).
    Offset,
}

impl Protocols {
    pub fn from_name(name: &str) -> Result<Protocols> {
        match name {
            "pooled" => Ok(Protocols::Pooled),
            "own-item" => Ok(Protocols::OwnItem),
            "offset" => Ok(Protocols::Offset),
            other => Err(Error::Invalid(format!(
                "protocols `{other}`: expected pooled, own-item or offset"
            ))),
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Protocols::Pooled => "pooled",
            Protocols::OwnItem => "own-item",
            Protocols::Offset => "offset",
        }
    }
}

/// A benchmark's parameters block: one slope and one difficulty.
#[derive(Debug, Clone, Serialize)]
pub struct Bench {
    /// The benchmark id, with the protocol class appended for an own item
    /// (`mmlu [third-party]`).
    pub name: String,
    /// Chance level as a fraction: the floor c_b.
    pub chance: f64,
    /// Test questions per score (binomial noise); `None`: unknown.
    pub items: Option<u32>,
}

/// A scored item: a benchmark block, and whether it carries its own
/// difficulty offset (a non-standard class under [`Protocols::Offset`]).
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// The benchmark id (without the protocol class).
    pub benchmark: String,
    pub bench: usize,
    pub variant: Variant,
    pub has_offset: bool,
}

/// One observed score.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub model: usize,
    pub item: usize,
    /// Score as a fraction.
    pub y: f64,
    /// `file:line` it came from.
    pub origin: String,
}

/// Everything the fit sees.
#[derive(Debug, Clone, Serialize)]
pub struct CellData {
    pub models: Vec<String>,
    /// Family index of each model (bootstrap resampling unit).
    pub family_of: Vec<usize>,
    pub families: Vec<String>,
    pub benches: Vec<Bench>,
    pub items: Vec<Item>,
    pub cells: Vec<Cell>,
    /// Models left out (fewer distinct benchmarks than required), with why.
    pub excluded: Vec<(String, String)>,
    /// Lower-cased model name → index, built by [`CellData::model_index`].
    #[serde(skip)]
    index: OnceLock<HashMap<String, usize>>,
}

impl CellData {
    /// Each model's distinct benchmark blocks, sorted, in one pass over the
    /// cells (a scan of all cells per model was quadratic in the registry).
    pub fn benchmarks_by_model(&self) -> Vec<Vec<String>> {
        let mut out = vec![Vec::new(); self.models.len()];
        for c in &self.cells {
            out[c.model].push(self.items[c.item].benchmark.clone());
        }
        for b in &mut out {
            b.sort_unstable();
            b.dedup();
        }
        out
    }

    /// A model's index by name (ASCII case-insensitive), through a hash index
    /// built on first use: reference rulers look up every member of every
    /// family.
    pub fn model_index(&self, name: &str) -> Option<usize> {
        self.index
            .get_or_init(|| {
                let mut index = HashMap::new();
                for (i, m) in self.models.iter().enumerate() {
                    index.entry(m.to_ascii_lowercase()).or_insert(i);
                }
                index
            })
            .get(&name.to_ascii_lowercase())
            .copied()
    }

    /// From a registry: every kept score of every model (used and alternates)
    /// with at least `min_benchmarks` distinct benchmarks; the others are
    /// listed in [`CellData::excluded`].
    pub fn from_registry(
        reg: &Registry,
        protocols: Protocols,
        min_benchmarks: usize,
    ) -> Result<CellData> {
        if min_benchmarks < 2 {
            return Err(Error::Invalid(format!(
                "--min-benchmarks {min_benchmarks}: a capability needs at least 2 benchmarks \
                 (one score fits any capability exactly)"
            )));
        }
        let standard = standard_shots(reg);
        let mut b = Builder::default();
        for m in &reg.models {
            let scores: Vec<(Benchmark, &Score)> = m
                .scores
                .iter()
                .map(|(k, s)| (*k, s))
                .chain(m.alternates.iter().map(|(k, s)| (*k, s)))
                .collect();
            let mut distinct: Vec<Benchmark> = scores.iter().map(|(k, _)| *k).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() < min_benchmarks {
                b.excluded.push((
                    m.name.clone(),
                    format!(
                        "{}:{}: {} benchmark(s) < --min-benchmarks {min_benchmarks}: no capability",
                        m.file,
                        m.line,
                        distinct.len()
                    ),
                ));
                continue;
            }
            let model = b.model(&m.name, &m.family);
            for (k, s) in scores {
                let variant = Variant::of(s, standard.get(&k).copied().flatten());
                let def = k.def();
                let item = b.item(k.key(), def.chance / 100.0, def.items, variant, protocols);
                b.cells.push(Cell {
                    model,
                    item,
                    y: s.value,
                    origin: s.origin.clone(),
                });
            }
        }
        b.finish()
    }

    /// From a long table with columns `model,benchmark,score,chance` (score
    /// and chance as fractions in [0, 1]; optional `family` and `items`). One
    /// protocol per benchmark; a repeated (model, benchmark) is an error.
    pub fn from_long(table: &Table, min_benchmarks: usize) -> Result<CellData> {
        table.require(&["model", "benchmark", "score", "chance"])?;
        let mut b = Builder::default();
        let mut rows: BTreeMap<String, Vec<LongScore>> = BTreeMap::new();
        let mut seen: HashMap<(String, String), u64> = HashMap::new();
        let mut family: HashMap<String, String> = HashMap::new();
        for row in table.rows() {
            let model = row.required("model")?.to_string();
            let bench = row.required("benchmark")?.to_string();
            let score = row.number("score")?;
            if !(0.0..=1.0).contains(&score) {
                return Err(row.error("score", format!("{score} is outside [0, 1]")));
            }
            let chance = row.number("chance")?;
            if !(0.0..1.0).contains(&chance) {
                return Err(row.error("chance", format!("{chance} is outside [0, 1)")));
            }
            let items = row.opt_count("items")?;
            if let Some(first) = seen.insert((model.clone(), bench.clone()), row.line) {
                return Err(row.error(
                    "benchmark",
                    format!("second `{bench}` score for `{model}` (first on line {first})"),
                ));
            }
            let fam = row.text("family").unwrap_or(&model).to_string();
            family.insert(model.clone(), fam);
            let origin = format!("{}:{}", table.name, row.line);
            rows.entry(model)
                .or_default()
                .push((bench, score, chance, items, origin));
        }
        for (model, scores) in rows {
            if scores.len() < min_benchmarks {
                b.excluded.push((
                    model,
                    format!("{} benchmark(s) < {min_benchmarks}", scores.len()),
                ));
                continue;
            }
            let mi = b.model(&model, &family[&model]);
            for (bench, y, chance, items, origin) in scores {
                let item = b.item(&bench, chance, items, Variant::Standard, Protocols::Pooled);
                if (b.benches[b.items[item].bench].chance - chance).abs() > 1e-12 {
                    return Err(Error::Invalid(format!(
                        "{origin}: benchmark `{bench}` has two chance levels"
                    )));
                }
                b.cells.push(Cell {
                    model: mi,
                    item,
                    y,
                    origin,
                });
            }
        }
        b.finish()
    }
}

/// One long-table score: benchmark, score, chance, item count, `file:line`.
type LongScore = (String, f64, f64, Option<u32>, String);

/// Per benchmark: the catalog's standard shots, else the most common stated
/// shots among the registry's scores (ties: the fewer shots).
fn standard_shots(reg: &Registry) -> HashMap<Benchmark, Option<u32>> {
    let mut counts: HashMap<Benchmark, BTreeMap<u32, usize>> = HashMap::new();
    for m in &reg.models {
        for (b, s) in m
            .scores
            .iter()
            .chain(m.alternates.iter().map(|(b, s)| (b, s)))
        {
            if let Some(n) = s.shots {
                *counts.entry(*b).or_default().entry(n).or_default() += 1;
            }
        }
    }
    Benchmark::all()
        .into_iter()
        .map(|b| {
            let common = counts.get(&b).and_then(|c| {
                c.iter()
                    .max_by_key(|(shots, n)| (**n, std::cmp::Reverse(**shots)))
                    .map(|(s, _)| *s)
            });
            (b, b.def().shots.or(common))
        })
        .collect()
}

#[derive(Default)]
struct Builder {
    models: Vec<String>,
    family_of: Vec<usize>,
    families: Vec<String>,
    benches: Vec<Bench>,
    items: Vec<Item>,
    /// (benchmark id, variant) → item.
    item_keys: HashMap<(String, Variant), usize>,
    cells: Vec<Cell>,
    excluded: Vec<(String, String)>,
}

impl Builder {
    fn model(&mut self, name: &str, family: &str) -> usize {
        let f = match self.families.iter().position(|x| x == family) {
            Some(f) => f,
            None => {
                self.families.push(family.to_string());
                self.families.len() - 1
            }
        };
        self.models.push(name.to_string());
        self.family_of.push(f);
        self.models.len() - 1
    }

    fn bench(&mut self, name: String, chance: f64, items: Option<u32>) -> usize {
        match self.benches.iter().position(|b| b.name == name) {
            Some(i) => i,
            None => {
                self.benches.push(Bench {
                    name,
                    chance,
                    items,
                });
                self.benches.len() - 1
            }
        }
    }

    fn item(
        &mut self,
        bench: &str,
        chance: f64,
        items: Option<u32>,
        variant: Variant,
        protocols: Protocols,
    ) -> usize {
        let variant = match protocols {
            Protocols::Pooled => Variant::Standard,
            _ => variant,
        };
        if let Some(&i) = self.item_keys.get(&(bench.to_string(), variant)) {
            return i;
        }
        let block = match (protocols, variant) {
            (Protocols::OwnItem, v) if v != Variant::Standard => {
                format!("{bench} [{}]", v.label())
            }
            _ => bench.to_string(),
        };
        let b = self.bench(block, chance, items);
        self.items.push(Item {
            benchmark: bench.to_string(),
            bench: b,
            variant,
            has_offset: protocols == Protocols::Offset && variant != Variant::Standard,
        });
        self.item_keys
            .insert((bench.to_string(), variant), self.items.len() - 1);
        self.items.len() - 1
    }

    fn finish(self) -> Result<CellData> {
        if self.models.len() < 2 {
            return Err(Error::Invalid(format!(
                "the capability fit needs at least 2 models with enough benchmarks, got {}",
                self.models.len()
            )));
        }
        Ok(CellData {
            models: self.models,
            family_of: self.family_of,
            families: self.families,
            benches: self.benches,
            items: self.items,
            cells: self.cells,
            excluded: self.excluded,
            index: OnceLock::new(),
        })
    }
}
