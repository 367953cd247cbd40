//! Errors are values that say where the problem is: file, line and field for bad
//! input, and what was expected. `main` prints them once and exits non-zero.

use std::path::Path;

/// Every failure densing-core reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value in a data file is wrong: `file:line: field `name`: message`.
    #[error("{file}:{line}: field `{field}`: {msg}")]
    Field {
        file: String,
        line: u64,
        field: String,
        msg: String,
    },
    /// A whole file is wrong (unreadable, missing column, too few rows).
    #[error("{file}: {msg}")]
    File { file: String, msg: String },
    /// A fit could not be carried out (bad configuration, degenerate data).
    #[error("{0}")]
    Fit(String),
    /// A request that makes no sense (unknown family, bad option value).
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn field(file: &str, line: u64, field: &str, msg: impl Into<String>) -> Self {
        Error::Field {
            file: file.to_string(),
            line,
            field: field.to_string(),
            msg: msg.into(),
        }
    }

    pub fn file(file: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::File {
            file: file.as_ref().display().to_string(),
            msg: msg.into(),
        }
    }
}
