//! `densing-http`: scoring through OpenAI-compatible completion servers (vLLM,
//! llama.cpp-style servers, `densing serve`) and serving the embedded engine the
//! same way.
//!
//! - [`protocol`]: request bodies and reply parsing (both log-prob schemas), pure.
//! - [`probe`]: the known-answer check that refuses misaligned servers.
//! - [`client`]: endpoints, timeouts, bounded retries with backoff.
//! - [`backend`]: [`HttpBackend`], a `densing_eval::Backend` with many requests in flight.
//! - [`server`]: `densing serve`; [`tokenizer_api`]: its vLLM tokenizer routes.

pub mod backend;
pub mod client;
pub mod probe;
pub mod protocol;
pub mod server;
pub mod tokenizer_api;

pub use backend::{tokenizer_from_gguf, HttpBackend, HttpOptions};
pub use client::ClientOptions;
pub use server::{serve, ServeOptions};
