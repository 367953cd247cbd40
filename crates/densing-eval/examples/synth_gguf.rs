//! Write a GGUF of a large model's shape with random Q8_0 weights, for measuring
//! what loading such a model really takes (`bench/eval/memory_7b.sh`). The shape is
//! Llama-2-7B's (32 layers, width 4,096, 32 heads, FFN 11,008) with the tokenizer
//! (and so the 49,152-token vocabulary) of the SmolLM2 GGUF given, untied output
//! head: 6.88B parameters. Every layer points at the same random tensors, so the
//! writer holds one layer in memory while the file has all 32 (7.3 GB).
//!
//! ```text
//! cargo run --release -p densing-eval --example synth_gguf -- SMOLLM2.gguf OUT.gguf [LAYERS]
//! ```

use std::fs::File;
use std::io::BufWriter;

use anyhow::{Context, Result};
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: synth_gguf SMOLLM2.gguf OUT.gguf [LAYERS]";
    let src = args.get(1).context(usage)?;
    let out = args.get(2).context(usage)?;
    let n_layer: u32 = args.get(3).map_or(Ok(32), |a| a.parse())?;
    let (d, n_head, ffn) = (4096usize, 32u32, 11008usize);
    let content = gguf_file::Content::read(&mut File::open(src)?)?;
    let vocab = content
        .tensor_infos
        .get("token_embd.weight")
        .context("no token_embd.weight in the source GGUF")?
        .shape
        .dims()
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    // The tokenizer's keys as they are; the model's own keys for the new shape.
    let mut metadata: Vec<(String, Value)> = content
        .metadata
        .iter()
        .filter(|(k, _)| k.starts_with("tokenizer."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in [
        ("general.architecture", Value::String("llama".into())),
        ("general.name", Value::String("synthetic-7b-shape".into())),
        ("llama.block_count", Value::U32(n_layer)),
        ("llama.embedding_length", Value::U32(d as u32)),
        ("llama.feed_forward_length", Value::U32(ffn as u32)),
        ("llama.attention.head_count", Value::U32(n_head)),
        ("llama.attention.head_count_kv", Value::U32(n_head)),
        ("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5)),
        ("llama.rope.freq_base", Value::F32(10_000.0)),
        ("llama.context_length", Value::U32(4096)),
    ] {
        metadata.push((k.to_string(), v));
    }
    let dev = Device::Cpu;
    let q8 = |rows: usize, cols: usize| -> Result<QTensor> {
        let t = Tensor::randn(0f32, 0.02, (rows, cols), &dev)?;
        Ok(QTensor::quantize(&t, GgmlDType::Q8_0)?)
    };
    let ones = |n: usize| -> Result<QTensor> {
        Ok(QTensor::quantize(
            &Tensor::ones(n, candle_core::DType::F32, &dev)?,
            GgmlDType::F32,
        )?)
    };
    let embed = q8(vocab, d)?;
    let head = q8(vocab, d)?;
    let norm = ones(d)?;
    let square = q8(d, d)?;
    let up = q8(ffn, d)?;
    let down = q8(d, ffn)?;
    let mut tensors: Vec<(String, &QTensor)> = vec![
        ("token_embd.weight".into(), &embed),
        ("output.weight".into(), &head),
        ("output_norm.weight".into(), &norm),
    ];
    for i in 0..n_layer {
        for (name, t) in [
            ("attn_norm.weight", &norm),
            ("ffn_norm.weight", &norm),
            ("attn_q.weight", &square),
            ("attn_k.weight", &square),
            ("attn_v.weight", &square),
            ("attn_output.weight", &square),
            ("ffn_gate.weight", &up),
            ("ffn_up.weight", &up),
            ("ffn_down.weight", &down),
        ] {
            tensors.push((format!("blk.{i}.{name}"), t));
        }
    }
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let ts: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    let mut w = BufWriter::new(File::create(out)?);
    gguf_file::write(&mut w, &md, &ts)?;
    let params = 2 * vocab * d + d + n_layer as usize * (2 * d + 4 * d * d + 3 * d * ffn);
    eprintln!(
        "wrote {out}: {n_layer} layers, {:.2}B parameters",
        params as f64 / 1e9
    );
    Ok(())
}
