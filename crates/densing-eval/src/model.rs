//! A Llama-family decoder (Llama, Mistral, SmolLM2; Qwen2's q/k/v biases) that
//! returns hidden states for *every* position, with a KV cache that can be cut to
//! any prefix length and extended — the two things conditional scoring needs and
//! candle-transformers' `quantized_llama` (last-position logits only) lacks.
//!
//! Per layer, for hidden states `x` (one row per position):
//! `h = x + W_o · attn(rope(W_q·n(x)), rope(W_k·n(x)), W_v·n(x))`,
//! `x' = h + W_down · (silu(W_gate·n(h)) ⊙ W_up·n(h))`, with `n` = RMSNorm
//! (`x / sqrt(mean(x²) + ε) · g`) and causal softmax attention scaled by `1/√d_head`.

use anyhow::{bail, Result};
use candle_core::{DType, Device, Storage, Tensor};
use rayon::prelude::*;

use crate::linear::Linear;
pub use crate::linear::MatmulMode;
use crate::memory::LOGIT_ROWS;

/// How rotary embeddings pair up the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Pairs `(2i, 2i+1)`: GGUF Llama checkpoints (llama.cpp permutes W_q/W_k so).
    Interleaved,
    /// Pairs `(i, i + d/2)`: Hugging Face checkpoints and GGUF Qwen2 ("neox").
    Half,
}

/// Shape hyper-parameters of the decoder.
#[derive(Debug, Clone)]
pub struct LlamaConfig {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub d_model: usize,
    pub head_dim: usize,
    pub rope_base: f32,
    pub rms_eps: f32,
    pub context_len: usize,
    pub rope_style: RopeStyle,
}

/// The longest context window a model may declare. The rotary tables are built for
/// the whole window up front (`context_len × head_dim` f32s, three times over), so an
/// absurd `context_length` in a model file would exhaust memory before any weight is
/// read; 2^20 positions (~0.8 GB of tables at head_dim 128) is beyond any sequence
/// this engine scores.
pub const MAX_CONTEXT: usize = 1 << 20;

impl LlamaConfig {
    /// Refuse shapes no real model has before anything is allocated or divided by
    /// them: zero heads, layers or widths, a head count that is not a multiple of the
    /// KV-head count, an odd head width (rotary pairs), a context window of 0 or
    /// beyond [`MAX_CONTEXT`], a non-positive RoPE base or a negative RMS epsilon.
    pub fn validate(&self) -> Result<()> {
        let c = self;
        let fields = [
            ("block count (layers)", c.n_layer),
            ("attention head count", c.n_head),
            ("attention KV-head count", c.n_kv_head),
            ("embedding length", c.d_model),
            ("head dimension", c.head_dim),
            ("context length", c.context_len),
        ];
        if let Some((what, _)) = fields.iter().find(|(_, v)| *v == 0) {
            bail!("the model's {what} is 0");
        }
        if c.n_head % c.n_kv_head != 0 {
            bail!(
                "{} attention heads are not a multiple of {} KV heads",
                c.n_head,
                c.n_kv_head
            );
        }
        if c.head_dim % 2 != 0 {
            bail!(
                "head dimension {} is odd; rotary embeddings need pairs",
                c.head_dim
            );
        }
        if c.context_len > MAX_CONTEXT {
            bail!(
                "context length {} is beyond the {MAX_CONTEXT} positions this engine supports",
                c.context_len
            );
        }
        if !(c.rope_base.is_finite() && c.rope_base > 0.0) {
            bail!("RoPE base {} is not a positive number", c.rope_base);
        }
        if !(c.rms_eps.is_finite() && c.rms_eps >= 0.0) {
            bail!(
                "RMS-norm epsilon {} is not a non-negative number",
                c.rms_eps
            );
        }
        Ok(())
    }
}

/// Where weights come from. Names follow GGUF's (`blk.{i}.attn_q.weight`, …);
/// other formats translate.
pub trait WeightSource {
    /// A weight matrix `[out, in]`, ready for `y = x·Wᵀ`.
    fn matrix(&mut self, name: &str) -> Result<Linear>;
    /// A vector (norm gains, biases) as an f32 tensor.
    fn vector(&mut self, name: &str) -> Result<Tensor>;
    /// Whether a tensor is present (optional biases, untied output head).
    fn has(&self, name: &str) -> bool;
}

struct Layer {
    attn_norm: Tensor,
    wq: Linear,
    wk: Linear,
    wv: Linear,
    wo: Linear,
    bq: Option<Tensor>,
    bk: Option<Tensor>,
    bv: Option<Tensor>,
    ffn_norm: Tensor,
    w_gate: Linear,
    w_up: Linear,
    w_down: Linear,
}

