//! The embedded engine: a model file loaded with candle, scoring continuations
//! locally, with prefix KV-cache reuse between consecutive requests.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file;
pub use candle_core::Device;
use sha2::{Digest, Sha256};

use crate::backend::{Boundary, ModelIdentity, ScoreError, ScoreRequest};
use crate::memory;
use crate::model::{KvCache, Llama, LlamaConfig, MatmulMode, RopeStyle};
use crate::request::{self, EncodedRequest};
use crate::tokenizer::TextTokenizer;
pub use crate::weights::hf_tensor_name;
use crate::weights::{GgufWeights, HfWeights};

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
    /// How the weight matrices are held; `None` lets the memory preflight choose
    /// (f32 when it fits, else bf16).
    pub matmul: Option<MatmulMode>,
    /// Sequences packed into one forward pass; `None` lets the memory preflight
    /// choose (the most that fit, up to [`memory::MAX_AUTO_BATCH`]).
    pub batch: Option<usize>,
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
            matmul: None,
            batch: None,
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
    /// Seconds of the forward pass (no cache); in a packed pass, its share by tokens.
    pub seconds: f64,
}

/// The token sequence last scored and its KV cache, reused for the longest common
/// prefix with the next request.
pub(crate) type PrefixSlot = Mutex<Option<(Vec<u32>, KvCache)>>;

/// A loaded model plus tokenizer: the embedded scoring engine.
pub struct Engine {
    pub(crate) model: Llama,
    tokenizer: TextTokenizer,
    pub(crate) identity: ModelIdentity,
    pub(crate) prefix_cache: Option<PrefixSlot>,
    mode: MatmulMode,
    pub(crate) batch: usize,
    estimate: Option<memory::MemoryEstimate>,
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
pub struct HfConfig {
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

/// A Hugging Face `config.json` as [`Engine::load`] reads it, before any weight:
/// the architecture (`model_type` llama, mistral or qwen2), then the decoder shape,
/// refused by [`LlamaConfig::validate`] when no real model has it. `path` only
/// names the file in errors.
pub fn parse_hf_config(text: &str, path: &Path) -> Result<(LlamaConfig, HfConfig)> {
    let hf: HfConfig =
        serde_json::from_str(text).with_context(|| format!("parsing {}", path.display()))?;
    // The architecture first (the most useful refusal), then its shape.
    if !matches!(hf.model_type.as_str(), "llama" | "mistral" | "qwen2") {
        bail!(
            "unsupported architecture `{}` in {} (supported: llama, mistral, qwen2)",
            hf.model_type,
            path.display()
        );
    }
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
    cfg.validate()
        .with_context(|| format!("{}: unusable model configuration", path.display()))?;
    Ok((cfg, hf))
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

/// Choose the matmul mode and sequences per pass from the estimated memory (see
/// [`crate::memory`]) and what is available on the CPU, and stop before loading
/// when nothing fits. `DENSING_AVAILABLE_MEMORY` (bytes, or `NGiB`) overrides the
/// available amount, e.g. to check whether a run fits a smaller machine. Where the
/// amount is unknown (a GPU), the options' choices stand, else f32 and one
/// sequence per pass.
fn preflight(
    content: &gguf_file::Content,
    cfg: &LlamaConfig,
    tokenizer: &TextTokenizer,
    opts: &EngineOptions,
) -> Result<memory::Plan> {
    let available = match std::env::var("DENSING_AVAILABLE_MEMORY") {
        Ok(v) => Some(parse_bytes(&v).with_context(|| {
            format!("DENSING_AVAILABLE_MEMORY={v}: expected bytes or a size like 24GiB")
        })?),
        Err(_) if opts.device.is_cpu() => memory::available_bytes(),
        Err(_) => None,
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
    let estimate = |mode: MatmulMode, batch: usize| {
        let (weights, loading) = memory::gguf_weight_bytes(content, mode);
        let (kv_cache, working) = memory::sequence_bytes(&shape, tokens, batch);
        memory::MemoryEstimate {
            weights,
            loading,
            kv_cache,
            working,
        }
    };
    match available {
        Some(available) => memory::plan(opts.matmul, opts.batch, available, tokens, estimate),
        None => {
            let (mode, batch) = (
                opts.matmul.unwrap_or(MatmulMode::Dequantized),
                opts.batch.unwrap_or(1),
            );
            Ok(memory::Plan {
                mode,
                batch,
                estimate: estimate(mode, batch),
            })
        }
    }
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

/// The environment variable candle reads, once, for how many rounds its pool of
/// element-wise workers spins after an op before parking.
const POOL_SPIN_VAR: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";

/// The environment variable candle's matmuls (and rayon) read for their threads.
const THREADS_VAR: &str = "RAYON_NUM_THREADS";

/// candle's element-wise pool spins 25,000 rounds (~0.5 ms) after every op before
/// it parks, and while it spins it holds a core that the next GEMM's rayon workers
/// need: on two cores that cost ~9% of the scoring time (BENCHMARKS.md, issue 20;
/// 20, 200 and 2,000 rounds measured alike). 200 rounds still hands consecutive
/// element-wise ops over without parking. Set before the pool is first used; a
/// value the user set wins.
///
/// And candle asks for its thread count on every matmul, which (unless
/// `RAYON_NUM_THREADS` is set) counts the physical cores by reading
/// `/proc/cpuinfo` again: 452 reads in one pass of 4 HumanEval items; setting the
/// count once scored 6.7% more tokens/s. The count is read once here and given to it (and to rayon's
/// pool, when not yet built) as `RAYON_NUM_THREADS`; a value the user set wins.
fn tune_candle_threads() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os(POOL_SPIN_VAR).is_none() {
            std::env::set_var(POOL_SPIN_VAR, "200");
        }
        if std::env::var_os(THREADS_VAR).is_none() {
            let n = candle_core::utils::get_num_threads();
            std::env::set_var(THREADS_VAR, n.to_string());
        }
    });
}

impl Engine {
    /// Load a model: a `.gguf` file (architectures `llama`, `qwen2`), or a Hugging
    /// Face directory with `config.json` (`model_type` llama, mistral or qwen2),
    /// `tokenizer.json` and `model.safetensors` or `model-*.safetensors` shards.
    pub fn load(path: &Path, opts: &EngineOptions) -> Result<Self> {
        tune_candle_threads();
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
        let plan = preflight(&content, &cfg, &tokenizer, opts)?;
        let mut weights = GgufWeights {
            content: &content,
            reader,
            device: opts.device.clone(),
            mode: plan.mode,
        };
        let model = Llama::load(cfg, &mut weights, &opts.device)?;
        Ok(Self::assemble(
            model,
            tokenizer,
            hash,
            path.file_stem(),
            (plan.mode, plan.batch, Some(plan.estimate)),
            opts,
        ))
    }

