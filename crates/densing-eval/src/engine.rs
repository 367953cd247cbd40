//! The embedded engine: a model file loaded with candle, scoring continuations
//! locally, with prefix KV-cache reuse between consecutive requests.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use candle_core::quantized::{gguf_file, QMatMul};
pub use candle_core::Device;
use candle_core::Tensor;
use sha2::{Digest, Sha256};

use crate::backend::{Backend, Boundary, ModelIdentity, ScoreError, ScoreRequest, Scored};
use crate::memory;
use crate::model::{KvCache, Llama, LlamaConfig, MatmulMode, RopeStyle, WeightSource};
use crate::request::{self, EncodedRequest};
use crate::tokenizer::TextTokenizer;

/// `cpu`, `cuda:N` or `metal:N`.
pub fn device_name(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// Engine options.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub matmul: MatmulMode,
    /// Reuse the KV cache of the longest common token prefix with the previous
    /// request (few-shot prompts are computed once per run instead of per item).
    pub prefix_cache: bool,
    /// Expected `sha256` (hex) of the model file; loading fails on a mismatch.
    pub expected_sha256: Option<String>,
    pub device: Device,
    /// Tokenisation at the context/continuation join.
    pub boundary: Boundary,
    /// The longest text (context + continuation) the run will score: its tokens
    /// size the KV cache and working set in the memory preflight
    /// ([`crate::memory`]); `None` counts the weights only.
    pub longest_text: Option<String>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            matmul: MatmulMode::Dequantized,
            prefix_cache: true,
            expected_sha256: None,
            device: Device::Cpu,
            boundary: Boundary::default(),
            longest_text: None,
        }
    }
}

/// Log-probabilities of a token sequence under the model.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceScores {
    /// `logprobs[i] = log p(tokens[first + i] | tokens[..first + i])`, nats.
    pub logprobs: Vec<f32>,
    /// `greedy[i]` = the model's argmax token after `tokens[..first + i]`.
    pub greedy: Vec<u32>,
}

/// One request scored from scratch with everything an outside check needs: the
/// request, the token ids, where the continuation starts, each continuation token's
/// log-prob and the time taken (`bench/eval/llamacpp_compare.py` reads these).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenDump {
    pub id: String,
    pub context: String,
    pub continuation: String,
    /// The whole sequence: BOS per the model, context, continuation.
    pub ids: Vec<u32>,
    /// Index of the first continuation token in `ids`.
    pub first: usize,
    pub join_mismatch: bool,
    /// `log p(ids[first + i] | ids[..first + i])`, nats.
    pub logprobs: Vec<f32>,
    /// Seconds of the forward pass (no cache).
    pub seconds: f64,
}

/// The token sequence last scored and its KV cache, reused for the longest common
/// prefix with the next request.
type PrefixSlot = Mutex<Option<(Vec<u32>, KvCache)>>;

/// A loaded model plus tokenizer: the embedded scoring engine.
pub struct Engine {
    model: Llama,
    tokenizer: TextTokenizer,
    identity: ModelIdentity,
    prefix_cache: Option<PrefixSlot>,
}

struct GgufWeights<'a> {
    content: &'a gguf_file::Content,
    reader: BufReader<File>,
    device: Device,
    mode: MatmulMode,
}

impl WeightSource for GgufWeights<'_> {
    fn matrix(&mut self, name: &str) -> Result<QMatMul> {
        let q = self
            .content
            .tensor(&mut self.reader, name, &self.device)
            .with_context(|| format!("tensor `{name}`"))?;
        Ok(match self.mode {
            MatmulMode::Dequantized => QMatMul::Tensor(q.dequantize(&self.device)?),
            MatmulMode::Quantized => QMatMul::from_qtensor(q)?,
        })
    }

    fn vector(&mut self, name: &str) -> Result<Tensor> {
        let q = self
            .content
            .tensor(&mut self.reader, name, &self.device)
            .with_context(|| format!("tensor `{name}`"))?;
        Ok(q.dequantize(&self.device)?)
    }

    fn has(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }
}

