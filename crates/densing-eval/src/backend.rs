//! The one trait every scoring engine implements (embedded candle, HTTP servers).
//!
//! A backend answers a single question: given a `context` string, what is the
//! log-probability of each token of the `continuation` string? Everything else —
//! task formats, the results store, summaries — is built on top of [`Backend`] and
//! takes `&dyn Backend`, so a new engine plugs in without touching them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How the context/continuation join is tokenised ([`crate::request`] implements
/// both). It lives here because a [`ModelIdentity`] carries it as a results-store key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Boundary {
    /// lm-evaluation-harness's rule (see [`crate::request`]).
    #[default]
    Harness,
    /// Joint split when clean, else the continuation encoded on its own.
    Separate,
}

impl fmt::Display for Boundary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Boundary::Harness => "harness",
            Boundary::Separate => "separate",
        })
    }
}

/// Who produced a score: the key the results store files results under, so that a
/// changed model or tokenizer never reuses stale results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelIdentity {
    /// `sha256:<hex>` of the model file for embedded engines, or
    /// `server:<declared model id>` for an HTTP endpoint.
    pub model: String,
    /// `sha256:<hex>` of the tokenizer's canonical serialisation (its vocabulary,
    /// merges, pre-tokenizer and special tokens), or `server` when it is unknown.
    pub tokenizer: String,
    /// Human-readable name (the model file's stem or the server's model id).
    pub name: String,
    /// Largest number of tokens (context + continuation, BOS included) the model
    /// can score in one sequence, when known.
    pub context_window: Option<usize>,
    /// The numeric path, e.g. `matmul=f32,device=cpu` (embedded) or `server`: a
    /// results-store key, so resuming on another path never mixes results.
    pub numerics: String,
    /// How requests are tokenised at the context/continuation join; a results-store
    /// key (part of the record's template version).
    pub boundary: Boundary,
}

impl ModelIdentity {
    /// A short, filesystem-safe directory name for this identity: the name plus the
    /// first 12 hex digits of the model hash (or a hash of the server id).
    pub fn slug(&self) -> String {
        use sha2::{Digest, Sha256};
        let hex = match self.model.strip_prefix("sha256:") {
            Some(h) => h.to_string(),
            None => format!("{:x}", Sha256::digest(self.model.as_bytes())),
        };
        let name: String = self
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{name}-{}", &hex[..12.min(hex.len())])
    }
}

/// One conditional-scoring request: score `continuation` given `context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreRequest {
    pub context: String,
    pub continuation: String,
}

/// The score of one request's continuation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// Token ids of the continuation as scored.
    pub token_ids: Vec<u32>,
    /// `log p(token_i | context, tokens before i)` in nats, one per continuation token.
    pub token_logprobs: Vec<f32>,
    /// UTF-8 byte length of the continuation string (for bits-per-byte).
    pub bytes: usize,
    /// Whether every continuation token was the model's argmax (greedy) prediction.
    pub greedy_match: bool,
    /// The encoded context was not a prefix of the joint encoding (a token spans the
    /// join; see [`crate::EncodedRequest::join_mismatch`]); flagged in summaries.
    pub join_mismatch: bool,
}

impl Scored {
    /// Number of continuation tokens.
    pub fn tokens(&self) -> usize {
        self.token_logprobs.len()
    }

    /// Summed log-probability of the continuation, `Σ_i log p(t_i | …)`, in nats,
    /// accumulated in f64.
    pub fn logprob_sum(&self) -> f64 {
        self.token_logprobs.iter().map(|&l| f64::from(l)).sum()
    }
}

/// Why a request could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    /// This item cannot be scored (too long for the context window, empty
    /// continuation, …); other items can. `densing eval --skip-bad` counts these.
    #[error("{0}")]
    Item(String),
    /// The backend itself failed (I/O, server down, tensor error): abort the run.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

/// A scoring engine. Implementations must be usable from several threads.
pub trait Backend: Send + Sync {
    /// The identity the results store keys results by.
    fn model_id(&self) -> ModelIdentity;

    /// Score each request; the answer has one entry per request, in order.
    /// Engines may exploit shared prefixes between consecutive requests (few-shot
    /// prompts), so callers should keep items that share a prompt together.
    fn score(&self, requests: &[ScoreRequest]) -> Vec<Result<Scored, ScoreError>>;

    /// Why this backend's numbers may not be comparable with the embedded engine's
    /// (e.g. continuations located by text offsets); copied into every summary.
    fn caveats(&self) -> Vec<String> {
        Vec::new()
    }
}
