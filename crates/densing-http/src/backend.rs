//! [`HttpBackend`]: the [`Backend`] that scores through OpenAI-compatible servers.
//!
//! Prompts go as token ids built by the shared request encoder
//! ([`densing_eval::encode_request`], the embedded engine's), with the model's own
//! tokenizer when one is given (`--model M.gguf` beside `--endpoint`), else with
//! the server's `POST /tokenize` (vLLM, llama.cpp's server, `densing serve`): the
//! continuation then starts at a known token index and the ids are exactly the
//! embedded engine's. Only a server with neither a tokenizer endpoint nor token-id
//! prompts gets text, with the continuation located by the echoed text offsets;
//! such numbers carry a caveat (stderr and the summary).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};
use densing_eval::request::split_text;
use densing_eval::{
    encode_prompt, encode_request, Backend, Boundary, Encode, ModelIdentity, ScoreError,
    ScoreRequest, Scored, TextTokenizer,
};
use serde_json::Value;

use crate::client::{CallError, Client, ClientOptions};
use crate::probe::{self, ProbeReport, PROBE_TEXT};
use crate::protocol::{self, snippet, Prompt};

/// Everything needed to connect.
pub struct HttpOptions {
    pub client: ClientOptions,
    /// The model id to request; needed when an endpoint serves several.
    pub server_model: Option<String>,
    /// Requests in flight at once (spread over the endpoints).
    pub concurrency: usize,
    /// The model's own tokenizer, to send token ids.
    pub tokenizer: Option<TextTokenizer>,
    /// Tokenisation at the context/continuation join.
    pub boundary: Boundary,
}

/// How prompts are sent.
enum Mode {
    /// Token ids from the model's own tokenizer.
    Local(Box<TextTokenizer>),
    /// Token ids from the server's `POST /tokenize`; `bos` is what the server's
    /// tokenizer puts before a prompt (`[bos]` or nothing).
    Server { bos: Vec<u32> },
    /// Text; the continuation located by echoed text offsets.
    Text,
}

/// Why text prompts are not comparable with the embedded engine's numbers.
const TEXT_CAVEAT: &str = "continuations located by text offsets: no local tokenizer (--model) was given and the server has no usable POST /tokenize or refuses token-id prompts, so the server tokenised context+continuation as one text and a token spanning the join counts as continuation; token ids differ from the embedded engine's on such items and losses may differ from its numbers";

/// The server's tokenizer, through `POST /tokenize`, as a request encoder.
struct ServerTokenizer<'a> {
    client: &'a Client,
    model: &'a str,
    endpoint: usize,
    bos: &'a [u32],
}

impl Encode for ServerTokenizer<'_> {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        tokenize(self.client, self.model, self.endpoint, text, false).map_err(|f| anyhow!(f))
    }

    fn bos_prefix(&self) -> Vec<u32> {
        self.bos.to_vec()
    }
}

/// A `POST /tokenize` body with vLLM's fields (`model`, `prompt`,
/// `add_special_tokens`) and llama.cpp's server's (`content`, `add_special`), so
/// either server answers it; both reply `{"tokens": [ids], …}`.
fn tokenize_body(model: &str, text: &str, add_special: bool) -> Value {
    serde_json::json!({
        "model": model,
        "prompt": text,
        "add_special_tokens": add_special,
        "content": text,
        "add_special": add_special,
    })
}

/// `POST /tokenize` with retries: the ids of `text`.
fn tokenize(
    client: &Client,
    model: &str,
    endpoint: usize,
    text: &str,
    add_special: bool,
) -> Result<Vec<u32>, crate::client::Failure> {
    let body = tokenize_body(model, text, add_special);
    let reply = client.with_retries(endpoint, "POST /tokenize", |ep| {
        client.post_once(ep, "/tokenize", &body)
    })?;
    protocol::parse_tokenize(&reply).map_err(|e| crate::client::Failure {
        status: None,
        message: format!("POST /tokenize on {}: {e}", client.endpoints()[endpoint]),
    })
}

/// A connected, probed set of endpoints serving one model.
pub struct HttpBackend {
    client: Client,
    model: String,
    mode: Mode,
    concurrency: usize,
    identity: ModelIdentity,
    probes: Vec<ProbeReport>,
}

/// Read the tokenizer stored in a GGUF file's metadata, without loading weights.
pub fn tokenizer_from_gguf(path: &Path) -> Result<TextTokenizer> {
    densing_eval::hf_tokenizer::read_gguf(path).map(|(tok, _)| tok)
}

