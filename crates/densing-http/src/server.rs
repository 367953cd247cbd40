//! `densing serve`: the embedded engine behind an OpenAI-compatible HTTP API with
//! vLLM's scoring semantics, so that a small model can be spread over machines
//! without GPUs and the HTTP client has a correct server to be tested against.
//!
//! Routes: `POST /v1/completions`, `GET /v1/models`, `GET /health`, and vLLM's
//! tokenizer routes `POST /tokenize`, `POST /detokenize`, `GET /tokenizer_info`
//! ([`crate::tokenizer_api`]), so clients without the model's tokenizer (lm-eval's
//! `tokenizer_backend=remote`) can still send token-id prompts.
//! Completions follow vLLM: `prompt` is a string, a list of token ids, or a list
//! of either (one choice per prompt); ids are used verbatim, text is tokenised with
//! the model's tokenizer and BOS policy; `max_tokens` defaults to 16 and must be
//! at least 1; with `echo` the prompt's tokens come back first, the first with a
//! `null` log-prob and `null` top entry, then each `log p(token_i | tokens before
//! i)`; `logprobs: k` (k ≤ 1 here) adds the top-k alternatives plus the token
//! itself per position, in the legacy schema (`tokens`, `token_logprobs`,
//! `text_offset`, `top_logprobs`). Decoding is always greedy (temperature is
//! ignored); streaming, `n > 1` and stop strings are refused rather than faked.
//!
//! Safe to expose: with an API key every `/v1/*` route needs `Authorization:
//! Bearer <key>` (compared in constant time; 401 otherwise); bodies above
//! `max_body` bytes are refused with 413 before they are read; `max_tokens`,
//! `logprobs`, prompt ids (below the vocabulary size) and prompt lengths (within the
//! context window) are checked, 400 otherwise. Connection threads route,
//! authenticate, read and validate; valid completions go through a bounded queue to one
//! compute thread (a forward pass already uses every core), and a full queue is
//! answered 503 with `Retry-After`. A panic while handling a request is answered
//! 500 and the thread that caught it keeps serving. `/health` is 200 while the
//! compute thread runs and the queue has room, 503 otherwise.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Result};
use candle_core::Tensor;
use densing_eval::engine::panic_message;
use densing_eval::model::KvCache;
use densing_eval::{encode_prompt, Engine};

use crate::tokenizer_api;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tiny_http::{Header, Method, Request, Response, Server};

/// Default request-body limit: 1 MiB, far above any scoring request (a 32k-token
/// prompt as ids is ~200 kB of JSON).
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// Default number of completion requests that may wait for the compute thread.
pub const DEFAULT_QUEUE: usize = 16;
/// Prompts one request may carry (each is a separate forward pass).
pub const MAX_PROMPTS: usize = 256;
/// Seconds a client is told to wait when the queue is full.
const RETRY_AFTER_S: u32 = 1;

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
    /// Largest request body accepted, in bytes (413 above).
    pub max_body: usize,
    /// Completion requests that may wait for the compute thread (503 beyond).
    pub queue: usize,
}

/// A request error: status and the message put into vLLM's error body.
#[derive(Debug)]
pub struct HttpError(pub u16, pub String);

impl From<tokenizer_api::Refusal> for HttpError {
    fn from((status, message): tokenizer_api::Refusal) -> Self {
        HttpError(status, message)
    }
}

fn bad(msg: impl Into<String>) -> HttpError {
    HttpError(400, msg.into())
}

struct State {
    engine: Arc<Engine>,
    opts: ServeOptions,
    next_id: AtomicU64,
    /// Completion requests queued or being computed.
    pending: AtomicUsize,
    /// False once the compute thread has stopped (it should never).
    computing: AtomicBool,
}

/// A validated completion request waiting for the compute thread.
struct Job {
    req: Request,
    request: CompletionRequest,
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
        next_id: AtomicU64::new(0),
        pending: AtomicUsize::new(0),
        computing: AtomicBool::new(true),
    });
    // One forward pass at a time: the engine already uses every core.
    let (jobs, queue) = sync_channel::<Job>(state.opts.queue);
    let compute = {
        let state = state.clone();
        std::thread::spawn(move || compute_thread(&state, queue))
    };
    let workers: Vec<_> = (0..state.opts.threads.max(1))
        .map(|_| {
            let (server, state, jobs) = (server.clone(), state.clone(), jobs.clone());
            std::thread::spawn(move || {
                while let Ok(req) = server.recv() {
                    handle(&state, &jobs, req);
                }
            })
        })
        .collect();
    drop(jobs);
    for w in workers {
        w.join().map_err(|_| anyhow!("a server thread panicked"))?;
    }
    compute
        .join()
        .map_err(|_| anyhow!("the compute thread panicked"))?;
    Ok(())
}

