//! Loading and checking a registry: every table goes through
//! [`Registry::layer_with`] (loading) or [`Registry::check`] (`densing models
//! check`), both applying [`crate::validate`]'s rules, with hash lookups so a
//! table of n rows costs O(n) beyond parsing.

use crate::error::{Error, Result};
use crate::registry::RowPolicy;
use crate::registry::{
    is_score_table, model_from_row, name_key, score_from_row, today, Benchmark, Dropped, Model,
    Registry, Replacement, Score, BUNDLED_CSV, BUNDLED_NAME, BUNDLED_SCORES_CSV,
    BUNDLED_SCORES_NAME, REQUIRED, SCORE_COLUMNS,
};
use crate::table::Table;
use crate::validate::{model_problems, score_problems};
use chrono::NaiveDate;
use std::collections::HashMap;

/// What makes two long-table scores the same entry: model, benchmark, shots and
/// protocol (case-insensitive), as [`Score::same_protocol`] compares them.
type ScoreKey = (String, Benchmark, Option<u32>, Option<String>);

fn score_key(model: &str, b: Benchmark, s: &Score) -> ScoreKey {
    (
        name_key(model),
        b,
        s.shots,
        s.protocol.as_deref().map(str::to_ascii_lowercase),
    )
}

fn repeated_score(b: Benchmark, model: &str, score: &Score, first: u64) -> String {
    format!(
        "second {b} score for `{model}` under {} (first on line {first})",
        score.protocol.as_deref().unwrap_or("an unstated protocol")
    )
}

fn duplicate_model(m: &Model, first: u64) -> Error {
    Error::field(
        &m.file,
        m.line,
        "model",
        format!("duplicate model `{}` (first on line {first})", m.name),
    )
}

fn missing_parent(m: &Model, parent: &str) -> Error {
    Error::field(
        &m.file,
        m.line,
        "parent",
        format!("parent `{parent}` of `{}` is not in the registry", m.name),
    )
}

impl Registry {
    /// The bundled models and scores.
    pub fn bundled() -> Result<Registry> {
        Registry::layered(&[])
    }

    /// The bundled registry with user files layered on top, in order: models
    /// files first, then score tables (a file is a score table when it has
    /// `benchmark` and `value` columns), so scores attach to the final rows.
    /// Every row must pass [`crate::validate`]'s rules.
    pub fn layered(files: &[std::path::PathBuf]) -> Result<Registry> {
        Registry::layered_with(files, RowPolicy::Strict)
    }

    /// [`Registry::layered`] under a policy for rows that break a rule.
    pub fn layered_with(files: &[std::path::PathBuf], policy: RowPolicy) -> Result<Registry> {
        let mut tables = vec![
            Table::parse(BUNDLED_NAME, BUNDLED_CSV)?,
            Table::parse(BUNDLED_SCORES_NAME, BUNDLED_SCORES_CSV)?,
        ];
        for f in files {
            tables.push(Table::read(f)?);
        }
        Registry::from_tables(tables, policy)
    }

    /// Only the given files, without the bundled models and scores (`--no-bundled`):
    /// models files first, then score tables, as in [`Registry::layered`]. The
    /// bundled benchmark catalog still defines the benchmarks.
    pub fn from_files(files: &[std::path::PathBuf], policy: RowPolicy) -> Result<Registry> {
        let tables = files
            .iter()
            .map(|f| Table::read(f))
            .collect::<Result<Vec<_>>>()?;
        if tables.iter().all(is_score_table) {
            return Err(Error::Invalid(
                "without the bundled registry, --registry must name at least one models file \
                 (columns model,family,params_billion,release_date,...); score tables attach to its models"
                    .into(),
            ));
        }
        Registry::from_tables(tables, policy)
    }

    /// Layer `tables` in order, models files before score tables, so scores
    /// attach to the final rows.
    fn from_tables(mut tables: Vec<Table>, policy: RowPolicy) -> Result<Registry> {
        let mut reg = Registry::empty();
        tables.sort_by_key(is_score_table);
        for t in &tables {
            reg.layer_with(t, policy)?;
        }
        reg.finish_with(policy)?;
        Ok(reg)
    }

    /// A registry from models-table text alone (no bundled data), every row
    /// checked by [`crate::validate`]'s rules.
    pub fn parse(name: &str, text: &str) -> Result<Registry> {
        let mut reg = Registry::empty();
        reg.layer(&Table::parse(name, text)?)?;
        reg.finish()?;
        Ok(reg)
    }

