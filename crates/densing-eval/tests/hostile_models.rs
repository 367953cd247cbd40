//! Model files whose shape metadata no real model has: zero attention heads or KV
//! heads, zero layers, or an absurd context window, in GGUF metadata and in a
//! Hugging Face `config.json`. Each once divided by zero or tried to allocate the
//! rotary tables for the whole window; now each is a clear error naming the file
//! and the field, raised before any weight is read.

use std::path::Path;

use candle_core::quantized::gguf_file::{self, Value};
use densing_eval::engine::{Engine, EngineOptions};

/// A GGUF file holding only Llama metadata, with `key` set to `value`.
fn gguf_with(dir: &Path, key: &str, value: u32) -> std::path::PathBuf {
    let mut md: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String("llama".into())),
        ("llama.block_count".into(), Value::U32(2)),
        ("llama.attention.head_count".into(), Value::U32(4)),
        ("llama.attention.head_count_kv".into(), Value::U32(2)),
        ("llama.embedding_length".into(), Value::U32(64)),
        ("llama.context_length".into(), Value::U32(2048)),
        (
            "llama.attention.layer_norm_rms_epsilon".into(),
            Value::F32(1e-5),
        ),
    ];
    md.iter_mut().find(|(k, _)| k == key).expect("known key").1 = Value::U32(value);
    let path = dir.join(format!("{key}-{value}.gguf"));
    let mut f = std::fs::File::create(&path).unwrap();
    let refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut f, &refs, &[]).unwrap();
    path
}

fn load_err(path: &Path) -> String {
    match Engine::load(path, &EngineOptions::default()) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn gguf_with_impossible_shapes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value, want) in [
        ("llama.attention.head_count", 0, "attention head count is 0"),
        ("llama.attention.head_count_kv", 0, "KV-head count is 0"),
        (
            "llama.attention.head_count_kv",
            3,
            "not a multiple of 3 KV heads",
        ),
        ("llama.block_count", 0, "block count (layers) is 0"),
        ("llama.embedding_length", 0, "embedding length is 0"),
        (
            "llama.context_length",
            u32::MAX,
            "context length 4294967295 is beyond",
        ),
        ("llama.context_length", 0, "context length is 0"),
    ] {
        let path = gguf_with(dir.path(), key, value);
        let msg = load_err(&path);
        assert!(msg.contains(want), "{key} = {value}: {msg}");
        assert!(
            msg.contains("unusable GGUF metadata") && msg.contains(&*path.to_string_lossy()),
            "{msg}"
        );
    }
}

#[test]
fn config_json_with_impossible_shapes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = serde_json::json!({
        "model_type": "llama", "hidden_size": 64, "num_attention_heads": 4,
        "num_key_value_heads": 2, "num_hidden_layers": 2, "rms_norm_eps": 1e-5,
        "max_position_embeddings": 2048
    });
    for (key, value, want) in [
        (
            "num_attention_heads",
            serde_json::json!(0),
            "attention head count is 0",
        ),
        (
            "num_key_value_heads",
            serde_json::json!(0),
            "KV-head count is 0",
        ),
        (
            "max_position_embeddings",
            serde_json::json!(1u64 << 40),
            "is beyond",
        ),
        ("rope_theta", serde_json::json!(-1.0), "RoPE base"),
    ] {
        let mut cfg = base.clone();
        cfg[key] = value.clone();
        let model = dir.path().join(key);
        std::fs::create_dir_all(&model).unwrap();
        std::fs::write(model.join("config.json"), cfg.to_string()).unwrap();
        let msg = load_err(&model);
        assert!(msg.contains(want), "{key} = {value}: {msg}");
        assert!(
            msg.contains("config.json: unusable model configuration"),
            "{msg}"
        );
    }
}

#[test]
fn gguf_with_zero_alignment_is_an_error_not_a_panic() {
    // candle's reader divides by `general.alignment`; 0 used to panic.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("align0.gguf");
    let md = [
        ("general.architecture", Value::String("llama".into())),
        ("general.alignment", Value::U32(0)),
    ];
    let refs: Vec<(&str, &Value)> = md.iter().map(|(k, v)| (*k, v)).collect();
    gguf_file::write(&mut std::fs::File::create(&path).unwrap(), &refs, &[]).unwrap();
    let msg = load_err(&path);
    assert!(msg.contains("not a readable GGUF file"), "{msg}");
}
