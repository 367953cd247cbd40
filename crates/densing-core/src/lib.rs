//! densing-core: the math of capability density, free of any inference engine.
//!
//! Data flows one way: validated inputs ([`data`], [`registry`], [`benchmark`]) → fitted laws
//! ([`fit`], [`loss`], [`score`]) with bootstrap uncertainty ([`bootstrap`]) →
//! calibrations N ↦ S ([`calibration`]) → densities ρ = N̂/N ([`density`]) →
//! the trend `ln ρ_max = A·t + B` ([`trend`]). [`predict`] chains the two
//! steps on a ladder of training runs to forecast an untrained model.

pub mod benchmark;
pub mod bootstrap;
pub mod calibration;
pub mod capability;
pub mod data;
pub mod density;
pub mod error;
pub mod family;
pub mod fit;
pub mod law;
pub mod lbfgs;
pub mod loss;
pub mod newton;
pub mod predict;
pub mod problem;
pub mod registry;
mod registry_load;
pub mod score;
pub mod study;
pub mod table;
pub mod trend;
pub mod validate;

pub use error::{Error, Result};
