//! Dump per-token log-probs and timings of HumanEval items, for the agreement and
//! speed comparisons with llama.cpp in `bench/eval/` (one JSON object per line).
//!
//! ```text
//! cargo run --release -p densing-eval --example score_dump -- MODEL.gguf HumanEval.jsonl.gz LIMIT [--quantized]
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use densing_eval::engine::{Engine, EngineOptions, MatmulMode};
use densing_eval::tasks::{self, TaskKind};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: score_dump MODEL.gguf HUMANEVAL.jsonl.gz LIMIT [--quantized]";
    let model = PathBuf::from(args.get(1).context(usage)?);
    let data = PathBuf::from(args.get(2).context(usage)?);
    let limit: usize = args.get(3).context(usage)?.parse()?;
    let matmul = if args.iter().any(|a| a == "--quantized") {
        MatmulMode::Quantized
    } else {
        MatmulMode::Dequantized
    };
    let t = Instant::now();
    let engine = Engine::load(
        &model,
        &EngineOptions {
            matmul,
            prefix_cache: false,
            ..Default::default()
        },
    )?;
    eprintln!("load: {:.2}s", t.elapsed().as_secs_f64());
    let set = &tasks::load(&TaskKind::HumanEval, &data, 0, Some(limit))?[0];
    let mut out = std::io::stdout().lock();
    for item in &set.items {
        let (ctx, cont, fallback) = engine.encode_request(&item.requests[0])?;
        let first = ctx.len();
        let ids: Vec<u32> = ctx.into_iter().chain(cont).collect();
        let t = Instant::now();
        let s = engine.score_tokens(&ids, first)?;
        let seconds = t.elapsed().as_secs_f64();
        let line = serde_json::json!({
            "id": item.id,
            "ids": ids,
            "first": first,
            "join_fallback": fallback,
            "logprobs": s.logprobs,
            "seconds": seconds,
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}
