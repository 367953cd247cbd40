//! Load a GGUF the way `densing eval` does (matmul mode and batch chosen by the
//! memory preflight unless given), score one sequence of the preflight's length,
//! and print the preflight's estimate beside the process's peak resident memory
//! (`VmHWM`), for `bench/eval/memory_7b.sh`.
//!
//! ```text
//! cargo run --release -p densing-eval --example load_rss -- MODEL.gguf TOKENS [f32|bf16|quantized]
//! ```
//! `DENSING_AVAILABLE_MEMORY=24GiB` makes the preflight plan for a 24 GiB machine.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use densing_eval::engine::{Engine, EngineOptions};
use densing_eval::MatmulMode;

const GIB: f64 = (1u64 << 30) as f64;

/// Peak resident set size of this process so far, bytes.
fn peak_rss() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM in /proc/self/status")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb * 1024)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: load_rss MODEL.gguf TOKENS [f32|bf16|quantized]";
    let model = PathBuf::from(args.get(1).context(usage)?);
    let tokens: usize = args.get(2).context(usage)?.parse()?;
    let matmul = match args.get(3).map(String::as_str) {
        None => None,
        Some("f32") => Some(MatmulMode::Dequantized),
        Some("bf16") => Some(MatmulMode::Bf16),
        Some("quantized") => Some(MatmulMode::Quantized),
        Some(other) => anyhow::bail!("unknown mode {other}; {usage}"),
    };
    // A text of about TOKENS tokens sizes the preflight and the scored sequence.
    let text = "The quick brown fox jumps over the lazy dog. ".repeat(tokens / 10);
    let opts = EngineOptions {
        matmul,
        batch: Some(1),
        longest_text: Some(text.clone()),
        ..Default::default()
    };
    let t = Instant::now();
    let engine = Engine::load(&model, &opts)?;
    let load_s = t.elapsed().as_secs_f64();
    let after_load = peak_rss()?;
    let est = engine.memory_estimate().context("no preflight estimate")?;
    let ids = engine.tokenizer().encode(&text)?;
    let t = Instant::now();
    let s = engine.score_tokens(&ids, 1)?;
    let score_s = t.elapsed().as_secs_f64();
    let peak = peak_rss()?;
    println!("mode: {}", engine.matmul_mode().name());
    println!(
        "preflight: {:.2} GiB total = {:.2} weights + max({:.2} loading, {:.2} KV + {:.2} working) for {} tokens",
        est.total() as f64 / GIB,
        est.weights as f64 / GIB,
        est.loading as f64 / GIB,
        est.kv_cache as f64 / GIB,
        est.working as f64 / GIB,
        ids.len()
    );
    println!(
        "load: {load_s:.1} s, peak RSS after load {:.2} GiB",
        after_load as f64 / GIB
    );
    println!(
        "scored {} tokens in {score_s:.1} s (mean log p {:.3}); peak RSS {:.2} GiB = {:.1}% of the preflight",
        s.logprobs.len(),
        s.logprobs.iter().sum::<f32>() / s.logprobs.len() as f32,
        peak as f64 / GIB,
        100.0 * peak as f64 / est.total() as f64
    );
    Ok(())
}