/// CUDA device `ordinal` (an error unless built with the `cuda` feature).
pub fn cuda_device(ordinal: usize) -> Result<Device> {
    Ok(Device::new_cuda(ordinal)?)
}

/// Metal device `ordinal` (an error unless built with the `metal` feature).
pub fn metal_device(ordinal: usize) -> Result<Device> {
    Ok(Device::new_metal(ordinal)?)
}

/// Fail when `opts` names an expected sha256 and `hash` (`sha256:<hex>`) differs.
fn check_sha256(path: &Path, hash: &str, opts: &EngineOptions) -> Result<()> {
    if let Some(want) = &opts.expected_sha256 {
        let want = want.trim().to_ascii_lowercase();
        let want = want.strip_prefix("sha256:").unwrap_or(&want);
        if hash.strip_prefix("sha256:") != Some(want) {
            bail!(
                "checksum mismatch for {}: expected sha256 {want}, model has {hash}",
                path.display()
            );
        }
    }
    Ok(())
}

/// Hugging Face `config.json` fields of Llama-family models.
#[derive(Debug, serde::Deserialize)]
struct HfConfig {
    model_type: String,
    hidden_size: usize,
    num_attention_heads: usize,
    num_key_value_heads: Option<usize>,
    num_hidden_layers: usize,
    rms_norm_eps: f32,
    rope_theta: Option<f32>,
    max_position_embeddings: usize,
    head_dim: Option<usize>,
    bos_token_id: Option<u32>,
}

/// Safetensors tensors by Hugging Face name, served under GGUF names.
struct HfWeights {
    tensors: std::collections::HashMap<String, Tensor>,
}

/// The Hugging Face (safetensors) name of a GGUF tensor name, e.g.
/// `blk.3.attn_q.weight` → `model.layers.3.self_attn.q_proj.weight`.
pub fn hf_tensor_name(name: &str) -> String {
    fn map(s: &str) -> &str {
        match s {
            "attn_norm.weight" => "input_layernorm.weight",
            "ffn_norm.weight" => "post_attention_layernorm.weight",
            "attn_q.weight" => "self_attn.q_proj.weight",
            "attn_k.weight" => "self_attn.k_proj.weight",
            "attn_v.weight" => "self_attn.v_proj.weight",
            "attn_q.bias" => "self_attn.q_proj.bias",
            "attn_k.bias" => "self_attn.k_proj.bias",
            "attn_v.bias" => "self_attn.v_proj.bias",
            "attn_output.weight" => "self_attn.o_proj.weight",
            "ffn_gate.weight" => "mlp.gate_proj.weight",
            "ffn_up.weight" => "mlp.up_proj.weight",
            "ffn_down.weight" => "mlp.down_proj.weight",
            other => other,
        }
    }
    match name {
        "token_embd.weight" => "model.embed_tokens.weight".into(),
        "output_norm.weight" => "model.norm.weight".into(),
        "output.weight" => "lm_head.weight".into(),
        _ => match name.strip_prefix("blk.").and_then(|r| r.split_once('.')) {
            Some((i, rest)) => format!("model.layers.{i}.{}", map(rest)),
            None => name.into(),
        },
    }
}

impl HfWeights {
    fn get(&self, name: &str) -> Result<Tensor> {
        let hf = hf_tensor_name(name);
        let t = self
            .tensors
            .get(&hf)
            .with_context(|| format!("safetensors lack tensor `{hf}`"))?;
        Ok(t.to_dtype(candle_core::DType::F32)?)
    }
}

impl WeightSource for HfWeights {
    fn matrix(&mut self, name: &str) -> Result<QMatMul> {
        Ok(QMatMul::Tensor(self.get(name)?))
    }

