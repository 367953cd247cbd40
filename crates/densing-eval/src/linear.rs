//! Weight matrices as the engine runs them: `y = x·Wᵀ` with `W` held as dense f32,
//! as GGUF quantised blocks (candle's kernels), or as bf16 with f32 arithmetic.
//!
//! The bf16 mode halves the memory of f32 (2 bytes per weight: a 7B model is
//! ~14 GiB instead of ~28) and keeps every multiply-add in f32: a tile of `W` of at
//! most [`BF16_TILE`] elements is widened to f32 (bf16 → f32 is exact: the top 16
//! bits of an f32) and multiplied by candle's f32 GEMM, so the only difference from
//! the f32 mode is each weight's rounding to 8 significant bits. Widening costs one
//! pass over `W` per call against `2·rows(x)` flops per weight in the GEMM, so with
//! packed batches (hundreds of rows) it is a small fraction of the time.

use anyhow::Result;
use candle_core::quantized::QMatMul;
use candle_core::{DType, Module, Tensor};

/// How to run the weight matrices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulMode {
    /// Dequantise every matrix to f32 at load time and use dense f32 GEMM. Costs
    /// 4 bytes per parameter of memory; on the 2-core x86 CPUs we measured it
    /// scores ~10x more tokens/s than quantised kernels (see BENCHMARKS.md).
    Dequantized,
    /// Hold every matrix in bf16 (2 bytes per parameter) and multiply in f32
    /// (see the module documentation).
    Bf16,
    /// Keep GGUF block-quantised matrices and use candle's quantised matmul.
    Quantized,
}

impl MatmulMode {
    /// `f32`, `bf16` or `quantized`, as written in the results-store key.
    pub fn name(self) -> &'static str {
        match self {
            MatmulMode::Dequantized => "f32",
            MatmulMode::Bf16 => "bf16",
            MatmulMode::Quantized => "quantized",
        }
    }
}

/// Largest tile of a bf16 matrix widened to f32 at once: 4 Mi elements (16 MiB),
/// so the f32 copy never approaches the size of a large model's LM head
/// (152,064 × 3,584 for Qwen2.5-7B: 2 GiB in f32).
pub const BF16_TILE: usize = 1 << 22;

/// A weight matrix `[out, in]`.
#[derive(Debug, Clone)]
pub enum Linear {
    /// Dense f32 or block-quantised, run by candle.
    Candle(QMatMul),
    /// bf16 storage, f32 arithmetic, widened tile by tile.
    Bf16(Tensor),
}

impl Linear {
    /// `x·Wᵀ` for `x` of shape `[rows, in]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Linear::Candle(m) => Ok(m.forward(x)?),
            Linear::Bf16(w) => {
                let (out, inp) = w.dims2()?;
                let rows = (BF16_TILE / inp.max(1)).clamp(1, out);
                let mut parts = Vec::with_capacity(out.div_ceil(rows));
                let mut r0 = 0;
                while r0 < out {
                    let n = rows.min(out - r0);
                    let tile = w.narrow(0, r0, n)?.to_dtype(DType::F32)?;
                    parts.push(x.matmul(&tile.t()?)?);
                    r0 += n;
                }
                Ok(match parts.len() {
                    1 => parts.pop().expect("one part"),
                    _ => Tensor::cat(&parts, 1)?,
                })
            }
        }
    }

    /// Rows of `W` (the width of `x·Wᵀ`).
    pub fn out_features(&self) -> Result<usize> {
        Ok(match self {
            Linear::Candle(QMatMul::QTensor(q)) => q.shape().dims2()?.0,
            Linear::Candle(QMatMul::Tensor(t) | QMatMul::TensorF16(t)) | Linear::Bf16(t) => {
                t.dims2()?.0
            }
        })
    }

    /// The matrix as a dense f32 tensor (the embedding is gathered by row).
    pub fn dense_f32(&self) -> Result<Tensor> {
        Ok(match self {
            Linear::Candle(QMatMul::QTensor(q)) => q.dequantize(&q.device())?,
            Linear::Candle(QMatMul::Tensor(t)) => t.clone(),
            Linear::Candle(QMatMul::TensorF16(t)) | Linear::Bf16(t) => t.to_dtype(DType::F32)?,
        })
    }
}
