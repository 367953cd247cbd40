pub mod fit;
pub mod eval;
pub mod report;
pub mod common;
pub mod models;
pub mod report_input;
pub mod run;