/// Keys and values of every layer for the first `len` positions of a sequence.
#[derive(Clone)]
pub struct KvCache {
    /// Per layer: `(k, v)`, each `[1, n_kv_head, len, head_dim]`; empty when `len = 0`.
    layers: Vec<(Tensor, Tensor)>,
    len: usize,
}

impl KvCache {
    /// A cache holding no positions.
    pub fn empty() -> KvCache {
        KvCache {
            layers: Vec::new(),
            len: 0,
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cache of the first `n` positions. Valid because attention is causal: the
    /// keys/values of position `p` depend only on tokens `0..=p`.
    pub fn truncated(&self, n: usize) -> Result<KvCache> {
        if n > self.len {
            bail!(
                "cannot truncate a KV cache of {} positions to {n}",
                self.len
            );
        }
        if n == 0 {
            return Ok(KvCache::empty());
        }
        let layers = self
            .layers
            .iter()
            .map(|(k, v)| Ok((k.narrow(2, 0, n)?, v.narrow(2, 0, n)?)))
            .collect::<Result<_>>()?;
        Ok(KvCache { layers, len: n })
    }
}

/// The decoder with its weights.
pub struct Llama {
    cfg: LlamaConfig,
    embed: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    lm_head: Linear,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

fn add_bias(x: Tensor, b: &Option<Tensor>) -> Result<Tensor> {
    Ok(match b {
        Some(b) => x.broadcast_add(b)?,
        None => x,
    })
}

impl Llama {
    /// Build from a weight source. The embedding is gathered by row: kept in bf16
    /// in the bf16 mode, else dequantised to f32; the output head falls back to the
    /// tied embedding.
    pub fn load(cfg: LlamaConfig, w: &mut dyn WeightSource, device: &Device) -> Result<Self> {
        cfg.validate()?;
        let embed_mm = w.matrix("token_embd.weight")?;
        let embed = match &embed_mm {
            Linear::Bf16(t) => t.clone(),
            other => other.dense_f32()?,
        };
        let lm_head = if w.has("output.weight") {
            w.matrix("output.weight")?
        } else {
            embed_mm
        };
        // Not pre-sized: `n_layer` comes from the file, and a missing layer is an error.
        let mut layers = Vec::new();
        for i in 0..cfg.n_layer {
            let p = |s: &str| format!("blk.{i}.{s}");
            let opt = |w: &mut dyn WeightSource, s: &str| -> Result<Option<Tensor>> {
                let n = p(s);
                if w.has(&n) {
                    Ok(Some(w.vector(&n)?))
                } else {
                    Ok(None)
                }
            };
            layers.push(Layer {
                attn_norm: w.vector(&p("attn_norm.weight"))?,
                wq: w.matrix(&p("attn_q.weight"))?,
                wk: w.matrix(&p("attn_k.weight"))?,
                wv: w.matrix(&p("attn_v.weight"))?,
                wo: w.matrix(&p("attn_output.weight"))?,
                bq: opt(w, "attn_q.bias")?,
                bk: opt(w, "attn_k.bias")?,
                bv: opt(w, "attn_v.bias")?,
                ffn_norm: w.vector(&p("ffn_norm.weight"))?,
                w_gate: w.matrix(&p("ffn_gate.weight"))?,
                w_up: w.matrix(&p("ffn_up.weight"))?,
                w_down: w.matrix(&p("ffn_down.weight"))?,
            });
        }
        let norm = w.vector("output_norm.weight")?;
        // Rotary tables: angle(p, i) = p · base^(-2i/d_head), i < d_head/2.
        let half = cfg.head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / cfg.rope_base.powf(2.0 * i as f32 / cfg.head_dim as f32))
            .collect();
        let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
        let pos = Tensor::arange(0u32, cfg.context_len as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((cfg.context_len, 1))?;
        let angles = pos.broadcast_mul(&inv_freq)?;
        Ok(Self {
            cos: angles.cos()?,
            sin: angles.sin()?,
            cfg,
            embed,
            layers,
            norm,
            lm_head,
            device: device.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LlamaConfig {
        &self.cfg
    }

    /// Rows of the embedding: token ids at or above this have no embedding.
    pub fn vocab_size(&self) -> usize {
        self.embed.dims().first().copied().unwrap_or(0)
    }

    fn rope(&self, x: &Tensor, offset: usize, t: usize) -> Result<Tensor> {
        let cos = self.cos.narrow(0, offset, t)?;
        let sin = self.sin.narrow(0, offset, t)?;
        Ok(match self.cfg.rope_style {
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(x, &cos, &sin)?,
            RopeStyle::Half => candle_nn::rotary_emb::rope(x, &cos, &sin)?,
        })
    }

    /// Run `tokens` after the positions held in `cache`. Returns the final-normed
    /// hidden states `[tokens.len(), d_model]` and the cache extended by `tokens`.
    pub fn forward(&self, tokens: &[u32], cache: &KvCache) -> Result<(Tensor, KvCache)> {
        let (hidden, mut caches) = self.forward_packed(&[(tokens, cache)])?;
        Ok((hidden, caches.pop().expect("one sequence")))
    }

    /// Run several sequences in one pass, each `(tokens, cache)` continuing after
    /// the positions its own cache holds. The sequences are packed row after row:
    /// every weight matrix multiplies all their rows at once (one large GEMM
    /// instead of one small GEMM per sequence), while attention, rotary positions
    /// and caches stay per sequence, so each sequence's numbers are those of
    /// [`Llama::forward`] on it alone up to f32 summation order. Returns the
    /// final-normed hidden states `[Σ tokens, d_model]` in input order and each
    /// sequence's extended cache.
    pub fn forward_packed(&self, seqs: &[(&[u32], &KvCache)]) -> Result<(Tensor, Vec<KvCache>)> {
        if seqs.is_empty() || seqs.iter().any(|(t, _)| t.is_empty()) {
            bail!("forward called with no tokens");
        }
        for (tokens, cache) in seqs {
            if cache.len + tokens.len() > self.cfg.context_len {
                bail!(
                    "{} positions exceed the context window of {}",
                    cache.len + tokens.len(),
                    self.cfg.context_len
                );
            }
        }
        let (nh, nkv, hd) = (self.cfg.n_head, self.cfg.n_kv_head, self.cfg.head_dim);
        let rep = nh / nkv;
        let all: Vec<u32> = seqs.iter().flat_map(|(t, _)| t.iter().copied()).collect();
        let ids = Tensor::new(all.as_slice(), &self.device)?;
        let mut x = self.embed.index_select(&ids, 0)?.to_dtype(DType::F32)?;
        // Per sequence: first packed row, rows, cached positions, and the causal mask
        // over [t, past + t]: query i (absolute past+i) sees keys j ≤ past+i.
        let mut spans = Vec::with_capacity(seqs.len());
        let mut row = 0;
        for (tokens, cache) in seqs {
            let (t, past) = (tokens.len(), cache.len);
            let total = past + t;
            let mask: Vec<f32> = (0..t)
                .flat_map(|i| {
                    (0..total).map(move |j| if j > past + i { f32::NEG_INFINITY } else { 0.0 })
                })
                .collect();
            let mask = Tensor::from_vec(mask, (t, total), &self.device)?;
            spans.push((row, t, past, mask));
            row += t;
        }
        let scale = 1.0 / (hd as f64).sqrt();
        let mut new_layers: Vec<Vec<(Tensor, Tensor)>> =
            vec![Vec::with_capacity(self.layers.len()); seqs.len()];
        for (li, layer) in self.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, self.cfg.rms_eps)?;
            let q = add_bias(layer.wq.forward(&h)?, &layer.bq)?;
            let k = add_bias(layer.wk.forward(&h)?, &layer.bk)?;
            let v = add_bias(layer.wv.forward(&h)?, &layer.bv)?;
            let mut ys = Vec::with_capacity(seqs.len());
            for (s, (row, t, past, mask)) in spans.iter().enumerate() {
                let (row, t, past) = (*row, *t, *past);
                let heads = |y: &Tensor, n: usize| -> Result<Tensor> {
                    Ok(y.narrow(0, row, t)?
                        .reshape((1, t, n, hd))?
                        .transpose(1, 2)?
                        .contiguous()?)
                };
                let q = self.rope(&heads(&q, nh)?, past, t)?;
                let k = self.rope(&heads(&k, nkv)?, past, t)?;
                let v = heads(&v, nkv)?;
                let (k_all, v_all) = match seqs[s].1.layers.get(li) {
                    Some((pk, pv)) => (Tensor::cat(&[pk, &k], 2)?, Tensor::cat(&[pv, &v], 2)?),
                    None => (k, v),
                };
                let total = past + t;
                // Grouped-query attention without copying K/V: the `rep` query heads
                // sharing KV head g are stacked along the row axis.
                let qg = q.reshape((1, nkv, rep * t, hd))?;
                let att = (qg.matmul(&k_all.t()?)? * scale)?;
                let att = att.reshape((1, nkv, rep, t, total))?.broadcast_add(mask)?;
                let att =
                    candle_nn::ops::softmax_last_dim(&att)?.reshape((1, nkv, rep * t, total))?;
                let y = att.matmul(&v_all)?.reshape((1, nh, t, hd))?;
                ys.push(y.transpose(1, 2)?.reshape((t, nh * hd))?);
                new_layers[s].push((k_all, v_all));
            }
            let y = match ys.len() {
                1 => ys.pop().expect("one sequence"),
                _ => Tensor::cat(&ys, 0)?,
            };
            x = (x + layer.wo.forward(&y)?)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, self.cfg.rms_eps)?;
            let ff =
                (candle_nn::ops::silu(&layer.w_gate.forward(&h)?)? * layer.w_up.forward(&h)?)?;
            x = (x + layer.w_down.forward(&ff)?)?;
        }
        let x = candle_nn::ops::rms_norm(&x, &self.norm, self.cfg.rms_eps)?;
        let caches = new_layers
            .into_iter()
            .zip(seqs)
            .map(|(layers, (tokens, cache))| KvCache {
                layers,
                len: cache.len + tokens.len(),
            })
            .collect();
        Ok((x, caches))
    }

    /// For each row of `hidden` (one position each) and the token that follows it
    /// in `next`, return `log softmax(W_out · h)[next]` and the argmax token.
    /// The head runs on [`LOGIT_ROWS`] rows at a time, so the logits of a large
    /// packed pass are never all held at once; each chunk's rows are reduced in
    /// place ([`row_logprob`]) instead of materialising a log-softmax tensor and a
    /// copy of it (two more `rows × vocab` buffers, page-faulted in on every chunk:
    /// ~10% of the scoring time, BENCHMARKS.md).
    pub fn next_token_logprobs(&self, hidden: &Tensor, next: &[u32]) -> Result<Vec<(f32, u32)>> {
        let n = hidden.dim(0)?;
        if n != next.len() {
            bail!("{n} positions but {} next tokens", next.len());
        }
        let vocab = self.lm_head.out_features()?;
        if let Some(&tok) = next.iter().find(|&&t| t as usize >= vocab) {
            bail!("token id {tok} outside the vocabulary");
        }
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(LOGIT_ROWS) {
            let len = LOGIT_ROWS.min(n - start);
            let logits = self
                .lm_head
                .forward(&hidden.narrow(0, start, len)?)?
                .to_device(&Device::Cpu)?
                .contiguous()?;
            let (storage, layout) = logits.storage_and_layout();
            let Storage::Cpu(cpu) = &*storage else {
                bail!("logits are not on the CPU");
            };
            let offset = layout.start_offset();
            let flat = &cpu.as_slice::<f32>()?[offset..offset + len * vocab];
            let rows: Vec<(f32, u32)> = flat
                .par_chunks(vocab)
                .zip(&next[start..start + len])
                .map(|(row, &tok)| row_logprob(row, tok as usize))
                .collect();
            out.extend(rows);
        }
        Ok(out)
    }
}

/// `(log softmax(row)[tok], argmax row)`, in one pass over the row after its
/// maximum m: `log p = (x_tok − m) − ln Σ_j e^{x_j − m}`, the sum accumulated in
/// f64 (49,152 terms in f32 would lose ~1e-5 relative). The argmax is the first
/// index of the maximum, as a `>` scan finds it.
fn row_logprob(row: &[f32], tok: usize) -> (f32, u32) {
    let (argmax, max) =
        row.iter()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |best, (i, &v)| {
                if v > best.1 {
                    (i, v)
                } else {
                    best
                }
            });
    let sum: f64 = row.iter().map(|&v| f64::from((v - max).exp())).sum();
    let lp = f64::from(row[tok] - max) - sum.ln();
    (lp as f32, argmax as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass reduction agrees with candle's log-softmax (an independent
    /// implementation: max, subtract, exp, sum, log as separate tensor ops) on
    /// rows shaped like a vocabulary's logits, and finds the same argmax.
    #[test]
    fn row_logprob_matches_candle_log_softmax() -> Result<()> {
        let vocab = 49_152;
        let logits = (Tensor::randn(0f32, 4.0, (6, vocab), &Device::Cpu)? + 3.0)?;
        let reference: Vec<Vec<f32>> =
            candle_nn::ops::log_softmax(&logits, candle_core::D::Minus1)?.to_vec2()?;
        let rows: Vec<Vec<f32>> = logits.to_vec2()?;
        for (i, (row, want)) in rows.iter().zip(&reference).enumerate() {
            for tok in [0, 17 * i + 5, vocab - 1] {
                let (lp, argmax) = row_logprob(row, tok);
                assert!(
                    (lp - want[tok]).abs() < 2e-5,
                    "row {i} token {tok}: {lp} vs {}",
                    want[tok]
                );
                let best = want.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                assert_eq!(want[argmax as usize], best);
            }
        }
        Ok(())
    }
}
