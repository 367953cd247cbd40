//! Dump per-token log-probs, token ids and timings of a task's items, for the
//! agreement and speed comparisons with llama.cpp in `bench/eval/` (one JSON object
//! per line, [`densing_eval::engine::TokenDump`]).
//!
//! ```text
//! cargo run --release -p densing-eval --example score_dump -- MODEL.gguf TASK DATA LIMIT [--quantized] [--boundary separate]
//! ```
//! TASK is `humaneval` or `bbh:SUBTASK` (3-shot CoT), as for `densing eval`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use densing_eval::engine::{Engine, EngineOptions};
use densing_eval::tasks::{self, TaskKind};
use densing_eval::Boundary;
use densing_eval::MatmulMode;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: score_dump MODEL.gguf TASK DATA LIMIT [--quantized] [--boundary separate]";
    let model = PathBuf::from(args.get(1).context(usage)?);
    let task: TaskKind = args
        .get(2)
        .context(usage)?
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let data = PathBuf::from(args.get(3).context(usage)?);
    let limit: usize = args.get(4).context(usage)?.parse()?;
    let matmul = if args.iter().any(|a| a == "--quantized") {
        MatmulMode::Quantized
    } else {
        MatmulMode::Dequantized
    };
    let boundary = if args
        .windows(2)
        .any(|w| w[0] == "--boundary" && w[1] == "separate")
    {
        Boundary::Separate
    } else {
        Boundary::Harness
    };
    let shots = if matches!(task, TaskKind::Bbh(_)) {
        3
    } else {
        0
    };
    let t = Instant::now();
    let engine = Engine::load(
        &model,
        &EngineOptions {
            matmul,
            prefix_cache: false,
            boundary,
            ..Default::default()
        },
    )?;
    eprintln!("load: {:.2}s", t.elapsed().as_secs_f64());
    let mut out = std::io::stdout().lock();
    for set in &tasks::load(&task, &data, shots, Some(limit))? {
        for item in &set.items {
            let dump = engine.dump(&item.id, &item.requests[0])?;
            writeln!(out, "{}", serde_json::to_string(&dump)?)?;
        }
    }
    Ok(())
}