/// A model listed by `GET /v1/models`.
struct Listed {
    id: String,
    max_model_len: Option<usize>,
}

fn list_models(client: &Client, ep: usize) -> Result<Vec<Listed>> {
    let body = client
        .with_retries(ep, "GET /v1/models", |e| client.get_once(e, "/v1/models"))
        .map_err(|f| anyhow!("cannot use endpoint {}: {f}", client.endpoints()[ep]))?;
    let v: Value = serde_json::from_str(&body).map_err(|_| {
        anyhow!(
            "endpoint {} is not an OpenAI-compatible server: GET /v1/models answered non-JSON: {}",
            client.endpoints()[ep],
            snippet(&body)
        )
    })?;
    let data = v.get("data").and_then(Value::as_array).ok_or_else(|| {
        anyhow!(
            "endpoint {}: GET /v1/models has no `data` list: {}",
            client.endpoints()[ep],
            snippet(&body)
        )
    })?;
    Ok(data
        .iter()
        .filter_map(|m| {
            Some(Listed {
                id: m.get("id")?.as_str()?.to_string(),
                max_model_len: m
                    .get("max_model_len")
                    .and_then(Value::as_u64)
                    .map(|n| n as usize),
            })
        })
        .collect())
}

impl HttpBackend {
    /// Check every endpoint: it lists the model, and its `/v1/completions` passes
    /// the known-answer probe. Any failure stops here, before anything is scored.
    pub fn connect(opts: HttpOptions) -> Result<Self> {
        let client = Client::new(opts.client)?;
        let mut model: Option<String> = opts.server_model.clone();
        let mut window = None;
        for ep in 0..client.endpoints().len() {
            let listed = list_models(&client, ep)?;
            let names: Vec<&str> = listed.iter().map(|m| m.id.as_str()).collect();
            let want = match &model {
                Some(m) => m.clone(),
                None if listed.len() == 1 => listed[0].id.clone(),
                None => bail!(
                    "endpoint {} serves {} models ({}); choose one with --server-model",
                    client.endpoints()[ep],
                    listed.len(),
                    names.join(", ")
                ),
            };
            let Some(found) = listed.iter().find(|m| m.id == want) else {
                bail!(
                    "endpoint {} does not serve model `{want}`; it serves: {}",
                    client.endpoints()[ep],
                    if names.is_empty() {
                        "nothing".to_string()
                    } else {
                        names.join(", ")
                    }
                );
            };
            window = window.or(found.max_model_len);
            model = Some(want);
        }
        let model = model.expect("at least one endpoint was listed");
        let mode = match opts.tokenizer {
            Some(t) => Mode::Local(Box::new(t)),
            None => server_mode(&client, &model)?,
        };
        let mut backend = Self {
            identity: ModelIdentity {
                model: format!("server:{model}"),
                tokenizer: String::new(),
                name: model.clone(),
                context_window: window,
                numerics: "server".into(),
                boundary: opts.boundary,
            },
            mode,
            client,
            model,
            concurrency: opts.concurrency.max(1),
            probes: Vec::new(),
        };
        for ep in 0..backend.client.endpoints().len() {
            let report = backend.probe(ep)?;
            backend.probes.push(report);
        }
        // Known only after probing: a server may refuse token-id prompts.
        backend.identity.tokenizer = match &backend.mode {
            Mode::Local(t) => t.hash().to_string(),
            Mode::Server { .. } => "server:/tokenize".into(),
            Mode::Text => "server:text-offsets".into(),
        };
        if matches!(backend.mode, Mode::Text) {
            eprintln!("warning: {TEXT_CAVEAT}");
        }
        Ok(backend)
    }

    /// The probe results, one per endpoint.
    pub fn probes(&self) -> &[ProbeReport] {
        &self.probes
    }

    /// The endpoints' base URLs, in probe order.
    pub fn endpoints(&self) -> &[String] {
        self.client.endpoints()
    }

