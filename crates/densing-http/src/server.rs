//! `densing serve`: the embedded engine behind an OpenAI-compatible HTTP API with
//! vLLM's scoring semantics, so that a small model can be spread over machines
//! without GPUs and the HTTP client has a correct server to be tested against.
//!
//! Routes: `POST /v1/completions`, `GET /v1/models`, `GET /health`, and vLLM's
//! `POST /tokenize` (`{"model", "prompt", "add_special_tokens"}` →
//! `{"tokens", "count", "max_model_len"}`), so clients without the model's
//! tokenizer can still send token-id prompts.
//! Completions follow vLLM: `prompt` is a string, a list of token ids, or a list
//! of either (one choice per prompt); ids are used verbatim, text is tokenised with
//! the model's tokenizer and BOS policy; `max_tokens` defaults to 16 and must be
//! at least 1; with `echo` the prompt's tokens come back first, the first with a
//! `null` log-prob and `null` top entry, then each `log p(token_i | tokens before
//! i)`; `logprobs: k` (k ≤ 1 here) adds the top-k alternatives plus the token
//! itself per position, in the legacy schema (`tokens`, `token_logprobs`,
//! `text_offset`, `top_logprobs`). Decoding is always greedy (temperature is
//! ignored); streaming, `n > 1` and stop strings are refused rather than faked.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Result};
use candle_core::Tensor;
use densing_eval::model::KvCache;
use densing_eval::{encode_prompt, Encode, Engine};
use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to bind, e.g. `127.0.0.1:8000` (port 0 picks a free one).
    pub addr: String,
    /// The model id clients must request (and `/v1/models` lists).
    pub model_name: String,
    /// When set, `/v1/*` requires `Authorization: Bearer <key>`.
    pub api_key: Option<String>,
    /// Connection-handling threads; model computations run one at a time.
    pub threads: usize,
}

/// A request error: status and the message put into vLLM's error body.
struct HttpError(u16, String);

fn bad(msg: impl Into<String>) -> HttpError {
    HttpError(400, msg.into())
}

struct State {
    engine: Arc<Engine>,
    opts: ServeOptions,
    /// One forward pass at a time: the engine already uses every core.
    compute: Mutex<()>,
    next_id: AtomicU64,
}

