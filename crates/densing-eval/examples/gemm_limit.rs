//! The f32 GEMM rate this machine reaches with candle (the kernels the engine
//! runs), at SmolLM2-135M's matmul shapes and at a large square shape, for
//! `bench/eval/gemm.sh`. Also the engine's bf16 path (tiles widened to f32) and
//! candle's Q8_0 kernel at a 7B layer's shape.
//!
//! ```text
//! cargo run --release -p densing-eval --example gemm_limit -- [SECONDS_PER_SHAPE]
//! ```
//! Rates are GFLOP/s = 2·m·k·n / seconds, best of repeated runs (the machine is
//! shared: the best run is the one least disturbed).

use std::time::Instant;

use anyhow::Result;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Device, Tensor};
use densing_eval::linear::Linear;

/// Best seconds of `f` over repeated calls within `budget` seconds (at least 3).
fn best(budget: f64, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    f()?; // warm-up: page in, pack, spin up the thread pool
    let start = Instant::now();
    let mut best = f64::INFINITY;
    let mut runs = 0;
    while runs < 3 || start.elapsed().as_secs_f64() < budget {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    Ok(best)
}

fn rand(rows: usize, cols: usize) -> Result<Tensor> {
    Ok(Tensor::randn(0f32, 0.02, (rows, cols), &Device::Cpu)?)
}

/// GFLOP/s of `x[m,k]·W[n,k]ᵀ` with `W` as `linear`.
fn rate(budget: f64, m: usize, k: usize, n: usize, linear: &Linear) -> Result<f64> {
    let x = rand(m, k)?;
    let s = best(budget, || {
        linear.forward(&x)?;
        Ok(())
    })?;
    Ok(2.0 * (m * k * n) as f64 / s / 1e9)
}

fn main() -> Result<()> {
    let budget: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2.0);
    // SmolLM2-135M: d = 576, 9 heads of 64, 3 KV heads, FFN 1536, vocab 49152.
    let layer: [(&str, usize, usize); 7] = [
        ("q", 576, 576),
        ("k", 576, 192),
        ("v", 576, 192),
        ("o", 576, 576),
        ("gate", 576, 1536),
        ("up", 576, 1536),
        ("down", 1536, 576),
    ];
    println!("threads: {}", candle_core::utils::get_num_threads());
    println!("| rows m | shape | f32 GFLOP/s |");
    println!("|---|---|---|");
    for m in [150, 600, 1200, 2400] {
        // The layer's mix: total flops over total time of its seven matmuls.
        let (mut flops, mut secs) = (0.0, 0.0);
        for (name, k, n) in layer {
            let w = Linear::Candle(QMatMul::Tensor(rand(n, k)?));
            let r = rate(budget / 4.0, m, k, n, &w)?;
            let f = 2.0 * (m * k * n) as f64;
            flops += f;
            secs += f / (r * 1e9);
            if m == 150 || m == 1200 {
                println!("| {m} | {name} {k}→{n} | {r:.1} |");
            }
        }
        println!("| {m} | **layer mix** | **{:.1}** |", flops / secs / 1e9);
        let head = Linear::Candle(QMatMul::Tensor(rand(49152, 576)?));
        let r = rate(budget, m.min(256), 576, 49152, &head)?;
        println!("| {} | LM head 576→49152 | {r:.1} |", m.min(256));
    }
    let big = Linear::Candle(QMatMul::Tensor(rand(2048, 2048)?));
    println!(
        "| 2048 | square 2048→2048 | {:.1} |",
        rate(budget, 2048, 2048, 2048, &big)?
    );
    // 7B shapes (Qwen2.5-7B's MLP, 3584→18944): f32, bf16 tiles, Q8_0 kernel.
    println!("\n| rows m | Qwen2.5-7B up 3584→18944 | GFLOP/s |");
    println!("|---|---|---|");
    let w = rand(18944, 3584)?;
    let q8 = QMatMul::from_qtensor(QTensor::quantize(&w, GgmlDType::Q8_0)?)?;
    let paths = [
        ("f32", Linear::Candle(QMatMul::Tensor(w.clone()))),
        (
            "bf16 (widened tiles)",
            Linear::Bf16(w.to_dtype(DType::BF16)?),
        ),
        ("Q8_0 (candle kernel)", Linear::Candle(q8)),
    ];
    for m in [150, 1200] {
        for (name, l) in &paths {
            println!("| {m} | {name} | {:.1} |", rate(budget, m, 3584, 18944, l)?);
        }
    }
    Ok(())
}
