//! `densing-eval`: conditional-loss evaluation of language models.
//!
//! `L = -log P(continuation | context)` per benchmark item, computed by an engine
//! behind the [`backend::Backend`] trait, over task formats (BBH, HumanEval,
//! multiple choice, generic JSONL), into a resumable append-only results store.

pub mod backend;
pub mod engine;
pub mod hf_tokenizer;
pub mod linear;
pub mod memory;
pub mod model;
pub mod request;
pub mod runner;
mod scoring;
pub mod store;
pub mod tasks;
pub mod tokenizer;
pub mod weights;

pub use backend::{Backend, Boundary, ModelIdentity, ScoreError, ScoreRequest, Scored};
pub use engine::{Engine, EngineOptions, SequenceScores};
pub use model::MatmulMode;
pub use request::{encode_prompt, encode_request, Encode, EncodedRequest};
pub use runner::{run_task, Observer, RunOptions, RunOutcome};
pub use store::{ItemRecord, ResultStore, Summary};
pub use tasks::{Item, TaskKind, TaskSet};
pub use tokenizer::TextTokenizer;