    fn vector(&mut self, name: &str) -> Result<Tensor> {
        self.get(name)
    }

    fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(&hf_tensor_name(name))
    }
}

/// Read a GGUF header (metadata and tensor directory) with candle's reader. That
/// reader bounds lengths by the file size, but divides by `general.alignment`
/// unchecked (0 panics), so a panic inside it is turned into an error here: a
/// malformed file must never take the process down. The panic hook is silenced
/// meanwhile (the error says what happened; models are loaded before any other
/// thread has work).
pub fn read_gguf<R: std::io::Read + std::io::Seek>(reader: &mut R) -> Result<gguf_file::Content> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        gguf_file::Content::read(reader)
    }));
    std::panic::set_hook(hook);
    match read {
        Ok(content) => Ok(content?),
        Err(panic) => bail!("malformed header ({})", panic_message(&*panic)),
    }
}

/// The text of a caught panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// `sha256:<hex>` of a file's bytes.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

/// Stop before loading when the estimated memory (see [`crate::memory`]) exceeds
/// what is available on the CPU. `DENSING_AVAILABLE_MEMORY` (bytes, or `NGiB`)
/// overrides the available amount, e.g. to check whether a run fits a smaller
/// machine.
fn preflight(
    content: &gguf_file::Content,
    cfg: &LlamaConfig,
    tokenizer: &TextTokenizer,
    opts: &EngineOptions,
) -> Result<()> {
    let available = match std::env::var("DENSING_AVAILABLE_MEMORY") {
        Ok(v) => Some(parse_bytes(&v).with_context(|| {
            format!("DENSING_AVAILABLE_MEMORY={v}: expected bytes or a size like 24GiB")
        })?),
        Err(_) if opts.device.is_cpu() => memory::available_bytes(),
        Err(_) => None,
    };
    let Some(available) = available else {
        return Ok(());
    };
    let rows = |name: &str| {
        content
            .tensor_infos
            .get(name)
            .and_then(|t| t.shape.dims().iter().copied().max())
            .with_context(|| format!("GGUF lacks tensor `{name}`"))
    };
    let shape = memory::Shape {
        n_layer: cfg.n_layer,
        n_head: cfg.n_head,
        n_kv_head: cfg.n_kv_head,
        head_dim: cfg.head_dim,
        ffn: rows("blk.0.ffn_up.weight")?,
        vocab: rows("token_embd.weight")?,
    };
    let tokens = match &opts.longest_text {
        Some(t) => (tokenizer.encode(t)?.len() + 1).min(cfg.context_len),
        None => 0,
    };
    let (kv_cache, working) = memory::sequence_bytes(&shape, tokens);
    let est = memory::MemoryEstimate {
        weights: memory::gguf_weight_bytes(content, opts.matmul),
        kv_cache,
        working,
    };
    memory::check(&est, available, opts.matmul, tokens)
}

/// `123`, `24GiB`, `512MiB` → bytes.
fn parse_bytes(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => bail!("unknown unit `{other}` (use bytes, KiB, MiB or GiB)"),
    };
    let n: f64 = num
        .parse()
        .with_context(|| format!("`{num}` is not a number"))?;
    Ok((n * scale as f64) as u64)
}

fn md_u32(content: &gguf_file::Content, key: &str) -> Result<u32> {
    let v = content
        .metadata
        .get(key)
        .with_context(|| format!("GGUF metadata lacks `{key}`"))?;
    Ok(v.to_u32()?)
}

fn md_f32(content: &gguf_file::Content, key: &str) -> Result<f32> {
    let v = content
        .metadata
        .get(key)
        .with_context(|| format!("GGUF metadata lacks `{key}`"))?;
    Ok(v.to_f32()?)
}

