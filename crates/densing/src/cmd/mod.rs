pub mod common;
pub mod density;
pub mod eval;
pub mod fit;
pub mod models;
pub mod report;
pub mod run;
pub mod serve;
