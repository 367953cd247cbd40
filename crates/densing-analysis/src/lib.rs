//! densing-analysis: the whole analysis as plain functions and types, so the CLI
//! and the Python module are thin layers over one API.
//!
//! [`CalibrationSpec`] says which calibration to build, [`RunOptions`] what else
//! to compute; [`run`] returns an [`Analysis`] (the study, its [`Summary`] and the
//! calibration). [`densities_csv`] and [`report_input`] turn it into the table
//! and the report's plain-data input; nothing here writes files. [`place`]
//! puts one new model against the registry and the trend; [`fit`] fits a
//! single law to a data set; [`predict`] predicts a model from a ladder of runs.

pub mod capability;
pub mod fit;
pub mod limits;
mod output;
mod place;
pub mod predict;
mod report_input;
mod run;
mod scale;
mod sim;
mod spec;
mod trend;

pub use capability::{CapabilityRun, ReferenceRow, Scale, ScaleComparison, ScaleOptions, ScaleRow};
pub use output::densities_csv;
pub use place::{new_model, parse_lm_eval, parse_scores, place, read_lm_eval, Placement};
pub use report_input::report_input;
pub use run::{
    bundled_prices, prices_from, read_prices, run, run_observed, size_text, verdict, Analysis,
    RunOptions, Summary, SweepRow,
};
pub use scale::{capability_figures, run_scaled};
pub use sim::{scale_design, ScaleDesign};
pub use spec::{basis_from_name, density_options, form_from_name, CalibrationSpec, Reference};
pub use trend::{
    fit_estimators, read_trend_table, trend_points_from, trend_report, trend_tests, TrendReport,
};