    fn empty() -> Registry {
        Registry {
            name: String::new(),
            models: Vec::new(),
            replacements: Vec::new(),
            dropped: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// Add one table, refusing it at its first bad row (see
    /// [`Registry::layer_with`]).
    pub fn layer(&mut self, table: &Table) -> Result<()> {
        self.layer_with(table, RowPolicy::Strict)
    }

    /// Add one table: model rows replace same-named models; scores must name a
    /// known model and replace its score on the same benchmark under the same
    /// protocol (see [`Model::add_score`]). A row that does not parse or breaks
    /// a rule of [`crate::validate`] fails the table under
    /// [`RowPolicy::Strict`] and is dropped into [`Registry::dropped`] under
    /// [`RowPolicy::Lenient`]. Hash lookups keep it O(rows) per table.
    pub fn layer_with(&mut self, table: &Table, policy: RowPolicy) -> Result<()> {
        if is_score_table(table) {
            self.layer_scores(table, policy)?;
        } else {
            self.layer_models(table, policy, today())?;
        }
        if !self.name.is_empty() {
            self.name.push_str(" + ");
        }
        self.name.push_str(&table.name);
        Ok(())
    }

    fn layer_models(&mut self, table: &Table, policy: RowPolicy, today: NaiveDate) -> Result<()> {
        table.require(&REQUIRED)?;
        let mut seen: HashMap<String, u64> = HashMap::new();
        for row in table.rows() {
            let origin = format!("{}:{}", table.name, row.line);
            let m = match model_from_row(&row, &table.name) {
                Ok(m) => m,
                Err(e) => {
                    self.reject(policy, origin, vec![e])?;
                    continue;
                }
            };
            let mut problems = Vec::new();
            if let Some(first) = seen.get(&name_key(&m.name)) {
                problems.push(duplicate_model(&m, *first));
            }
            problems.extend(model_problems(&m, today));
            if !problems.is_empty() {
                self.reject(policy, origin, problems)?;
                continue;
            }
            seen.insert(name_key(&m.name), row.line);
            self.insert(m);
        }
        Ok(())
    }

    /// Put a model in, replacing (and recording) a same-named one.
    fn insert(&mut self, m: Model) {
        match self.index.get(&name_key(&m.name)) {
            Some(&i) => {
                let old = std::mem::replace(&mut self.models[i], m);
                self.replacements.push(Replacement {
                    model: self.models[i].name.clone(),
                    benchmark: None,
                    old: old.origin(),
                    new: self.models[i].origin(),
                });
            }
            None => {
                self.index.insert(name_key(&m.name), self.models.len());
                self.models.push(m);
            }
        }
    }

    fn layer_scores(&mut self, table: &Table, policy: RowPolicy) -> Result<()> {
        table.require(&SCORE_COLUMNS)?;
        let mut seen: HashMap<ScoreKey, u64> = HashMap::new();
        for row in table.rows() {
            let origin = format!("{}:{}", table.name, row.line);
            let (model, b, score) = match score_from_row(&row, &table.name) {
                Ok(s) => s,
                Err(e) => {
                    self.reject(policy, origin, vec![e])?;
                    continue;
                }
            };
            let key = score_key(&model, b, &score);
            let mut problems = Vec::new();
            if let Some(first) = seen.get(&key) {
                problems.push(row.error("benchmark", repeated_score(b, &model, &score, *first)));
            }
            let target = self.index.get(&name_key(&model)).copied();
            if target.is_none() {
                problems.push(row.error(
                    "model",
                    format!("model `{model}` is in no models file loaded before this one"),
                ));
            }
            problems.extend(score_problems(&score, &table.name, row.line));
            let Some(i) = target.filter(|_| problems.is_empty()) else {
                self.reject(policy, origin, problems)?;
                continue;
            };
            seen.insert(key, row.line);
            let m = &mut self.models[i];
            let new = score.origin.clone();
            if let Some(old) = m.add_score(b, score) {
                self.replacements.push(Replacement {
                    model: m.name.clone(),
                    benchmark: Some(b),
                    old: old.origin,
                    new,
                });
            }
        }
        Ok(())
    }

    /// A bad row: the first problem as the error (strict), or the row recorded
    /// as dropped (lenient).
    fn reject(&mut self, policy: RowPolicy, origin: String, problems: Vec<Error>) -> Result<()> {
        match policy {
            RowPolicy::Strict => Err(problems
                .into_iter()
                .next()
                .unwrap_or_else(|| Error::file(&origin, "rejected"))),
            RowPolicy::Lenient => {
                self.dropped.push(Dropped {
                    origin,
                    problems: problems.iter().map(Error::to_string).collect(),
                });
                Ok(())
            }
        }
    }

    /// Checks on the whole: every parent is a model, and there is a model.
    /// Run it after the last [`Registry::layer`].
    pub fn finish(&mut self) -> Result<()> {
        self.finish_with(RowPolicy::Strict)
    }

    /// [`Registry::finish`]; under [`RowPolicy::Lenient`] a model whose parent
    /// is missing (perhaps dropped itself) is dropped too.
    pub fn finish_with(&mut self, policy: RowPolicy) -> Result<()> {
        loop {
            let orphans: Vec<usize> = (0..self.models.len())
                .filter(|&i| {
                    let m = &self.models[i];
                    m.parent.as_ref().is_some_and(|p| self.get(p).is_none())
                })
                .collect();
            if orphans.is_empty() {
                break;
            }
            for &i in &orphans {
                let m = &self.models[i];
                let e = missing_parent(m, m.parent.as_deref().unwrap_or_default());
                let origin = m.origin();
                self.reject(policy, origin, vec![e])?;
            }
            let mut i = 0;
            self.models.retain(|_| {
                i += 1;
                !orphans.contains(&(i - 1))
            });
            self.reindex();
        }
        if self.models.is_empty() {
            return Err(Error::file(&self.name, "no models"));
        }
        Ok(())
    }

    fn reindex(&mut self) {
        self.index = (self.models.iter().enumerate())
            .map(|(i, m)| (name_key(&m.name), i))
            .collect();
    }

    /// Strict validation of one table (models or scores) layered on `self`:
    /// every problem, each as `file:line: field`, or none. Rows that do not
    /// parse are reported and the rest are still checked. The rules are the
    /// ones loading enforces ([`crate::validate`]); hash lookups keep it
    /// O(rows).
    pub fn check(&self, table: &Table, today: NaiveDate) -> Vec<Error> {
        let mut errors = if is_score_table(table) {
            self.check_scores(table)
        } else {
            self.check_models(table, today)
        };
        if table.is_empty() {
            errors.push(Error::file(&table.name, "no rows"));
        }
        errors
    }

    fn check_scores(&self, table: &Table) -> Vec<Error> {
        if let Err(e) = table.require(&SCORE_COLUMNS) {
            return vec![e];
        }
        let mut errors = Vec::new();
        let mut seen: HashMap<ScoreKey, u64> = HashMap::new();
        for row in table.rows() {
            match score_from_row(&row, &table.name) {
                Ok((model, b, score)) => {
                    let key = score_key(&model, b, &score);
                    if let Some(first) = seen.get(&key) {
                        errors.push(
                            row.error("benchmark", repeated_score(b, &model, &score, *first)),
                        );
                    } else {
                        seen.insert(key, row.line);
                    }
                    if self.get(&model).is_none() {
                        errors.push(
                            row.error("model", format!("model `{model}` is not in {}", self.name)),
                        );
                    }
                    errors.extend(score_problems(&score, &table.name, row.line));
                }
                Err(e) => errors.push(e),
            }
        }
        errors
    }

    fn check_models(&self, table: &Table, today: NaiveDate) -> Vec<Error> {
        if let Err(e) = table.require(&REQUIRED) {
            return vec![e];
        }
        let mut errors = Vec::new();
        let mut models: Vec<Model> = Vec::new();
        for row in table.rows() {
            match model_from_row(&row, &table.name) {
                Ok(m) => models.push(m),
                Err(e) => errors.push(e),
            }
        }
        let mut first_line: HashMap<String, u64> = HashMap::new();
        for m in &models {
            first_line.entry(name_key(&m.name)).or_insert(m.line);
        }
        for m in &models {
            if let Some(&first) = first_line.get(&name_key(&m.name)).filter(|l| **l != m.line) {
                errors.push(duplicate_model(m, first));
            }
            if let Some(p) = &m.parent {
                if self.get(p).is_none() && !first_line.contains_key(&name_key(p)) {
                    errors.push(missing_parent(m, p));
                }
            }
            errors.extend(model_problems(m, today));
        }
        errors
    }
}