/// Run `f`, turning a panic into a 500 so that the thread that called it lives on.
fn guarded<T>(f: impl FnOnce() -> Result<T, HttpError>) -> Result<T, HttpError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(HttpError(
            500,
            format!(
                "internal error while handling the request: {}",
                panic_message(&*panic)
            ),
        ))
    })
}

/// Answer queued completions one at a time until every connection thread is gone.
fn compute_thread(state: &State, queue: Receiver<Job>) {
    for Job { req, request } in queue {
        let result = guarded(|| completions(state, request));
        state.pending.fetch_sub(1, Ordering::SeqCst);
        reply(req, result);
    }
    state.computing.store(false, Ordering::SeqCst);
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("static header is valid")
}

fn json_response(status: u16, body: &Value) -> Response<std::io::Cursor<Vec<u8>>> {
    let mut resp = Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"));
    match status {
        401 => resp.add_header(header("WWW-Authenticate", "Bearer")),
        503 => resp.add_header(header("Retry-After", &RETRY_AFTER_S.to_string())),
        // The unread rest of a refused body is not worth draining.
        413 => resp.add_header(header("Connection", "close")),
        _ => {}
    }
    resp
}

fn error_body(HttpError(code, message): &HttpError) -> Value {
    let kind = match code {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        404 => "NotFoundError",
        405 => "MethodNotAllowedError",
        413 => "RequestTooLargeError",
        503 => "ServiceUnavailableError",
        _ => "InternalServerError",
    };
    json!({"object": "error", "message": message, "type": kind, "param": null, "code": code})
}

fn reply(req: Request, result: Result<Value, HttpError>) {
    let resp = match result {
        Ok(v) => json_response(200, &v),
        Err(e) => json_response(e.0, &error_body(&e)),
    };
    // A client that hung up is no concern of the server's.
    let _ = req.respond(resp);
}

/// What a connection thread made of a request.
enum Routed {
    /// The answer.
    Done(Value),
    /// A valid completion request for the compute thread.
    Compute(CompletionRequest),
}

fn handle(state: &State, jobs: &SyncSender<Job>, mut req: Request) {
    let path = req.url().split('?').next().unwrap_or_default().to_string();
    match guarded(|| route(state, &mut req, &path)) {
        Ok(Routed::Done(v)) => reply(req, Ok(v)),
        Ok(Routed::Compute(request)) => {
            state.pending.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = jobs.try_send(Job { req, request }) {
                state.pending.fetch_sub(1, Ordering::SeqCst);
                let (job, why) = match e {
                    TrySendError::Full(job) => (job, format!("the server is busy: {} completion requests are queued; retry after {RETRY_AFTER_S} s", state.opts.queue)),
                    TrySendError::Disconnected(job) => (job, "the compute thread has stopped".into()),
                };
                reply(job.req, Err(HttpError(503, why)));
            }
        }
        Err(e) => reply(req, Err(e)),
    }
}

/// `Authorization: Bearer <key>` compared in constant time (the length of the key
/// is not secret).
fn authorised(req: &Request, key: &str) -> bool {
    req.headers()
        .iter()
        .filter(|h| h.field.equiv("Authorization"))
        .filter_map(|h| h.value.as_str().strip_prefix("Bearer "))
        .any(|given| bool::from(given.as_bytes().ct_eq(key.as_bytes())))
}

/// Read the body, at most `limit` bytes (413 beyond), and parse it as JSON.
fn read_json(req: &mut Request, limit: usize) -> Result<Value, HttpError> {
    let too_large = |n: String| {
        HttpError(
            413,
            format!("the request body is {n} bytes; this server accepts at most {limit} (--max-body-bytes)"),
        )
    };
    if let Some(n) = req.body_length().filter(|&n| n > limit) {
        return Err(too_large(n.to_string()));
    }
    let mut body = Vec::new();
    req.as_reader()
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| bad(format!("reading the request body: {e}")))?;
    if body.len() > limit {
        return Err(too_large(format!("more than {limit}")));
    }
    serde_json::from_slice(&body).map_err(|e| bad(format!("the request body is not JSON: {e}")))
}