    /// The model id requested from the servers.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// How prompts are sent, in words.
    pub fn prompt_kind(&self) -> &'static str {
        match self.mode {
            Mode::Local(_) => "token ids (local tokenizer)",
            Mode::Server { .. } => "token ids (server's /tokenize)",
            Mode::Text => "text (continuations located by text offsets)",
        }
    }

    /// The request encoder of token-id modes, for requests starting on `endpoint`.
    fn encoder(&self, endpoint: usize) -> Option<Box<dyn Encode + '_>> {
        match &self.mode {
            Mode::Local(t) => Some(Box::new(t.as_ref())),
            Mode::Server { bos } => Some(Box::new(ServerTokenizer {
                client: &self.client,
                model: &self.model,
                endpoint,
                bos,
            })),
            Mode::Text => None,
        }
    }

    fn probe(&mut self, ep: usize) -> Result<ProbeReport> {
        let url = self.client.endpoints()[ep].clone();
        let context = |f: crate::client::Failure| {
            let hint = match f.status {
                Some(404) => "; the endpoint has no /v1/completions (a chat-only endpoint cannot return prompt log-probs)",
                Some(401) | Some(403) => "; check the API key (--api-key-env)",
                _ => "",
            };
            anyhow!("probing {url}: {f}{hint}")
        };
        let ids = match self.encoder(ep) {
            Some(enc) => Some(encode_prompt(enc.as_ref(), PROBE_TEXT)?),
            None => None,
        };
        if let Some(ids) = ids {
            let body = protocol::completion_request(&self.model, Prompt::Ids(&ids), 1);
            // Servers that reject token-id prompts say so with 400, 422 or (llama-cpp-python) 500;
            // one refusal is enough to switch to text, which every server takes.
            match self.client.post_once(ep, "/v1/completions", &body) {
                Ok(reply) => {
                    return judge(&reply, Prompt::Ids(&ids))
                        .with_context(|| format!("probing {url}"))
                }
                Err(CallError::Status(code @ (400 | 422 | 500), _)) => {
                    eprintln!("{url} refused a token-id prompt (HTTP {code}); sending text and locating continuations by text offsets");
                    self.mode = Mode::Text;
                }
                Err(_) => {
                    let reply = self
                        .client
                        .with_retries(ep, "POST /v1/completions", |e| {
                            self.client.post_once(e, "/v1/completions", &body)
                        })
                        .map_err(context)?;
                    return judge(&reply, Prompt::Ids(&ids))
                        .with_context(|| format!("probing {url}"));
                }
            }
        }
        let body = protocol::completion_request(&self.model, Prompt::Text(PROBE_TEXT), 1);
        let reply = self.client.complete(ep, &body).map_err(context)?;
        judge(&reply, Prompt::Text(PROBE_TEXT)).with_context(|| format!("probing {url}"))
    }

    fn score_one(&self, req: &ScoreRequest, first_endpoint: usize) -> Result<Scored, ScoreError> {
        let item = |e: protocol::ProtocolError| ScoreError::Item(e.0);
        if let Some(enc) = self.encoder(first_endpoint) {
            let enc = encode_request(enc.as_ref(), req, self.identity.boundary)?;
            if let Some(w) = self.identity.context_window {
                // The server generates one token after the prompt.
                enc.check_window(w, 1)?;
            }
            let ids = enc.sequence();
            let reply = self.send(Prompt::Ids(&ids), first_endpoint)?;
            let echoed = protocol::parse_completion(&reply).map_err(item)?;
            let n = protocol::prompt_len(&echoed, Prompt::Ids(&ids)).map_err(item)?;
            let (token_logprobs, greedy_match) =
                protocol::continuation(&echoed.entries, enc.context.len(), n).map_err(item)?;
            return Ok(Scored {
                token_ids: enc.continuation,
                token_logprobs,
                bytes: req.continuation.len(),
                greedy_match,
                join_mismatch: enc.join_mismatch,
            });
        }
        if req.continuation.is_empty() {
            return Err(ScoreError::Item("empty continuation".into()));
        }
        let text = format!("{}{}", req.context, req.continuation);
        // The split point follows the convention (harness: before the context's
        // trailing whitespace).
        let (context, _) = split_text(req, self.identity.boundary);
        let reply = self.send(Prompt::Text(&text), first_endpoint)?;
        let echoed = protocol::parse_completion(&reply).map_err(item)?;
        let n = protocol::prompt_len(&echoed, Prompt::Text(&text)).map_err(item)?;
        let (start, join_mismatch) = protocol::split_by_offset(
            &echoed.entries,
            n,
            text.chars().count(),
            context.chars().count(),
        )
        .map_err(item)?;
        let (token_logprobs, greedy_match) =
            protocol::continuation(&echoed.entries, start, n).map_err(item)?;
        // The server tokenised the text; its ids are not in the reply.
        Ok(Scored {
            token_ids: Vec::new(),
            token_logprobs,
            bytes: req.continuation.len(),
            greedy_match,
            join_mismatch,
        })
    }

    /// One scoring request with retries. A request the server refuses (400/422:
    /// too long, malformed) fails only its item; anything else stops the run.
    fn send(&self, prompt: Prompt<'_>, first_endpoint: usize) -> Result<String, ScoreError> {
        let body = protocol::completion_request(&self.model, prompt, 1);
        self.client
            .complete(first_endpoint, &body)
            .map_err(|f| match f.status {
                Some(400) | Some(422) => ScoreError::Item(f.message),
                _ => ScoreError::Backend(anyhow!(f)),
            })
    }
}