/// Bind, call `ready` with the bound address, then serve until the process ends.
pub fn serve(
    engine: Arc<Engine>,
    opts: ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    let server =
        Server::http(&opts.addr).map_err(|e| anyhow!("cannot listen on {}: {e}", opts.addr))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow!("{} is not an IP address", opts.addr))?;
    ready(addr);
    let server = Arc::new(server);
    let state = Arc::new(State {
        engine,
        opts,
        compute: Mutex::new(()),
        next_id: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..state.opts.threads.max(1))
        .map(|_| {
            let (server, state) = (server.clone(), state.clone());
            std::thread::spawn(move || {
                while let Ok(req) = server.recv() {
                    handle(&state, req);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| anyhow!("a server thread panicked"))?;
    }
    Ok(())
}

fn json_response(status: u16, body: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    let header =
        Header::from_bytes("Content-Type", "application/json").expect("static header is valid");
    Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(header)
}

fn error_body(HttpError(code, message): &HttpError) -> Value {
    let kind = match code {
        401 => "AuthenticationError",
        404 => "NotFoundError",
        400 => "BadRequestError",
        _ => "InternalServerError",
    };
    json!({"object": "error", "message": message, "type": kind, "param": null, "code": code})
}

fn handle(state: &State, mut req: Request) {
    let path = req.url().split('?').next().unwrap_or_default().to_string();
    let result = route(state, &mut req, &path);
    let resp = match result {
        Ok(v) => json_response(200, &v),
        Err(e) => json_response(e.0, &error_body(&e)),
    };
    // A client that hung up is no concern of the server's.
    let _ = req.respond(resp);
}

fn route(state: &State, req: &mut Request, path: &str) -> Result<Value, HttpError> {
    if path == "/health" {
        return Ok(json!({}));
    }
    if let Some(key) = &state.opts.api_key {
        let want = format!("Bearer {key}");
        let ok = req
            .headers()
            .iter()
            .any(|h| h.field.equiv("Authorization") && h.value.as_str() == want);
        if !ok {
            return Err(HttpError(
                401,
                "missing or wrong API key (Authorization: Bearer …)".into(),
            ));
        }
    }
    match (req.method(), path) {
        (Method::Get, "/v1/models") => Ok(json!({
            "object": "list",
            "data": [{
                "id": state.opts.model_name,
                "object": "model",
                "created": now(),
                "owned_by": "densing",
                "max_model_len": state.engine.context_window(),
            }],
        })),
        (Method::Post, "/v1/completions" | "/tokenize") => {
            let mut body = String::new();
            req.as_reader()
                .read_to_string(&mut body)
                .map_err(|e| bad(format!("reading the request body: {e}")))?;
            let v: Value = serde_json::from_str(&body)
                .map_err(|e| bad(format!("the request body is not JSON: {e}")))?;
            if path == "/tokenize" {
                tokenize(state, &v)
            } else {
                completions(state, &v)
            }
        }
        (_, "/v1/models" | "/v1/completions" | "/tokenize") => {
            Err(HttpError(405, format!("method not allowed on {path}")))
        }
        _ => Err(HttpError(
            404,
            format!("no route {path}; this server has /v1/completions, /v1/models, /tokenize and /health"),
        )),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A prompt as (its text, when it was sent as text; its token ids).
type PromptIds = (Option<String>, Vec<u32>);

/// The prompts of a request.
fn prompts(state: &State, v: &Value) -> Result<Vec<PromptIds>, HttpError> {
    let tok = state.engine.tokenizer();
    let vocab = tok.inner().get_vocab_size(true) as u64;
    let text = |s: &str| -> Result<PromptIds, HttpError> {
        let ids = encode_prompt(tok, s).map_err(|e| bad(format!("{e:#}")))?;
        Ok((Some(s.to_string()), ids))
    };
    let ids = |a: &[Value]| -> Result<PromptIds, HttpError> {
        let ids = a
            .iter()
            .map(|x| x.as_u64().filter(|&i| i < vocab).map(|i| i as u32))
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| {
                bad(format!(
                    "prompt token ids must be integers below the vocabulary size {vocab}"
                ))
            })?;
        Ok((None, ids))
    };
    let out = match v.get("prompt") {
        Some(Value::String(s)) => vec![text(s)?],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_number) => vec![ids(a)?],
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|p| match p {
                Value::String(s) => text(s),
                Value::Array(x) if x.iter().all(Value::is_number) => ids(x),
                _ => Err(bad("each prompt must be a string or a list of token ids")),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(bad(
                "`prompt` must be a non-empty string, list of token ids, or list of either",
            ))
        }
    };
    if out.iter().any(|(_, ids)| ids.is_empty()) {
        return Err(bad("a prompt is empty (and the model adds no BOS)"));
    }
    Ok(out)
}

/// vLLM's `POST /tokenize` for a text prompt: the ids the model's tokenizer gives
/// it, with BOS per the model when `add_special_tokens` (default true).
fn tokenize(state: &State, v: &Value) -> Result<Value, HttpError> {
    if let Some(m) = v.get("model").and_then(Value::as_str) {
        if m != state.opts.model_name {
            return Err(HttpError(404, format!("The model `{m}` does not exist.")));
        }
    }
    let Some(text) = v.get("prompt").and_then(Value::as_str) else {
        return Err(bad("`prompt` must be a string"));
    };
    let special = match v.get("add_special_tokens") {
        None | Some(Value::Null) => true,
        Some(x) => x
            .as_bool()
            .ok_or_else(|| bad("`add_special_tokens` must be a boolean"))?,
    };
    let tok = state.engine.tokenizer();
    let ids = if special {
        encode_prompt(tok, text)
    } else {
        Encode::encode(tok, text)
    }
    .map_err(|e| bad(format!("{e:#}")))?;
    Ok(json!({
        "count": ids.len(),
        "max_model_len": state.engine.context_window(),
        "tokens": ids,
    }))
}

/// Greedy continuation plus prompt log-probs for one prompt.
struct Scores {
    /// `prompt[i] = (log p(id_i | ids before i), argmax id, its log-prob)` for i ≥ 1.
    prompt: Vec<(f32, u32, f32)>,
    /// Generated `(id, log-prob)`; greedy, so each is also its position's best.
    generated: Vec<(u32, f32)>,
}

fn compute(engine: &Engine, ids: &[u32], max_tokens: usize, echo: bool) -> Result<Scores> {
    let model = engine.model();
    let (hidden, mut cache) = model.forward(ids, &KvCache::empty())?;
    let n = ids.len();
    let mut prompt = Vec::new();
    if echo && n > 1 {
        // Row r predicts token r + 1.
        let rows = hidden.narrow(0, 0, n - 1)?;
        let pairs = model.next_token_logprobs(&rows, &ids[1..])?;
        let argmax: Vec<u32> = pairs.iter().map(|&(_, a)| a).collect();
        let best = model.next_token_logprobs(&rows, &argmax)?;
        prompt = pairs
            .iter()
            .zip(&best)
            .map(|(&(lp, a), &(blp, _))| (lp, a, blp))
            .collect();
    }
    let mut last: Tensor = hidden.narrow(0, n - 1, 1)?;
    let mut generated = Vec::with_capacity(max_tokens);
    for step in 0..max_tokens {
        let (_, g) = model.next_token_logprobs(&last, &[0])?[0];
        let (lp, _) = model.next_token_logprobs(&last, &[g])?[0];
        generated.push((g, lp));
        if step + 1 < max_tokens {
            let (h, c) = model.forward(&[g], &cache)?;
            cache = c;
            last = h;
        }
    }
    Ok(Scores { prompt, generated })
}

fn completions(state: &State, v: &Value) -> Result<Value, HttpError> {
    if let Some(m) = v.get("model").and_then(Value::as_str) {
        if m != state.opts.model_name {
            return Err(HttpError(404, format!("The model `{m}` does not exist.")));
        }
    }
    if v.get("stream").and_then(Value::as_bool) == Some(true) {
        return Err(bad("streaming is not supported by densing serve"));
    }
    if v.get("n").and_then(Value::as_u64).is_some_and(|n| n != 1) {
        return Err(bad("only n = 1 is supported (decoding is greedy)"));
    }
    if v.get("stop")
        .is_some_and(|s| !s.is_null() && s != &json!([]))
    {
        return Err(bad("stop strings are not supported by densing serve"));
    }
    let max_tokens = match v.get("max_tokens") {
        None | Some(Value::Null) => 16,
        Some(x) => x
            .as_u64()
            .ok_or_else(|| bad("`max_tokens` must be a non-negative integer"))?
            as usize,
    };
    if max_tokens == 0 {
        return Err(bad("max_tokens must be at least 1"));
    }
    let echo = v.get("echo").and_then(Value::as_bool).unwrap_or(false);
    let top_k = match v.get("logprobs") {
        None | Some(Value::Null) => None,
        Some(x) => match x.as_u64() {
            Some(k @ 0..=1) => Some(k as usize),
            _ => return Err(bad("`logprobs` must be 0 or 1 here: densing serve returns at most the top-1 alternative")),
        },
    };
    let tok = state.engine.tokenizer();
    let window = state.engine.context_window();
    let prompts = prompts(state, v)?;
    let decode = |ids: &[u32]| {
        tok.decode(ids)
            .map_err(|e| HttpError(500, format!("{e:#}")))
    };
    let mut choices = Vec::new();
    let (mut n_prompt, mut n_gen) = (0, 0);
    for (index, (text, ids)) in prompts.iter().enumerate() {
        if ids.len() + max_tokens > window {
            return Err(bad(format!(
                "This model's maximum context length is {window} tokens. However, you requested {} tokens ({} in the messages, {max_tokens} in the completion).",
                ids.len() + max_tokens,
                ids.len()
            )));
        }
        let scores = {
            let _turn = state.compute.lock().unwrap_or_else(|p| p.into_inner());
            compute(&state.engine, ids, max_tokens, echo && top_k.is_some())
                .map_err(|e| HttpError(500, format!("scoring failed: {e:#}")))?
        };
        n_prompt += ids.len();
        n_gen += scores.generated.len();
        let gen_ids: Vec<u32> = scores.generated.iter().map(|&(g, _)| g).collect();
        let gen_text = decode(&gen_ids)?;
        let prompt_text = match text {
            Some(t) => t.clone(),
            None => decode(ids)?,
        };
        let logprobs = match top_k {
            None => Value::Null,
            Some(k) => {
                let mut tokens = Vec::new();
                let mut lps = Vec::new();
                let mut tops = Vec::new();
                let mut offsets = Vec::new();
                let mut offset = 0usize;
                let mut push = |id: u32, lp: Option<f32>, top: Value| -> Result<(), HttpError> {
                    let s = decode(&[id])?;
                    offsets.push(offset);
                    offset += s.chars().count();
                    tokens.push(s);
                    lps.push(lp.map_or(Value::Null, |l| json!(l)));
                    tops.push(top);
                    Ok(())
                };
                let top_map = |pairs: &[(u32, f32)]| -> Result<Value, HttpError> {
                    let mut m = BTreeMap::new();
                    for &(id, lp) in pairs {
                        m.insert(decode(&[id])?, json!(lp));
                    }
                    Ok(json!(m))
                };
                if echo {
                    push(ids[0], None, Value::Null)?;
                    for (&id, &(lp, best, best_lp)) in ids[1..].iter().zip(&scores.prompt) {
                        let alternatives: &[(u32, f32)] =
                            if k == 0 { &[] } else { &[(best, best_lp)] };
                        // The token's own entry last, so it wins if both render alike.
                        let mut pairs = alternatives.to_vec();
                        pairs.push((id, lp));
                        push(id, Some(lp), top_map(&pairs)?)?;
                    }
                }
                for &(g, lp) in &scores.generated {
                    push(g, Some(lp), top_map(&[(g, lp)])?)?;
                }
                json!({"tokens": tokens, "token_logprobs": lps, "top_logprobs": tops, "text_offset": offsets})
            }
        };
        choices.push(json!({
            "index": index,
            "text": if echo { format!("{prompt_text}{gen_text}") } else { gen_text },
            "logprobs": logprobs,
            "finish_reason": "length",
            "stop_reason": null,
        }));
    }
    let id = state.next_id.fetch_add(1, Ordering::Relaxed);
    Ok(json!({
        "id": format!("cmpl-densing-{id}"),
        "object": "text_completion",
        "created": now(),
        "model": state.opts.model_name,
        "choices": choices,
        "usage": {"prompt_tokens": n_prompt, "completion_tokens": n_gen, "total_tokens": n_prompt + n_gen},
    }))
}
