//! [`HttpBackend`]: the [`Backend`] that scores through OpenAI-compatible servers.
//!
//! Prompts go as token ids when a local tokenizer is given (`--model M.gguf`
//! beside `--endpoint`) and the server accepts ids: the continuation then starts
//! at a known token index and the ids are exactly the embedded engine's. Otherwise
//! prompts go as text and the continuation is located by the echoed text offsets.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::quantized::gguf_file;
use densing_eval::{Backend, ModelIdentity, ScoreError, ScoreRequest, Scored, TextTokenizer};
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
}

/// How prompts are sent.
enum Mode {
    Ids(Box<TextTokenizer>),
    Text,
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
    let mut reader =
        BufReader::new(File::open(path).with_context(|| format!("opening {}", path.display()))?);
    let content = gguf_file::Content::read(&mut reader)
        .map_err(|e| anyhow!("{}: not a readable GGUF file: {e}", path.display()))?;
    TextTokenizer::from_gguf(&content).with_context(|| format!("tokenizer of {}", path.display()))
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
        let mut backend = Self {
            identity: ModelIdentity {
                model: format!("server:{model}"),
                tokenizer: opts
                    .tokenizer
                    .as_ref()
                    .map_or("server".into(), |t| t.hash().to_string()),
                name: model.clone(),
                context_window: window,
            },
            mode: match opts.tokenizer {
                Some(t) => Mode::Ids(Box::new(t)),
                None => Mode::Text,
            },
            client,
            model,
            concurrency: opts.concurrency.max(1),
            probes: Vec::new(),
        };
        for ep in 0..backend.client.endpoints().len() {
            let report = backend.probe(ep)?;
            backend.probes.push(report);
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

    /// Whether prompts go as token ids (else as text).
    pub fn sends_ids(&self) -> bool {
        matches!(self.mode, Mode::Ids(_))
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
        if let Mode::Ids(tok) = &self.mode {
            let ids = self.probe_ids(tok)?;
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

    fn probe_ids(&self, tok: &TextTokenizer) -> Result<Vec<u32>> {
        let mut ids: Vec<u32> = Vec::new();
        if tok.add_bos() {
            ids.extend(tok.bos());
        }
        ids.extend(tok.encode(PROBE_TEXT)?);
        Ok(ids)
    }

    /// Context and continuation ids exactly as the embedded engine builds them
    /// (`densing_eval::Engine::encode_request`): BOS per the model, the joint
    /// encoding split after the context's tokens, or the continuation encoded on
    /// its own when a token spans the join.
    fn encode(
        &self,
        tok: &TextTokenizer,
        req: &ScoreRequest,
    ) -> Result<(Vec<u32>, Vec<u32>, bool), ScoreError> {
        let mut ctx = Vec::new();
        if tok.add_bos() {
            ctx.extend(tok.bos());
        }
        let ctx_only = tok.encode(&req.context)?;
        let joint = tok.encode(&format!("{}{}", req.context, req.continuation))?;
        let (cont, fallback) =
            if joint.len() > ctx_only.len() && joint[..ctx_only.len()] == ctx_only[..] {
                (joint[ctx_only.len()..].to_vec(), false)
            } else {
                (tok.encode(&req.continuation)?, true)
            };
        ctx.extend(ctx_only);
        if cont.is_empty() {
            return Err(ScoreError::Item("empty continuation".into()));
        }
        if ctx.is_empty() {
            return Err(ScoreError::Item(
                "empty context and the model adds no BOS to condition on".into(),
            ));
        }
        if let Some(w) = self.identity.context_window {
            // The server generates one token after the prompt.
            if ctx.len() + cont.len() + 1 > w {
                return Err(ScoreError::Item(format!(
                    "{} tokens ({} context + {} continuation) plus one generated exceed the server's max_model_len of {w}",
                    ctx.len() + cont.len(),
                    ctx.len(),
                    cont.len()
                )));
            }
        }
        Ok((ctx, cont, fallback))
    }

    fn score_one(&self, req: &ScoreRequest, first_endpoint: usize) -> Result<Scored, ScoreError> {
        match &self.mode {
            Mode::Ids(tok) => {
                let (ctx, cont, join_fallback) = self.encode(tok, req)?;
                let mut ids = ctx.clone();
                ids.extend_from_slice(&cont);
                let reply = self.send(Prompt::Ids(&ids), first_endpoint)?;
                let echoed =
                    protocol::parse_completion(&reply).map_err(|e| ScoreError::Item(e.0))?;
                let n = protocol::prompt_len(&echoed, Prompt::Ids(&ids))
                    .map_err(|e| ScoreError::Item(e.0))?;
                let (token_logprobs, greedy_match) =
                    protocol::continuation(&echoed.entries, ctx.len(), n)
                        .map_err(|e| ScoreError::Item(e.0))?;
                Ok(Scored {
                    token_ids: cont,
                    token_logprobs,
                    bytes: req.continuation.len(),
                    greedy_match,
                    join_fallback,
                })
            }
            Mode::Text => {
                if req.continuation.is_empty() {
                    return Err(ScoreError::Item("empty continuation".into()));
                }
                let text = format!("{}{}", req.context, req.continuation);
                let reply = self.send(Prompt::Text(&text), first_endpoint)?;
                let item = |e: protocol::ProtocolError| ScoreError::Item(e.0);
                let echoed = protocol::parse_completion(&reply).map_err(item)?;
                let n = protocol::prompt_len(&echoed, Prompt::Text(&text)).map_err(item)?;
                let (start, join_fallback) = protocol::split_by_offset(
                    &echoed.entries,
                    n,
                    text.chars().count(),
                    req.context.chars().count(),
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
                    join_fallback,
                })
            }
        }
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