impl Engine {
    /// Load a model: a `.gguf` file (architectures `llama`, `qwen2`), or a Hugging
    /// Face directory with `config.json` (`model_type` llama, mistral or qwen2),
    /// `tokenizer.json` and `model.safetensors` or `model-*.safetensors` shards.
    pub fn load(path: &Path, opts: &EngineOptions) -> Result<Self> {
        if !path.exists() {
            bail!("model file {} does not exist", path.display());
        }
        if path.is_dir() {
            let engine = Self::load_hf_dir(path, opts)?;
            check_sha256(path, &engine.identity.model, opts)?;
            return Ok(engine);
        }
        let hash = file_sha256(path)?;
        check_sha256(path, &hash, opts)?;
        let is_gguf = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
        if !is_gguf {
            bail!(
                "unsupported model file {} (expected a .gguf file or a safetensors directory)",
                path.display()
            );
        }
        Self::load_gguf(path, hash, opts)
    }

    fn load_gguf(path: &Path, hash: String, opts: &EngineOptions) -> Result<Self> {
        let mut reader = BufReader::new(File::open(path)?);
        let content = read_gguf(&mut reader)
            .map_err(|e| anyhow::anyhow!("{}: not a readable GGUF file: {e}", path.display()))?;
        let arch = content
            .metadata
            .get("general.architecture")
            .context("GGUF metadata lacks `general.architecture`")?
            .to_string()?
            .clone();
        let rope_style = match arch.as_str() {
            "llama" => RopeStyle::Interleaved,
            "qwen2" => RopeStyle::Half,
            other => bail!(
                "unsupported architecture `{other}` in {} (supported: llama, qwen2)",
                path.display()
            ),
        };
        let n_head = md_u32(&content, &format!("{arch}.attention.head_count"))? as usize;
        let d_model = md_u32(&content, &format!("{arch}.embedding_length"))? as usize;
        let cfg = LlamaConfig {
            n_layer: md_u32(&content, &format!("{arch}.block_count"))? as usize,
            n_head,
            n_kv_head: md_u32(&content, &format!("{arch}.attention.head_count_kv"))? as usize,
            d_model,
            // 0 heads leave 0 here, which `LlamaConfig::validate` refuses.
            head_dim: d_model.checked_div(n_head).unwrap_or(0),
            rope_base: md_f32(&content, &format!("{arch}.rope.freq_base")).unwrap_or(10_000.0),
            rms_eps: md_f32(
                &content,
                &format!("{arch}.attention.layer_norm_rms_epsilon"),
            )?,
            context_len: md_u32(&content, &format!("{arch}.context_length"))? as usize,
            rope_style,
        };
        cfg.validate()
            .with_context(|| format!("{}: unusable GGUF metadata ({arch}.*)", path.display()))?;
        let tokenizer = TextTokenizer::from_gguf(&content)?;
        preflight(&content, &cfg, &tokenizer, opts)?;
        let mut weights = GgufWeights {
            content: &content,
            reader,
            device: opts.device.clone(),
            mode: opts.matmul,
        };
        let model = Llama::load(cfg, &mut weights, &opts.device)?;
        Ok(Self::assemble(
            model,
            tokenizer,
            hash,
            path.file_stem(),
            opts.matmul,
            opts,
        ))
    }

