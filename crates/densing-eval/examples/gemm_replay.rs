//! The engine's fraction of the GEMM limit, measured on its own work: replays the
//! weight matmuls of a `score_dump` run (SmolLM2-135M's shapes, the same passes of
//! BATCH items, the LM head on the scored rows in chunks of `LOGIT_ROWS`) with
//! candle's f32 GEMM alone, and prints both rates for `bench/eval/speed.sh`.
//!
//! ```text
//! cargo run --release -p densing-eval --example gemm_replay -- DUMP.jsonl BATCH
//! ```
//! Flops count the weight matmuls only, `2·rows·in·out` each (attention, norms and
//! softmaxes are the engine's overhead): the engine's rate is those flops over the
//! dump's seconds, the GEMM's the same flops over the replay's seconds. Each layer
//! has its own random matrices, so the weights stream from memory as in the
//! engine. Prints one JSON object.

use std::io::BufRead;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::quantized::QMatMul;
use candle_core::{Device, Tensor};
use densing_eval::linear::Linear;
use densing_eval::memory::LOGIT_ROWS;

/// SmolLM2-135M: 30 layers, width 576, 3 KV heads of 64, FFN 1536, vocab 49152.
const LAYERS: usize = 30;
const D: usize = 576;
const KV: usize = 192;
const FFN: usize = 1536;
const VOCAB: usize = 49152;

fn rand(rows: usize, cols: usize) -> Result<Tensor> {
    Ok(Tensor::randn(0f32, 0.02, (rows, cols), &Device::Cpu)?)
}

fn dense(out: usize, inp: usize) -> Result<Linear> {
    Ok(Linear::Candle(QMatMul::Tensor(rand(out, inp)?)))
}

/// `(rows, scored rows, seconds)` of each pass of `batch` consecutive items.
fn passes(path: &str, batch: usize) -> Result<Vec<(usize, usize, f64)>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
    let mut items = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let v: serde_json::Value = serde_json::from_str(&line?)?;
        let len = v["ids"].as_array().context("ids")?.len();
        let first = v["first"].as_u64().context("first")? as usize;
        items.push((len, len - first, v["seconds"].as_f64().context("seconds")?));
    }
    Ok(items
        .chunks(batch)
        .map(|p| {
            p.iter()
                .fold((0, 0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
        })
        .collect())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: gemm_replay DUMP.jsonl BATCH";
    let passes = passes(
        args.get(1).context(usage)?,
        args.get(2).context(usage)?.parse()?,
    )?;
    // Per layer: W_q, W_k, W_v, W_o, W_gate, W_up, W_down as (in, out).
    let shapes = [
        (D, D),
        (D, KV),
        (D, KV),
        (D, D),
        (D, FFN),
        (D, FFN),
        (FFN, D),
    ];
    let layers: Vec<Vec<Linear>> = (0..LAYERS)
        .map(|_| shapes.iter().map(|&(i, o)| dense(o, i)).collect())
        .collect::<Result<_>>()?;
    let head = dense(VOCAB, D)?;
    let (mut flops, mut engine_s, mut gemm_s) = (0.0, 0.0, 0.0);
    for &(rows, scored, seconds) in &passes {
        let x = rand(rows, D)?;
        let xf = rand(rows, FFN)?;
        let t = Instant::now();
        for layer in &layers {
            for (w, &(i, o)) in layer.iter().zip(&shapes) {
                w.forward(if i == D { &x } else { &xf })?;
                flops += 2.0 * (rows * i * o) as f64;
            }
        }
        for start in (0..scored).step_by(LOGIT_ROWS) {
            let n = LOGIT_ROWS.min(scored - start);
            head.forward(&x.narrow(0, 0, n)?)?;
            flops += 2.0 * (n * D * VOCAB) as f64;
        }
        gemm_s += t.elapsed().as_secs_f64();
        engine_s += seconds;
    }
    println!(
        "{}",
        serde_json::json!({
            "passes": passes.len(),
            "gflop": flops / 1e9,
            "engine_seconds": engine_s,
            "gemm_seconds": gemm_s,
            "engine_gflops": flops / engine_s / 1e9,
            "gemm_gflops": flops / gemm_s / 1e9,
            "engine_fraction_of_gemm": gemm_s / engine_s,
        })
    );
    Ok(())
}
