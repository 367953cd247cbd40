//! Scoring requests with the embedded engine: several sequences packed into each
//! forward pass ([`crate::model::Llama::forward_packed`]), prefix KV reuse across
//! and within passes, and the LM head only on the rows whose next token is scored.
//!
//! Prefix reuse: the engine keeps the last sequence it scored and its KV cache.
//! Each sequence of a pass starts from the longest common token prefix with that
//! sequence; when the sequences of a pass share a longer prefix among themselves
//! (a few-shot prompt at the start of a task), that prefix is computed once, alone,
//! and every sequence of the pass starts from it. Attention is causal, so a cached
//! prefix's keys and values are those a full recompute would give, up to f32
//! summation order.

use anyhow::{bail, Result};
use candle_core::Tensor;

use crate::backend::{Backend, ModelIdentity, ScoreError, ScoreRequest, Scored};
use crate::engine::{Engine, SequenceScores};
use crate::model::KvCache;
use crate::request::EncodedRequest;

/// Length of the common prefix of two token sequences.
fn common(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// One sequence to score: tokens, index of the first scored token, and the cache
/// of the prefix it starts from (shorter than `first`).
struct Job<'a> {
    tokens: &'a [u32],
    first: usize,
    cache: KvCache,
}

impl Engine {
    /// Score `tokens[first..]`, each given all tokens before it, in one forward
    /// pass (with no cache). `first` must be ≥ 1.
    pub fn score_tokens(&self, tokens: &[u32], first: usize) -> Result<SequenceScores> {
        let job = Job {
            tokens,
            first,
            cache: KvCache::empty(),
        };
        let (mut scores, _) = self.score_pass(&[job])?;
        Ok(scores.pop().expect("one sequence"))
    }

    /// Score several token sequences (`(tokens, first)`, as [`Engine::score_tokens`])
    /// in packed forward passes of at most [`Engine::batch`] sequences, without the
    /// prefix cache.
    pub fn score_many(&self, seqs: &[(&[u32], usize)]) -> Result<Vec<SequenceScores>> {
        let mut out = Vec::with_capacity(seqs.len());
        for group in seqs.chunks(self.batch) {
            let jobs: Vec<Job> = group
                .iter()
                .map(|&(tokens, first)| Job {
                    tokens,
                    first,
                    cache: KvCache::empty(),
                })
                .collect();
            out.extend(self.score_pass(&jobs)?.0);
        }
        Ok(out)
    }

    /// One packed forward pass over `jobs`; returns each job's scores and the
    /// cache of all its tokens.
    fn score_pass(&self, jobs: &[Job]) -> Result<(Vec<SequenceScores>, Vec<KvCache>)> {
        for j in jobs {
            if j.first == 0 || j.first >= j.tokens.len() || j.cache.len() >= j.first {
                bail!(
                    "bad scoring range: first={}, cached={}, tokens={}",
                    j.first,
                    j.cache.len(),
                    j.tokens.len()
                );
            }
        }
        let inputs: Vec<(&[u32], &KvCache)> = jobs
            .iter()
            .map(|j| (&j.tokens[j.cache.len()..], &j.cache))
            .collect();
        let (hidden, caches) = self.model.forward_packed(&inputs)?;
        // Row r of a job's block is position cache.len() + r; it predicts the token
        // after it. Only positions first-1 .. len-2 are scored.
        let mut rows = Vec::new();
        let mut next = Vec::new();
        let mut offset = 0;
        for j in jobs {
            let start = j.cache.len();
            rows.extend((j.first - 1..j.tokens.len() - 1).map(|p| (offset + p - start) as u32));
            next.extend_from_slice(&j.tokens[j.first..]);
            offset += j.tokens.len() - start;
        }
        let scored = hidden.index_select(&Tensor::new(rows.as_slice(), hidden.device())?, 0)?;
        let mut pairs = self.model.next_token_logprobs(&scored, &next)?.into_iter();
        let scores = jobs
            .iter()
            .map(|j| {
                let (logprobs, greedy) = pairs.by_ref().take(j.tokens.len() - j.first).unzip();
                SequenceScores { logprobs, greedy }
            })
            .collect();
        Ok((scores, caches))
    }

