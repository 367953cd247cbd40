//! vLLM's tokenizer routes on `densing serve`, which lm-evaluation-harness's
//! `tokenizer_backend=remote` uses in place of a local tokenizer:
//!
//! - `POST /tokenize` `{"model"?, "prompt", "add_special_tokens"?}` →
//!   `{"count", "max_model_len", "tokens"}`: the text's ids, BOS per the model when
//!   `add_special_tokens` (default true);
//! - `POST /detokenize` `{"model"?, "tokens"}` → `{"prompt"}`: the ids' text,
//!   special tokens kept (every id must be below the vocabulary size);
//! - `GET /tokenizer_info` → the tokenizer's `tokenizer_config.json`
//!   ([`densing_eval::hf_tokenizer::tokenizer_config`]): `tokenizer_class`,
//!   `bos_token`, `eos_token`, … as text, `model_max_length`, `chat_template`
//!   when the model has one.
//!
//! Errors are `(status, message)`: 400 for a malformed body, 404 for another
//! model's name, as vLLM answers.

use densing_eval::{encode_prompt, hf_tokenizer, Encode, Engine};
use serde_json::{json, Value};

/// A refused request: HTTP status and message.
pub type Refusal = (u16, String);

fn bad(msg: impl Into<String>) -> Refusal {
    (400, msg.into())
}

/// A request naming a model must name the served one.
fn check_model(v: &Value, served: &str) -> Result<(), Refusal> {
    match v.get("model").and_then(Value::as_str) {
        Some(m) if m != served => Err((404, format!("The model `{m}` does not exist."))),
        _ => Ok(()),
    }
}

/// The text and `add_special_tokens` (default true) of a `POST /tokenize` body.
pub fn tokenize_args<'a>(v: &'a Value, served: &str) -> Result<(&'a str, bool), Refusal> {
    check_model(v, served)?;
    let Some(text) = v.get("prompt").and_then(Value::as_str) else {
        return Err(bad("`prompt` must be a string"));
    };
    let special = match v.get("add_special_tokens") {
        None | Some(Value::Null) => true,
        Some(x) => x
            .as_bool()
            .ok_or_else(|| bad("`add_special_tokens` must be a boolean"))?,
    };
    Ok((text, special))
}

/// `POST /tokenize` for a text prompt.
pub fn tokenize(engine: &Engine, served: &str, v: &Value) -> Result<Value, Refusal> {
    let (text, special) = tokenize_args(v, served)?;
    let tok = engine.tokenizer();
    let ids = if special {
        encode_prompt(tok, text)
    } else {
        Encode::encode(tok, text)
    }
    .map_err(|e| bad(format!("{e:#}")))?;
    Ok(json!({
        "count": ids.len(),
        "max_model_len": engine.context_window(),
        "tokens": ids,
    }))
}

/// The token ids of a `POST /detokenize` body, each below `vocab`.
pub fn detokenize_ids(v: &Value, served: &str, vocab: u64) -> Result<Vec<u32>, Refusal> {
    check_model(v, served)?;
    v.get("tokens")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .map(|x| {
                    x.as_u64()
                        .filter(|&i| i < vocab)
                        .and_then(|i| u32::try_from(i).ok())
                })
                .collect::<Option<Vec<u32>>>()
        })
        .ok_or_else(|| {
            bad(format!(
                "`tokens` must be a list of integers below the vocabulary size {vocab}"
            ))
        })
}

/// `POST /detokenize`: the text of a list of token ids.
pub fn detokenize(engine: &Engine, served: &str, v: &Value) -> Result<Value, Refusal> {
    let tok = engine.tokenizer();
    let vocab = tok
        .inner()
        .get_vocab_size(true)
        .min(engine.model().vocab_size()) as u64;
    let ids = detokenize_ids(v, served, vocab)?;
    let prompt = tok.decode(&ids).map_err(|e| (500, format!("{e:#}")))?;
    Ok(json!({ "prompt": prompt }))
}

/// `GET /tokenizer_info`.
pub fn tokenizer_info(engine: &Engine) -> Value {
    hf_tokenizer::tokenizer_config(engine.tokenizer(), Some(engine.context_window()))
}
