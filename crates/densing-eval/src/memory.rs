//! Memory preflight: before any weight is read, estimate what loading the model
//! and scoring the longest item will take, pick the matmul mode (when not given)
//! and the number of sequences packed per forward pass, and refuse at once (with
//! the ways out) when nothing fits, instead of being OOM-killed minutes later.
//!
//! Estimate, in bytes (t = tokens of the longest sequence, B = sequences per pass):
//! - weights: every tensor at 4 bytes per element when dequantised (f32, the
//!   default), 2-D matrices at 2 bytes in bf16; with `--matmul quantized` the 2-D
//!   GGUF matrices keep their block size (`elements / block · block bytes`),
//!   vectors are f32, and the token embedding is held a second time in f32 (it is
//!   gathered by row);
//! - loading: the largest tensor read from the file is held twice in its file
//!   format while candle copies it out of the read buffer, then dequantised to f32
//!   (`raw + 4·elements` in bf16 mode before it is narrowed, `2·raw` otherwise);
//! - KV cache: `B · 2 · layers · kv_heads · head_dim · 4 · t`;
//! - working set of one layer plus the head: attention scores and their softmax
//!   `2 · heads · t² · 4` (one sequence at a time), the MLP's three `B·t · ffn · 4`
//!   intermediates, and one chunk of logits, `min(B·t, LOGIT_ROWS) · vocab · 4`
//!   (each row is reduced to its log-probability in place).
//!
//! Peak = weights + max(loading, KV cache + working set).

use anyhow::{bail, Result};
use candle_core::quantized::gguf_file;

use crate::linear::{MatmulMode, BF16_TILE};

/// Rows of logits computed at once (the LM head runs in chunks of this many
/// scored positions, so a large pass never holds `rows × vocab` floats).
pub const LOGIT_ROWS: usize = 256;

/// Most sequences packed into one forward pass when the batch is chosen
/// automatically: the GEMMs reach their plateau well before (BENCHMARKS.md,
/// "Evaluation engine"), and a larger pass only costs memory.
pub const MAX_AUTO_BATCH: usize = 16;

/// An estimate of the memory a run needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryEstimate {
    pub weights: u64,
    pub loading: u64,
    pub kv_cache: u64,
    pub working: u64,
}

impl MemoryEstimate {
    /// Peak bytes: the weights plus the larger of the loading transient and the
    /// scoring working set.
    pub fn total(&self) -> u64 {
        self.weights + self.loading.max(self.kv_cache + self.working)
    }
}

/// The shapes the estimate needs.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub ffn: usize,
    pub vocab: usize,
}

/// KV cache and working set of `batch` sequences of `tokens` tokens in one pass.
pub fn sequence_bytes(shape: &Shape, tokens: usize, batch: usize) -> (u64, u64) {
    let t = tokens as u64;
    let rows = t * batch as u64;
    let kv = 2 * shape.n_layer as u64 * (shape.n_kv_head * shape.head_dim) as u64 * 4 * rows;
    let working = 2 * shape.n_head as u64 * t * t * 4
        + 3 * rows * shape.ffn as u64 * 4
        + rows.min(LOGIT_ROWS as u64) * shape.vocab as u64 * 4;
    (kv, working)
}

/// Bytes of the weights of a GGUF file as loaded in `mode`, and the transient of
/// loading its largest tensor (see the module documentation).
pub fn gguf_weight_bytes(content: &gguf_file::Content, mode: MatmulMode) -> (u64, u64) {
    let mut bytes = 0u64;
    let mut loading = 0u64;
    for (name, info) in &content.tensor_infos {
        let elements = info.shape.elem_count() as u64;
        let matrix = info.shape.rank() == 2;
        let raw = elements.div_ceil(info.ggml_dtype.block_size() as u64)
            * info.ggml_dtype.type_size() as u64;
        bytes += match mode {
            MatmulMode::Quantized if matrix => raw,
            MatmulMode::Bf16 if matrix => 2 * elements,
            _ => 4 * elements,
        };
        if mode == MatmulMode::Quantized && matrix && name == "token_embd.weight" {
            bytes += 4 * elements;
        }
        loading = loading.max(match mode {
            MatmulMode::Bf16 if matrix => raw + 4 * elements,
            _ => 2 * raw,
        });
    }
    if mode == MatmulMode::Bf16 {
        // One widened tile and its product are alive during a matmul.
        loading += 4 * BF16_TILE as u64;
    }
    (bytes, loading)
}

/// What the preflight decided: the matmul mode, the sequences per pass and the
/// estimate they give.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub mode: MatmulMode,
    pub batch: usize,
    pub estimate: MemoryEstimate,
}

/// Choose the matmul mode and batch that fit `available` bytes. `mode`/`batch`
/// given are kept (and checked); otherwise the mode is f32 when it fits, else
/// bf16, and the batch the largest up to [`MAX_AUTO_BATCH`] that fits.
/// `estimate(mode, batch)` gives the estimate of a choice.
pub fn plan(
    mode: Option<MatmulMode>,
    batch: Option<usize>,
    available: u64,
    tokens: usize,
    estimate: impl Fn(MatmulMode, usize) -> MemoryEstimate,
) -> Result<Plan> {
    let modes = match mode {
        Some(m) => vec![m],
        None => vec![MatmulMode::Dequantized, MatmulMode::Bf16],
    };
    for &m in &modes {
        let fits = |b: usize| estimate(m, b).total() <= available;
        let b = match batch {
            Some(b) => fits(b).then_some(b),
            None => (1..=MAX_AUTO_BATCH).rev().find(|&b| fits(b)),
        };
        if let Some(b) = b {
            return Ok(Plan {
                mode: m,
                batch: b,
                estimate: estimate(m, b),
            });
        }
    }
    let m = *modes.last().expect("a mode");
    let b = batch.unwrap_or(1);
    check(&estimate(m, b), available, m, tokens, b)?;
    unreachable!("check fails when the estimate does not fit")
}