    fn load_hf_dir(dir: &Path, opts: &EngineOptions) -> Result<Self> {
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path)
            .with_context(|| format!("reading {}", cfg_path.display()))?;
        let hf: HfConfig = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", cfg_path.display()))?;
        // The architecture first (the most useful refusal), then its shape.
        // Llama and Mistral tokenizers prepend BOS; Qwen2's do not.
        let default_bos = match hf.model_type.as_str() {
            "llama" | "mistral" => true,
            "qwen2" => false,
            other => bail!(
                "unsupported architecture `{other}` in {} (supported: llama, mistral, qwen2)",
                cfg_path.display()
            ),
        };
        let n_head = hf.num_attention_heads;
        let cfg = LlamaConfig {
            n_layer: hf.num_hidden_layers,
            n_head,
            n_kv_head: hf.num_key_value_heads.unwrap_or(n_head),
            d_model: hf.hidden_size,
            head_dim: hf
                .head_dim
                .unwrap_or(hf.hidden_size.checked_div(n_head).unwrap_or(0)),
            rope_base: hf.rope_theta.unwrap_or(10_000.0),
            rms_eps: hf.rms_norm_eps,
            context_len: hf.max_position_embeddings,
            rope_style: RopeStyle::Half,
        };
        // Before any weight is read: a shape no model has is refused up front.
        cfg.validate()
            .with_context(|| format!("{}: unusable model configuration", cfg_path.display()))?;
        let tok_cfg = match std::fs::read_to_string(dir.join("tokenizer_config.json")) {
            Ok(t) => serde_json::from_str::<serde_json::Value>(&t)?,
            Err(_) => serde_json::Value::Null,
        };
        let add_bos = tok_cfg
            .get("add_bos_token")
            .and_then(|v| v.as_bool())
            .unwrap_or(default_bos);
        let mut files: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("no .safetensors files in {}", dir.display());
        }
        // Identity: sha256 over the config and every weight file's sha256, in name order.
        let mut hasher = Sha256::new();
        hasher.update(text.as_bytes());
        let mut tensors = std::collections::HashMap::new();
        for f in &files {
            hasher.update(file_sha256(f)?.as_bytes());
            tensors.extend(
                candle_core::safetensors::load(f, &opts.device)
                    .with_context(|| format!("reading {}", f.display()))?,
            );
        }
        let hash = format!("sha256:{:x}", hasher.finalize());
        let tokenizer =
            TextTokenizer::from_file(&dir.join("tokenizer.json"), hf.bos_token_id, add_bos)?;
        // `eos_token` is a string or an added-token object `{"content": …}`.
        let eos = tok_cfg
            .get("eos_token")
            .and_then(|v| v.as_str().or_else(|| v.get("content")?.as_str()))
            .and_then(|t| tokenizer.inner().token_to_id(t));
        let chat_template = tok_cfg
            .get("chat_template")
            .and_then(|v| v.as_str())
            .map(String::from);
        let tokenizer = tokenizer.with_specials(eos, chat_template);
        let model = Llama::load(cfg, &mut HfWeights { tensors }, &opts.device)?;
        // Safetensors weights are always dense f32 matrices.
        Ok(Self::assemble(
            model,
            tokenizer,
            hash,
            dir.file_name(),
            MatmulMode::Dequantized,
            opts,
        ))
    }

    /// The engine around a loaded model: its identity (the results-store key) is
    /// the weights' hash, the tokenizer's hash, the numeric path (matmul mode as
    /// run, device), the boundary convention and a display name from the path.
    fn assemble(
        model: Llama,
        tokenizer: TextTokenizer,
        hash: String,
        name: Option<&std::ffi::OsStr>,
        matmul: MatmulMode,
        opts: &EngineOptions,
    ) -> Self {
        let identity = ModelIdentity {
            model: hash,
            tokenizer: tokenizer.hash().to_string(),
            name: name.map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned()),
            context_window: Some(model.config().context_len),
            numerics: format!(
                "matmul={},device={}",
                matmul.name(),
                device_name(&opts.device)
            ),
            boundary: opts.boundary,
        };
        Self {
            model,
            tokenizer,
            identity,
            prefix_cache: opts.prefix_cache.then(|| Mutex::new(None)),
        }
    }

    /// The model's tokenizer (for clients that must tokenise exactly as the model).
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// The decoder.
    pub fn model(&self) -> &Llama {
        &self.model
    }

    /// Largest sequence length the model accepts.
    pub fn context_window(&self) -> usize {
        self.model.config().context_len
    }

    /// Score `tokens[first..]`, each given all tokens before it, in one forward
    /// pass (with no cache). `first` must be ≥ 1.
    pub fn score_tokens(&self, tokens: &[u32], first: usize) -> Result<SequenceScores> {
        self.score_with_cache(tokens, first, &KvCache::empty())
            .map(|(s, _)| s)
    }

    /// Like [`Engine::score_tokens`] but starting from `cache`, which must hold the
    /// first `cache.len() < first` tokens. Returns the cache of all of `tokens`.
    fn score_with_cache(
        &self,
        tokens: &[u32],
        first: usize,
        cache: &KvCache,
    ) -> Result<(SequenceScores, KvCache)> {
        if first == 0 || first >= tokens.len() || cache.len() >= first {
            bail!(
                "bad scoring range: first={first}, cached={}, tokens={}",
                cache.len(),
                tokens.len()
            );
        }
        let start = cache.len();
        let (hidden, cache) = self.model.forward(&tokens[start..], cache)?;
        // Row r of `hidden` is position start+r; it predicts token start+r+1.
        let rows = hidden.narrow(0, first - 1 - start, tokens.len() - first)?;
        let pairs = self.model.next_token_logprobs(&rows, &tokens[first..])?;
        let (logprobs, greedy) = pairs.into_iter().unzip();
        Ok((SequenceScores { logprobs, greedy }, cache))
    }

    /// The request as token ids under the engine's boundary convention (the shared
    /// encoder, [`request::encode_request`]), checked against the context window.
    pub fn encode_request(&self, req: &ScoreRequest) -> Result<EncodedRequest, ScoreError> {
        let enc = request::encode_request(&self.tokenizer, req, self.identity.boundary)?;
        enc.check_window(self.context_window(), 0)?;
        Ok(enc)
    }

    /// Score `req` (item `id`) from scratch, without the prefix cache.
    pub fn dump(&self, id: &str, req: &ScoreRequest) -> Result<TokenDump> {
        let enc = self
            .encode_request(req)
            .map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
        let ids = enc.sequence();
        let first = enc.context.len();
        let t = std::time::Instant::now();
        let s = self.score_tokens(&ids, first)?;
        Ok(TokenDump {
            id: id.to_string(),
            context: req.context.clone(),
            continuation: req.continuation.clone(),
            ids,
            first,
            join_mismatch: enc.join_mismatch,
            logprobs: s.logprobs,
            seconds: t.elapsed().as_secs_f64(),
        })
    }

    fn score_one(&self, req: &ScoreRequest) -> Result<Scored, ScoreError> {
        let enc = self.encode_request(req)?;
        let first = enc.context.len();
        let tokens = enc.sequence();
        let cont = enc.continuation;
        let scores = match &self.prefix_cache {
            None => self.score_tokens(&tokens, first)?,
            Some(slot) => {
                let mut slot = slot
                    .lock()
                    .map_err(|_| anyhow::anyhow!("prefix cache poisoned"))?;
                let cache = match slot.as_ref() {
                    Some((prev, cache)) => {
                        let common = prev.iter().zip(&tokens).take_while(|(a, b)| a == b).count();
                        cache.truncated(common.min(first - 1).min(cache.len()))?
                    }
                    None => KvCache::empty(),
                };
                let (scores, full) = self.score_with_cache(&tokens, first, &cache)?;
                *slot = Some((tokens, full));
                scores
            }
        };
        let greedy_match = scores.greedy == cont;
        Ok(Scored {
            token_ids: cont,
            token_logprobs: scores.logprobs,
            bytes: req.continuation.len(),
            greedy_match,
            join_mismatch: enc.join_mismatch,
        })
    }
}

impl Backend for Engine {
    fn model_id(&self) -> ModelIdentity {
        self.identity.clone()
    }

    fn score(&self, requests: &[ScoreRequest]) -> Vec<Result<Scored, ScoreError>> {
        requests.iter().map(|r| self.score_one(r)).collect()
    }
}
