//! `densing-eval`: conditional-loss evaluation of language models.
//!
//! `L = -log P(continuation | context)` per benchmark item, computed by an engine
//! behind the [`backend::Backend`] trait, over task formats (BBH, HumanEval,
//! multiple choice, generic JSONL), into a resumable append-only results store.

pub mod backend;

pub use backend::{Backend, ModelIdentity, ScoreError, ScoreRequest, Scored};