fn route(state: &State, req: &mut Request, path: &str) -> Result<Routed, HttpError> {
    if path == "/health" {
        let pending = state.pending.load(Ordering::SeqCst);
        // Queued plus the one being computed.
        let full = pending > state.opts.queue;
        if !state.computing.load(Ordering::SeqCst) {
            return Err(HttpError(503, "the compute thread has stopped".into()));
        }
        if full {
            return Err(HttpError(
                503,
                format!("busy: {pending} completion requests pending"),
            ));
        }
        return Ok(Routed::Done(
            json!({"status": "ready", "pending": pending, "queue": state.opts.queue}),
        ));
    }
    if let Some(key) = &state.opts.api_key {
        if !authorised(req, key) {
            return Err(HttpError(
                401,
                "missing or wrong API key (Authorization: Bearer …)".into(),
            ));
        }
    }
    match (req.method(), path) {
        (Method::Get, "/v1/models") => Ok(Routed::Done(json!({
            "object": "list",
            "data": [{
                "id": state.opts.model_name,
                "object": "model",
                "created": now(),
                "owned_by": "densing",
                "max_model_len": state.engine.context_window(),
            }],
        }))),
        // Validated here, so a request that cannot be served never takes a queue place.
        (Method::Post, "/v1/completions") => Ok(Routed::Compute(validate(
            state,
            &read_json(req, state.opts.max_body)?,
        )?)),
        (Method::Post, "/tokenize") => Ok(Routed::Done(tokenizer_api::tokenize(
            &state.engine,
            &state.opts.model_name,
            &read_json(req, state.opts.max_body)?,
        )?)),
        (Method::Post, "/detokenize") => Ok(Routed::Done(tokenizer_api::detokenize(
            &state.engine,
            &state.opts.model_name,
            &read_json(req, state.opts.max_body)?,
        )?)),
        (Method::Get, "/tokenizer_info") => {
            Ok(Routed::Done(tokenizer_api::tokenizer_info(&state.engine)))
        }
        (_, "/v1/models" | "/v1/completions" | "/tokenize" | "/detokenize" | "/tokenizer_info") => {
            Err(HttpError(405, format!("method not allowed on {path}")))
        }
        _ => Err(HttpError(
            404,
            format!(
                "no route {path}; this server has /v1/completions, /v1/models, /tokenize, \
                 /detokenize, /tokenizer_info and /health"
            ),
        )),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A prompt as (its text, when it was sent as text; its token ids).
pub type PromptIds = (Option<String>, Vec<u32>);

/// What the served model allows a request.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The model id a request may name.
    pub model_name: String,
    /// Context window: prompt plus generated tokens.
    pub window: usize,
    /// Token ids below this have an embedding and a text.
    pub vocab: usize,
}

/// A validated completion request.
#[derive(Debug)]
pub struct CompletionRequest {
    pub prompts: Vec<PromptIds>,
    pub max_tokens: usize,
    pub echo: bool,
    /// `logprobs`: alternatives per position (0 or 1), or none.
    pub top_k: Option<usize>,
}

/// A text prompt's token ids (`encode`'s errors are the client's: 400).
type Encode<'a> = &'a dyn Fn(&str) -> Result<Vec<u32>, String>;

/// The prompts of a request.
fn prompts(v: &Value, vocab: usize, encode: Encode<'_>) -> Result<Vec<PromptIds>, HttpError> {
    let vocab = vocab as u64;
    let text = |s: &str| -> Result<PromptIds, HttpError> {
        Ok((Some(s.to_string()), encode(s).map_err(bad)?))
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
    if out.len() > MAX_PROMPTS {
        return Err(bad(format!(
            "{} prompts in one request; at most {MAX_PROMPTS}",
            out.len()
        )));
    }
    if out.iter().any(|(_, ids)| ids.is_empty()) {
        return Err(bad("a prompt is empty (and the model adds no BOS)"));
    }
    Ok(out)
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
    let mut generated = Vec::new();
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

/// Check every field of a completion request against `limits`, tokenising text
/// prompts with `encode`. Runs no model, so every rule is tested (and fuzzed)
/// without one; nothing is computed for a request this refuses.
pub fn parse_request(
    v: &Value,
    limits: &Limits,
    encode: Encode<'_>,
) -> Result<CompletionRequest, HttpError> {
    if let Some(m) = v.get("model").and_then(Value::as_str) {
        if m != limits.model_name {
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
    let window = limits.window;
    let max_tokens = match v.get("max_tokens") {
        None | Some(Value::Null) => 16,
        Some(x) => x
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| bad("`max_tokens` must be a non-negative integer"))?,
    };
    if max_tokens == 0 {
        return Err(bad("max_tokens must be at least 1"));
    }
    if max_tokens >= window {
        return Err(bad(format!(
            "max_tokens = {max_tokens} leaves no room for a prompt in this model's maximum context length of {window} tokens"
        )));
    }
    let echo = v.get("echo").and_then(Value::as_bool).unwrap_or(false);
    let top_k = match v.get("logprobs") {
        None | Some(Value::Null) => None,
        Some(x) => match x.as_u64() {
            Some(k @ 0..=1) => Some(k as usize),
            _ => return Err(bad("`logprobs` must be 0 or 1 here: densing serve returns at most the top-1 alternative")),
        },
    };
    let prompts = prompts(v, limits.vocab, encode)?;
    for (_, ids) in &prompts {
        if ids.len() + max_tokens > window {
            return Err(bad(format!(
                "This model's maximum context length is {window} tokens. However, you requested {} tokens ({} in the messages, {max_tokens} in the completion).",
                ids.len() + max_tokens,
                ids.len()
            )));
        }
    }
    Ok(CompletionRequest {
        prompts,
        max_tokens,
        echo,
        top_k,
    })
}

/// [`parse_request`] against the served model and its tokenizer.
fn validate(state: &State, v: &Value) -> Result<CompletionRequest, HttpError> {
    let tok = state.engine.tokenizer();
    let limits = Limits {
        model_name: state.opts.model_name.clone(),
        window: state.engine.context_window(),
        // Ids must have both an embedding and a token to decode.
        vocab: tok
            .inner()
            .get_vocab_size(true)
            .min(state.engine.model().vocab_size()),
    };
    let encode = |s: &str| encode_prompt(tok, s).map_err(|e| format!("{e:#}"));
    parse_request(v, &limits, &encode)
}

fn completions(state: &State, request: CompletionRequest) -> Result<Value, HttpError> {
    let tok = state.engine.tokenizer();
    let CompletionRequest {
        prompts,
        max_tokens,
        echo,
        top_k,
    } = request;
    let decode = |ids: &[u32]| {
        tok.decode(ids)
            .map_err(|e| HttpError(500, format!("{e:#}")))
    };
    let mut choices = Vec::new();
    let (mut n_prompt, mut n_gen) = (0, 0);
    for (index, (text, ids)) in prompts.iter().enumerate() {
        let scores = compute(&state.engine, ids, max_tokens, echo && top_k.is_some())
            .map_err(|e| HttpError(500, format!("scoring failed: {e:#}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            model_name: "m".into(),
            window: 64,
            vocab: 100,
        }
    }

    fn parse(v: Value) -> Result<CompletionRequest, HttpError> {
        // One id per byte: enough to test the rules, which never look at the text.
        let encode = |s: &str| Ok(s.bytes().map(|b| u32::from(b) % 100).collect());
        parse_request(&v, &limits(), &encode)
    }

    fn refused(v: Value, needle: &str) {
        match parse(v.clone()) {
            Ok(r) => panic!("{v} was accepted: {r:?}"),
            Err(HttpError(code, msg)) => {
                assert!(code == 400 || code == 404, "{v}: {code}");
                assert!(msg.contains(needle), "{v}: {msg:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn hostile_fields_are_refused_before_anything_is_computed() {
        refused(
            json!({"prompt": "hi", "max_tokens": u64::MAX}),
            "max_tokens",
        );
        refused(json!({"prompt": "hi", "max_tokens": 64}), "context length");
        refused(json!({"prompt": "hi", "max_tokens": 0}), "at least 1");
        refused(json!({"prompt": "hi", "max_tokens": 2.5}), "max_tokens");
        refused(json!({"prompt": "hi", "logprobs": 2}), "logprobs");
        refused(json!({"prompt": [1, 100]}), "vocabulary size 100");
        refused(json!({"prompt": [1, -1]}), "vocabulary");
        refused(
            json!({"prompt": vec![1; 60], "max_tokens": 5}),
            "maximum context length is 64",
        );
        refused(json!({"prompt": vec!["a"; MAX_PROMPTS + 1]}), "at most 256");
        refused(json!({"prompt": [[]]}), "empty");
        refused(json!({"prompt": ""}), "empty");
        refused(json!({"prompt": {"x": 1}}), "`prompt` must be");
        refused(json!({"prompt": "hi", "model": "other"}), "does not exist");
        let ok =
            parse(json!({"prompt": [[1, 2], "ab"], "max_tokens": 3, "echo": true, "logprobs": 1}))
                .unwrap();
        assert_eq!(ok.prompts.len(), 2);
        assert_eq!((ok.max_tokens, ok.echo, ok.top_k), (3, true, Some(1)));
    }

    #[test]
    fn a_panic_in_a_handler_is_a_500_and_the_caller_lives_on() {
        let r: Result<(), HttpError> = guarded(|| panic!("injected"));
        let HttpError(code, msg) = r.unwrap_err();
        assert_eq!(code, 500);
        assert!(msg.contains("injected"), "{msg}");
        // The same thread keeps working.
        assert_eq!(guarded(|| Ok(7)).unwrap(), 7);
    }
}
