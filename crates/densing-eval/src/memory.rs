//! Memory preflight: before any weight is read, estimate what loading the model
//! and scoring the longest item will take, and refuse at once (with the ways out)
//! when it exceeds the memory available, instead of being OOM-killed minutes later.
//!
//! Estimate, in bytes (t = tokens of the longest sequence):
//! - weights: every tensor at 4 bytes per element when dequantised (f32, the
//!   default); with `--quantized-matmul` the 2-D GGUF matrices keep their block
//!   size (`elements / block · block bytes`), vectors are f32, and the token
//!   embedding is held a second time in f32 (it is gathered by row);
//! - KV cache: `2 · layers · kv_heads · head_dim · 4 · t`;
//! - working set of one layer plus the head: attention scores and their softmax
//!   `2 · heads · t² · 4`, the MLP's three `t · ffn · 4` intermediates, the logits
//!   `t · vocab · 4`.

use anyhow::{bail, Result};
use candle_core::quantized::gguf_file;

use crate::model::MatmulMode;

/// An estimate of the memory a run needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryEstimate {
    pub weights: u64,
    pub kv_cache: u64,
    pub working: u64,
}

impl MemoryEstimate {
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.working
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

/// KV cache and working set of a `tokens`-long sequence.
pub fn sequence_bytes(shape: &Shape, tokens: usize) -> (u64, u64) {
    let t = tokens as u64;
    let kv = 2 * shape.n_layer as u64 * (shape.n_kv_head * shape.head_dim) as u64 * 4 * t;
    let working = 2 * shape.n_head as u64 * t * t * 4
        + 3 * t * shape.ffn as u64 * 4
        + t * shape.vocab as u64 * 4;
    (kv, working)
}

/// Bytes of the weights of a GGUF file as loaded in `mode`.
pub fn gguf_weight_bytes(content: &gguf_file::Content, mode: MatmulMode) -> u64 {
    let mut bytes = 0u64;
    for (name, info) in &content.tensor_infos {
        let elements = info.shape.elem_count() as u64;
        let quantised = mode == MatmulMode::Quantized && info.shape.rank() == 2;
        bytes += if quantised {
            let block = info.ggml_dtype.block_size() as u64;
            elements.div_ceil(block) * info.ggml_dtype.type_size() as u64
        } else {
            4 * elements
        };
        if quantised && name == "token_embd.weight" {
            bytes += 4 * elements;
        }
    }
    bytes
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
pub fn check(est: &MemoryEstimate, available: u64, mode: MatmulMode, tokens: usize) -> Result<()> {
    if est.total() <= available {
        return Ok(());
    }
    let ways = match mode {
        MatmulMode::Dequantized => "keep the weights quantised with --quantized-matmul (slower on CPU, a fraction of the memory), score through a server with --endpoint, or free memory",
        MatmulMode::Quantized => "score through a server with --endpoint (vLLM, llama.cpp, `densing serve` on a larger machine), score shorter items (--limit, fewer --shots), or free memory",
    };
    bail!(
        "not enough memory: this model needs about {:.1} GiB ({:.1} GiB weights as {}, {:.1} GiB KV cache and {:.1} GiB working set for the longest item of {tokens} tokens) but {:.1} GiB are available; {ways}",
        est.total() as f64 / GIB,
        est.weights as f64 / GIB,
        match mode {
            MatmulMode::Dequantized => "f32",
            MatmulMode::Quantized => "quantised blocks",
        },
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
        let (kv, w) = sequence_bytes(&s, 10);
        assert_eq!(kv, 2 * 2 * 16 * 4 * 10);
        assert_eq!(w, 2 * 4 * 100 * 4 + 3 * 10 * 32 * 4 + 10 * 100 * 4);
    }

    #[test]
    fn too_little_memory_names_the_estimate_and_the_ways_out() {
        let est = MemoryEstimate {
            weights: 3 << 30,
            kv_cache: 1 << 30,
            working: 0,
        };
        assert!(check(&est, 5 << 30, MatmulMode::Dequantized, 100).is_ok());
        let e = check(&est, 2 << 30, MatmulMode::Dequantized, 100)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("4.0 GiB") && e.contains("--quantized-matmul") && e.contains("--endpoint"),
            "{e}"
        );
    }
}