    fn load_hf_dir(dir: &Path, opts: &EngineOptions) -> Result<Self> {
        let cfg_path = dir.join("config.json");
        let text = std::fs::read_to_string(&cfg_path)
            .with_context(|| format!("reading {}", cfg_path.display()))?;
        let (cfg, hf) = parse_hf_config(&text, &cfg_path)?;
        // Llama and Mistral tokenizers prepend BOS; Qwen2's do not.
        let default_bos = hf.model_type != "qwen2";
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
        // Safetensors weights are dense: bf16 when asked, else f32 (not estimated:
        // the preflight reads GGUF tensor tables).
        let mode = match opts.matmul {
            Some(MatmulMode::Bf16) => MatmulMode::Bf16,
            _ => MatmulMode::Dequantized,
        };
        let model = Llama::load(cfg, &mut HfWeights { tensors, mode }, &opts.device)?;
        Ok(Self::assemble(
            model,
            tokenizer,
            hash,
            dir.file_name(),
            (mode, opts.batch.unwrap_or(1), None),
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
        (mode, batch, estimate): (MatmulMode, usize, Option<memory::MemoryEstimate>),
        opts: &EngineOptions,
    ) -> Self {
        let identity = ModelIdentity {
            model: hash,
            tokenizer: tokenizer.hash().to_string(),
            name: name.map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned()),
            context_window: Some(model.config().context_len),
            numerics: format!(
                "matmul={},device={}",
                mode.name(),
                device_name(&opts.device)
            ),
            boundary: opts.boundary,
        };
        Self {
            model,
            tokenizer,
            identity,
            prefix_cache: opts.prefix_cache.then(|| Mutex::new(None)),
            mode,
            batch: batch.max(1),
            estimate,
        }
    }

    /// The matmul mode the weights are held in (chosen by the preflight unless given).
    pub fn matmul_mode(&self) -> MatmulMode {
        self.mode
    }

    /// The memory preflight's estimate for the mode and batch in use (GGUF files).
    pub fn memory_estimate(&self) -> Option<memory::MemoryEstimate> {
        self.estimate
    }

    /// Most sequences packed into one forward pass.
    pub fn batch(&self) -> usize {
        self.batch
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

    /// The request as token ids under the engine's boundary convention (the shared
    /// encoder, [`request::encode_request`]), checked against the context window.
    pub fn encode_request(&self, req: &ScoreRequest) -> Result<EncodedRequest, ScoreError> {
        let enc = request::encode_request(&self.tokenizer, req, self.identity.boundary)?;
        enc.check_window(self.context_window(), 0)?;
        Ok(enc)
    }

    /// Score `req` (item `id`) from scratch, without the prefix cache.
    pub fn dump(&self, id: &str, req: &ScoreRequest) -> Result<TokenDump> {
        Ok(self.dump_many(&[(id, req)])?.remove(0))
    }

    /// Score requests (with their item ids) from scratch, without the prefix
    /// cache, in packed passes of at most [`Engine::batch`] sequences. The time of a
    /// pass is shared among its requests in proportion to their tokens.
    pub fn dump_many(&self, reqs: &[(&str, &ScoreRequest)]) -> Result<Vec<TokenDump>> {
        let mut out = Vec::with_capacity(reqs.len());
        for group in reqs.chunks(self.batch) {
            let mut encs = Vec::with_capacity(group.len());
            for (id, req) in group {
                let enc = self
                    .encode_request(req)
                    .map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
                encs.push((enc.sequence(), enc.context.len(), enc.join_mismatch));
            }
            let seqs: Vec<(&[u32], usize)> = encs
                .iter()
                .map(|(ids, f, _)| (ids.as_slice(), *f))
                .collect();
            let t = std::time::Instant::now();
            let scores = self.score_many(&seqs)?;
            let seconds = t.elapsed().as_secs_f64();
            let tokens: usize = encs.iter().map(|(ids, _, _)| ids.len()).sum();
            for (((id, req), (ids, first, join_mismatch)), s) in group.iter().zip(encs).zip(scores)
            {
                out.push(TokenDump {
                    id: id.to_string(),
                    context: req.context.clone(),
                    continuation: req.continuation.clone(),
                    seconds: seconds * ids.len() as f64 / tokens as f64,
                    ids,
                    first,
                    join_mismatch,
                    logprobs: s.logprobs,
                });
            }
        }
        Ok(out)
    }
}