/// Bytes the system can give this process now: `MemAvailable` from
/// `/proc/meminfo`, lowered to the cgroup's remaining limit when there is one.
/// `None` where neither can be read (non-Linux).
pub fn available_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let avail = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?
        * 1024;
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    let cgroup = match (
        read("/sys/fs/cgroup/memory.max"),
        read("/sys/fs/cgroup/memory.current"),
    ) {
        (Some(max), Some(cur)) => Some(max.saturating_sub(cur)),
        _ => None,
    };
    Some(cgroup.map_or(avail, |c| c.min(avail)))
}

const GIB: f64 = (1u64 << 30) as f64;

/// Fail when `est` exceeds `available`, naming the estimate and the ways out.
pub fn check(
    est: &MemoryEstimate,
    available: u64,
    mode: MatmulMode,
    tokens: usize,
    batch: usize,
) -> Result<()> {
    if est.total() <= available {
        return Ok(());
    }
    let ways = match mode {
        MatmulMode::Dequantized => "hold the weights in bf16 with --matmul bf16 (half the memory), keep them quantised with --matmul quantized (slower on CPU), score through a server with --endpoint, or free memory",
        MatmulMode::Bf16 => "keep the weights quantised with --matmul quantized (slower on CPU), score through a server with --endpoint, or free memory",
        MatmulMode::Quantized => "score through a server with --endpoint (vLLM, llama.cpp, `densing serve` on a larger machine), score shorter items (--limit, fewer --shots), or free memory",
    };
    let weights_as = match mode {
        MatmulMode::Dequantized => "f32",
        MatmulMode::Bf16 => "bf16",
        MatmulMode::Quantized => "quantised blocks",
    };
    let batch_note = if batch > 1 {
        format!(" × {batch} sequences per pass (--batch 1 needs less)")
    } else {
        String::new()
    };
    bail!(
        "not enough memory: this model needs about {:.1} GiB ({:.1} GiB weights as {weights_as}, {:.1} GiB while loading, {:.1} GiB KV cache and {:.1} GiB working set for the longest item of {tokens} tokens{batch_note}) but {:.1} GiB are available; {ways}",
        est.total() as f64 / GIB,
        est.weights as f64 / GIB,
        est.loading as f64 / GIB,
        est.kv_cache as f64 / GIB,
        est.working as f64 / GIB,
        available as f64 / GIB,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_terms_follow_the_formula() {
        let s = Shape {
            n_layer: 2,
            n_head: 4,
            n_kv_head: 2,
            head_dim: 8,
            ffn: 32,
            vocab: 100,
        };
        let (kv, w) = sequence_bytes(&s, 10, 1);
        assert_eq!(kv, 2 * 2 * 16 * 4 * 10);
        assert_eq!(w, 2 * 4 * 100 * 4 + 3 * 10 * 32 * 4 + 10 * 100 * 4);
        // Three sequences: three KV caches and MLP rows, attention one at a time.
        let (kv3, w3) = sequence_bytes(&s, 10, 3);
        assert_eq!(kv3, 3 * kv);
        assert_eq!(w3, 2 * 4 * 100 * 4 + 3 * 30 * 32 * 4 + 30 * 100 * 4);
    }

    #[test]
    fn too_little_memory_names_the_estimate_and_the_ways_out() {
        let est = MemoryEstimate {
            weights: 3 << 30,
            loading: 1 << 29,
            kv_cache: 1 << 30,
            working: 0,
        };
        assert!(check(&est, 5 << 30, MatmulMode::Dequantized, 100, 1).is_ok());
        let e = check(&est, 2 << 30, MatmulMode::Dequantized, 100, 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("4.0 GiB") && e.contains("--matmul bf16") && e.contains("--endpoint"),
            "{e}"
        );
    }

    #[test]
    fn plan_prefers_f32_then_bf16_and_the_largest_batch_that_fits() {
        // Weights 4 GiB in f32, 2 GiB in bf16; 0.25 GiB per sequence.
        let est = |m: MatmulMode, b: usize| MemoryEstimate {
            weights: if m == MatmulMode::Bf16 {
                2 << 30
            } else {
                4 << 30
            },
            loading: 1 << 30,
            kv_cache: b as u64 * (1 << 28),
            working: 0,
        };
        let p = plan(None, None, 5 << 30, 100, est).unwrap();
        assert_eq!((p.mode, p.batch), (MatmulMode::Dequantized, 4));
        let p = plan(None, None, (3 << 30) + (1 << 29), 100, est).unwrap();
        assert_eq!((p.mode, p.batch), (MatmulMode::Bf16, 6));
        let p = plan(None, Some(2), 5 << 30, 100, est).unwrap();
        assert_eq!((p.mode, p.batch), (MatmulMode::Dequantized, 2));
        let e = plan(Some(MatmulMode::Dequantized), None, 3 << 30, 100, est)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("weights as f32") && e.contains("--matmul bf16"),
            "{e}"
        );
        let e = plan(None, None, 2 << 30, 100, est).unwrap_err().to_string();
        assert!(e.contains("weights as bf16"), "{e}");
    }
}