/// Without a local tokenizer: token ids through the server's `POST /tokenize` when
/// it has one (its BOS policy read from tokenising "" with special tokens), else
/// text. A server that answers 4xx, or 200 without a `tokens` list, has none.
fn server_mode(client: &Client, model: &str) -> Result<Mode> {
    let url = &client.endpoints()[0];
    let body = tokenize_body(model, "", true);
    let reply = match client.with_retries(0, "POST /tokenize", |ep| {
        client.post_once(ep, "/tokenize", &body)
    }) {
        Ok(r) => r,
        Err(f) if f.status.is_some_and(|s| s < 500) => {
            eprintln!("{url}: no POST /tokenize ({f})");
            return Ok(Mode::Text);
        }
        Err(f) => return Err(anyhow!(f)),
    };
    match protocol::parse_tokenize(&reply) {
        Ok(bos) if bos.len() <= 1 => Ok(Mode::Server { bos }),
        Ok(bos) => bail!(
            "{url}: POST /tokenize puts {} special tokens around an empty text ({bos:?}); expected at most a BOS",
            bos.len()
        ),
        Err(e) => {
            eprintln!("{url}: POST /tokenize answered without token ids ({e})");
            Ok(Mode::Text)
        }
    }
}

/// Parse and check a probe reply.
fn judge(reply: &str, prompt: Prompt<'_>) -> Result<ProbeReport> {
    let echoed = protocol::parse_completion(reply).map_err(|e| anyhow!("probe failed: {e}"))?;
    let n = protocol::prompt_len(&echoed, prompt).map_err(|e| anyhow!("probe failed: {e}"))?;
    Ok(probe::check(&echoed.entries, n)?)
}

impl Backend for HttpBackend {
    fn model_id(&self) -> ModelIdentity {
        self.identity.clone()
    }

    fn caveats(&self) -> Vec<String> {
        match self.mode {
            Mode::Text => vec![TEXT_CAVEAT.to_string()],
            _ => Vec::new(),
        }
    }

    /// Score the requests with up to `concurrency` in flight, request `i` starting
    /// on endpoint `i mod endpoints`. After the first run-stopping failure no new
    /// request is sent; the unsent ones report that failure.
    fn score(&self, requests: &[ScoreRequest]) -> Vec<Result<Scored, ScoreError>> {
        let n = requests.len();
        let next = AtomicUsize::new(0);
        let stopped: Mutex<Option<String>> = Mutex::new(None);
        let slots: Vec<Mutex<Option<Result<Scored, ScoreError>>>> =
            (0..n).map(|_| Mutex::new(None)).collect();
        let endpoints = self.client.endpoints().len();
        std::thread::scope(|s| {
            for _ in 0..self.concurrency.min(n) {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n {
                        break;
                    }
                    let earlier = stopped
                        .lock()
                        .map(|g| g.clone())
                        .unwrap_or_else(|p| p.into_inner().clone());
                    let result = match earlier {
                        Some(why) => Err(ScoreError::Backend(anyhow!(
                            "not sent because another request failed: {why}"
                        ))),
                        None => self.score_one(&requests[i], i % endpoints),
                    };
                    if let Err(ScoreError::Backend(e)) = &result {
                        let mut g = stopped.lock().unwrap_or_else(|p| p.into_inner());
                        g.get_or_insert_with(|| format!("{e:#}"));
                    }
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                });
            }
        });
        slots
            .into_iter()
            .map(|m| {
                m.into_inner()
                    .unwrap_or_else(|p| p.into_inner())
                    .unwrap_or_else(|| {
                        Err(ScoreError::Backend(anyhow!("request was never scheduled")))
                    })
            })
            .collect()
    }
}