    /// Score one pass's worth of encoded requests, reusing and updating the
    /// prefix cache (see the module documentation).
    fn score_group(&self, seqs: &[(Vec<u32>, usize)]) -> Result<Vec<SequenceScores>> {
        let Some(slot) = &self.prefix_cache else {
            let seqs: Vec<(&[u32], usize)> = seqs.iter().map(|(t, f)| (t.as_slice(), *f)).collect();
            return self.score_many(&seqs);
        };
        let mut slot = slot
            .lock()
            .map_err(|_| anyhow::anyhow!("prefix cache poisoned"))?;
        let empty = (Vec::new(), KvCache::empty());
        let (prev, prev_cache) = slot.as_ref().unwrap_or(&empty);
        // Reusable from the previous sequence: the common prefix, short of `first`.
        let reuse =
            |tokens: &[u32], limit: usize| common(prev, tokens).min(limit).min(prev_cache.len());
        // The prefix every sequence of the pass shares, short of each one's `first`.
        let (lead, _) = &seqs[0];
        let shared = seqs
            .iter()
            .map(|(t, f)| common(lead, t).min(f - 1))
            .min()
            .unwrap_or(0);
        let from_prev = reuse(lead.as_slice(), shared);
        let shared_cache = if seqs.len() > 1 && shared > from_prev {
            let start = prev_cache.truncated(from_prev)?;
            Some(self.model.forward(&lead[from_prev..shared], &start)?.1)
        } else {
            None
        };
        let mut jobs = Vec::with_capacity(seqs.len());
        for (tokens, first) in seqs {
            let own = reuse(tokens.as_slice(), first - 1);
            let cache = match &shared_cache {
                Some(c) if shared >= own => c.clone(),
                _ => prev_cache.truncated(own)?,
            };
            jobs.push(Job {
                tokens: tokens.as_slice(),
                first: *first,
                cache,
            });
        }
        let (scores, mut caches) = self.score_pass(&jobs)?;
        let last = seqs.last().expect("a sequence").0.clone();
        *slot = Some((last, caches.pop().expect("a cache")));
        Ok(scores)
    }
}

impl Backend for Engine {
    fn model_id(&self) -> ModelIdentity {
        self.identity.clone()
    }

    /// Requests are encoded one by one (an unscorable one is an item error), then
    /// scored in order in passes of at most [`Engine::batch`] sequences.
    fn score(&self, requests: &[ScoreRequest]) -> Vec<Result<Scored, ScoreError>> {
        let mut out: Vec<Option<Result<Scored, ScoreError>>> =
            requests.iter().map(|_| None).collect();
        let mut ready: Vec<(usize, EncodedRequest)> = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            match self.encode_request(r) {
                Ok(enc) => ready.push((i, enc)),
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        for group in ready.chunks(self.batch) {
            let seqs: Vec<(Vec<u32>, usize)> = group
                .iter()
                .map(|(_, enc)| (enc.sequence(), enc.context.len()))
                .collect();
            match self.score_group(&seqs) {
                Ok(scores) => {
                    for ((i, enc), s) in group.iter().zip(scores) {
                        out[*i] = Some(Ok(Scored {
                            greedy_match: s.greedy == enc.continuation,
                            token_ids: enc.continuation.clone(),
                            token_logprobs: s.logprobs,
                            bytes: requests[*i].continuation.len(),
                            join_mismatch: enc.join_mismatch,
                        }));
                    }
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    for (i, _) in group {
                        out[*i] = Some(Err(ScoreError::Backend(anyhow::anyhow!("{msg}"))));
                    }
                }
            }
        }
        out.into_iter()
            .map(|r| r.expect("every request answered"))
            .collect()
    }
}
