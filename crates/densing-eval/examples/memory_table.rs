//! The docs' table of the largest models each matmul mode fits in a given
//! memory, computed with the preflight's formula (`densing_eval::memory`) for the
//! published shapes of common Llama/Qwen2 checkpoints and a 2,048-token item.
//!
//! ```text
//! cargo run --release -p densing-eval --example memory_table -- [GIB] [TOKENS]
//! ```
//! Quantised weights are counted at the format's average bits per weight (Q8_0
//! 8.5, Q4_K_M ≈ 4.85) plus the f32 copy of the token embedding the engine keeps;
//! the loading transient as for a Q8_0 file whose largest tensor is the
//! embedding; a real file's exact sizes come from its tensor table when
//! `densing eval` runs.

use densing_eval::linear::BF16_TILE;
use densing_eval::memory::{sequence_bytes, Shape};

/// A published checkpoint: its name, parameter count, hidden width and shape.
struct Published {
    name: &'static str,
    params: f64,
    width: usize,
    shape: Shape,
}

const fn model(
    name: &'static str,
    params: f64,
    (n_layer, n_head, n_kv_head, head_dim): (usize, usize, usize, usize),
    (ffn, vocab, width): (usize, usize, usize),
) -> Published {
    Published {
        name,
        params,
        width,
        shape: Shape {
            n_layer,
            n_head,
            n_kv_head,
            head_dim,
            ffn,
            vocab,
        },
    }
}

/// model(name, parameters, (layers, heads, KV heads, head dim), (FFN, vocab, width))
const MODELS: &[Published] = &[
    model(
        "SmolLM2-1.7B",
        1.71e9,
        (24, 32, 32, 64),
        (8192, 49152, 2048),
    ),
    model(
        "Qwen2.5-3B",
        3.09e9,
        (36, 16, 2, 128),
        (11008, 151936, 2048),
    ),
    model(
        "Llama-3.2-3B",
        3.21e9,
        (28, 24, 8, 128),
        (8192, 128256, 3072),
    ),
    model(
        "Qwen2.5-7B",
        7.62e9,
        (28, 28, 4, 128),
        (18944, 152064, 3584),
    ),
    model(
        "Llama-3.1-8B",
        8.03e9,
        (32, 32, 8, 128),
        (14336, 128256, 4096),
    ),
    model(
        "Qwen2.5-14B",
        14.77e9,
        (48, 40, 8, 128),
        (13824, 152064, 5120),
    ),
    model(
        "Qwen2.5-32B",
        32.76e9,
        (64, 40, 8, 128),
        (27648, 152064, 5120),
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let gib: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(24.0);
    let tokens: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2048);
    print!("{}", table(gib, tokens));
    println!("\n(budget {gib} GiB, longest item {tokens} tokens, one sequence per pass: loading transient or KV cache + one layer's working set + logits included)");
}

/// The Markdown table for a budget of `gib` GiB and a longest item of `tokens`
/// (also read by `tests/memory_docs.rs`, which checks the guide's copy).
pub fn table(gib: f64, tokens: usize) -> String {
    let budget = gib * (1u64 << 30) as f64;
    let mut out = String::from("| model | params | f32 (`--matmul f32`) | bf16 (`--matmul bf16`) | Q8_0 + `--matmul quantized` | Q4_K_M + `--matmul quantized` |\n|---|---|---|---|---|---|\n");
    for m in MODELS {
        let (name, params, shape, vocab, width) =
            (m.name, m.params, &m.shape, m.shape.vocab, m.width);
        let (kv, working) = sequence_bytes(shape, tokens, 1);
        let embed = (vocab * width) as f64;
        // The largest tensor: the embedding (or an untied head of the same shape).
        let cell = |bytes_per_weight: f64, quantised: bool| {
            let file = embed * 8.5 / 8.0; // as read from a Q8_0 file
            let (weights, loading) = if quantised {
                // Quantised matrices, plus the embedding's f32 copy.
                (params * bytes_per_weight + 4.0 * embed, 2.0 * file)
            } else if bytes_per_weight == 2.0 {
                (2.0 * params, file + 4.0 * embed + 4.0 * BF16_TILE as f64)
            } else {
                (4.0 * params, 2.0 * file)
            };
            let total = weights + loading.max((kv + working) as f64);
            let g = total / (1u64 << 30) as f64;
            if total <= budget {
                format!("{g:.1} GiB ✓")
            } else {
                format!("{g:.1} GiB ✗")
            }
        };
        out += &format!(
            "| {name} | {:.2}B | {} | {} | {} | {} |\n",
            params / 1e9,
            cell(4.0, false),
            cell(2.0, false),
            cell(8.5 / 8.0, true),
            cell(4.85 / 8.0, true)
        );
    }
    out
}
