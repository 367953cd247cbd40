//! A small validated CSV reader shared by every data file densing reads.
//!
//! All bundled and user files are CSV whose leading `#` lines name their source;
//! those lines are skipped. Each row is read by column *name*, so extra columns are
//! ignored and column order does not matter, and every error names the file, the
//! line (as an editor shows it, comment lines counted) and the field.

use crate::error::{Error, Result};
use std::collections::HashMap;

/// One data row with its 1-based line number in the file.
pub struct Row<'t> {
    table: &'t Table,
    record: &'t csv::StringRecord,
    pub line: u64,
}

/// A parsed CSV file: header map plus records.
pub struct Table {
    pub name: String,
    columns: HashMap<String, usize>,
    records: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    /// Parse CSV text; `name` is what error messages call the file. A UTF-8
    /// byte-order mark (as spreadsheet programs write) is skipped and CRLF line
    /// ends read like LF.
    pub fn parse(name: &str, text: &str) -> Result<Table> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // The csv crate numbers CRLF records one line short: read them as LF.
        let lf;
        let text = if text.contains('\r') {
            lf = text.replace("\r\n", "\n");
            lf.as_str()
        } else {
            text
        };
        // Line numbers must count the `#` lines too, so strip them here (keeping
        // an offset) rather than letting the csv crate drop them silently.
        let skipped = text.lines().take_while(|l| l.starts_with('#')).count() as u64;
        let body_start: usize = text
            .split_inclusive('\n')
            .take(skipped as usize)
            .map(str::len)
            .sum();
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(&text.as_bytes()[body_start..]);
        let headers = reader
            .headers()
            .map_err(|e| Error::file(name, format!("cannot read the header line: {e}")))?
            .clone();
        if headers.is_empty() || (headers.len() == 1 && headers[0].is_empty()) {
            return Err(Error::file(name, "no header line"));
        }
        let columns = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.to_ascii_lowercase(), i))
            .collect();
        let mut records = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line() + skipped);
                Error::field(name, line, "-", format!("malformed CSV row: {e}"))
            })?;
            let line = rec.position().map_or(0, |p| p.line()) + skipped;
            records.push((line, rec));
        }
        Ok(Table {
            name: name.to_string(),
            columns,
            records,
        })
    }

    /// Read a file from disk.
    pub fn read(path: &std::path::Path) -> Result<Table> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        Table::parse(&path.display().to_string(), &text)
    }

    pub fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// Fail unless every named column is present.
    pub fn require(&self, columns: &[&str]) -> Result<()> {
        for c in columns {
            if !self.has(c) {
                return Err(Error::field(
                    &self.name,
                    self.header_line(),
                    c,
                    format!("required column `{c}` is missing from the header"),
                ));
            }
        }
        Ok(())
    }

    fn header_line(&self) -> u64 {
        self.records
            .first()
            .map_or(1, |(l, _)| l.saturating_sub(1).max(1))
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.records.iter().map(move |(line, record)| Row {
            table: self,
            record,
            line: *line,
        })
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

impl Row<'_> {
    /// The trimmed text of a column, `None` when the column is absent or blank.
    pub fn text(&self, column: &str) -> Option<&str> {
        let i = *self.table.columns.get(column)?;
        self.record.get(i).filter(|s| !s.is_empty())
    }

    pub fn error(&self, field: &str, msg: impl Into<String>) -> Error {
        Error::field(&self.table.name, self.line, field, msg)
    }

    /// A required non-blank text.
    pub fn required(&self, column: &str) -> Result<&str> {
        self.text(column)
            .ok_or_else(|| self.error(column, "is empty"))
    }

    /// An optional whole number ≥ 0, such as a shot count (blank → `None`).
    pub fn opt_count(&self, column: &str) -> Result<Option<u32>> {
        match self.opt_number(column)? {
            Some(v) if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 => Ok(Some(v as u32)),
            Some(v) => Err(self.error(column, format!("{v} is not a whole number ≥ 0"))),
            None => Ok(None),
        }
    }

    /// A required finite number.
    pub fn number(&self, column: &str) -> Result<f64> {
        let raw = self
            .text(column)
            .ok_or_else(|| self.error(column, "is empty; a number is required"))?;
        self.parse_number(column, raw)
    }

    /// An optional finite number (blank → `None`).
    pub fn opt_number(&self, column: &str) -> Result<Option<f64>> {
        self.text(column)
            .map(|raw| self.parse_number(column, raw))
            .transpose()
    }

    fn parse_number(&self, column: &str, raw: &str) -> Result<f64> {
        let v: f64 = raw
            .parse()
            .map_err(|_| self.error(column, format!("`{raw}` is not a number")))?;
        if !v.is_finite() {
            return Err(self.error(column, format!("`{raw}` is not a finite number")));
        }
        Ok(v)
    }

    /// A required number that must be strictly positive.
    pub fn positive(&self, column: &str) -> Result<f64> {
        let v = self.number(column)?;
        if v <= 0.0 {
            return Err(self.error(column, format!("must be > 0, got {v}")));
        }
        Ok(v)
    }

    /// An optional yes/no flag (`yes`/`no`, `true`/`false`, `1`/`0`; blank = false).
    pub fn flag(&self, column: &str) -> Result<bool> {
        match self.text(column).map(str::to_ascii_lowercase).as_deref() {
            None | Some("no" | "false" | "0") => Ok(false),
            Some("yes" | "true" | "1") => Ok(true),
            Some(other) => Err(self.error(column, format!("`{other}` is not yes/no"))),
        }
    }
}
