//! Dump per-token log-probs, token ids and timings of a task's items, for the
//! agreement and speed comparisons with llama.cpp in `bench/eval/` (one JSON object
//! per line, [`densing_eval::engine::TokenDump`]).
//!
//! ```text
//! cargo run --release -p densing-eval --example score_dump -- MODEL.gguf TASK DATA LIMIT [--matmul f32|bf16|quantized] [--batch N] [--boundary separate]
//! ```
//! TASK is `humaneval` or `bbh:SUBTASK` (3-shot CoT), as for `densing eval`. Items
//! are scored from scratch (no prefix cache), `--batch` of them per forward pass
//! (default 1); a pass's seconds are shared among its items by token count.

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
    let usage = "usage: score_dump MODEL.gguf TASK DATA LIMIT [--matmul f32|bf16|quantized] [--batch N] [--boundary separate]";
    let model = PathBuf::from(args.get(1).context(usage)?);
    let task: TaskKind = args
        .get(2)
        .context(usage)?
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let data = PathBuf::from(args.get(3).context(usage)?);
    let limit: usize = args.get(4).context(usage)?.parse()?;
    let flag = |name: &str| {
        args.windows(2)
            .find(|w| w[0] == name)
            .map(|w| w[1].as_str())
    };
    let matmul = match flag("--matmul") {
        None | Some("f32") => MatmulMode::Dequantized,
        Some("bf16") => MatmulMode::Bf16,
        Some("quantized") => MatmulMode::Quantized,
        Some(other) => anyhow::bail!("--matmul {other}: expected f32, bf16 or quantized"),
    };
    let batch: usize = flag("--batch").map_or(Ok(1), str::parse)?;
    let boundary = match flag("--boundary") {
        Some("separate") => Boundary::Separate,
        _ => Boundary::Harness,
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
            matmul: Some(matmul),
            batch: Some(batch),
            prefix_cache: false,
            boundary,
            ..Default::default()
        },
    )?;
    eprintln!("load: {:.2}s", t.elapsed().as_secs_f64());
    let mut out = std::io::stdout().lock();
    for set in &tasks::load(&task, &data, shots, Some(limit))? {
        for group in set.items.chunks(batch) {
            let dumps = engine.dump_many(
                &group
                    .iter()
                    .map(|i| (i.id.as_str(), &i.requests[0]))
                    .collect::<Vec<_>>(),
            )?;
            for d in dumps {
                writeln!(out, "{}", serde_json::to_string(&d)?)?;
            }
        }
    }
    Ok(())
}
