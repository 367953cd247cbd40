//! `densing serve`: the embedded engine behind an OpenAI-compatible
//! `/v1/completions` (+ `/v1/models`, `/health`) with vLLM's echo/logprobs
//! semantics.
//!
//! ```text
//! densing serve --model M.gguf --port 8000
//! densing eval --endpoint http://127.0.0.1:8000 --task humaneval --data HumanEval.jsonl.gz
//! ```
//! Binds 127.0.0.1 unless `--host` says otherwise. Prints `listening on
//! http://ADDR` on stderr once it accepts connections (with `--port 0` this names
//! the port the system picked).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use densing_eval::engine::{Engine, EngineOptions};
use densing_eval::MatmulMode;
use densing_http::{serve, ServeOptions};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Model file (GGUF, Llama-family).
    #[arg(long)]
    pub model: PathBuf,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Address to bind; the default accepts local connections only.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Model id clients request (default: the model file's stem).
    #[arg(long)]
    pub served_model_name: Option<String>,
    /// Require `Authorization: Bearer <key>` with the key read from this environment variable.
    #[arg(long)]
    pub api_key_env: Option<String>,
    /// Expected sha256 of the model file; refuse to start on a mismatch.
    #[arg(long)]
    pub sha256: Option<String>,
    /// Keep GGUF weights block-quantised instead of dequantising them to f32.
    #[arg(long)]
    pub quantized_matmul: bool,
    /// Connection-handling threads (model computations run one at a time).
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Largest request body accepted, in bytes; larger ones get HTTP 413.
    #[arg(long, default_value_t = densing_http::server::DEFAULT_MAX_BODY)]
    pub max_body_bytes: usize,
    /// Completion requests that may wait for the model; more get HTTP 503 with Retry-After.
    #[arg(long, default_value_t = densing_http::server::DEFAULT_QUEUE, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub queue: usize,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let api_key = match &args.api_key_env {
        Some(var) => {
            let key = std::env::var(var)
                .with_context(|| format!("--api-key-env {var}: variable not set"))?;
            if key.trim().is_empty() {
                anyhow::bail!("--api-key-env {var}: the variable is empty");
            }
            Some(key)
        }
        None => None,
    };
    let opts = EngineOptions {
        // Quantised when asked, else f32 when it fits in memory, else bf16.
        matmul: args.quantized_matmul.then_some(MatmulMode::Quantized),
        // Every request is computed from scratch; there is no previous one to share with.
        prefix_cache: false,
        expected_sha256: args.sha256.clone(),
        ..EngineOptions::default()
    };
    let t = Instant::now();
    let engine = Engine::load(&args.model, &opts)
        .with_context(|| format!("loading model {}", args.model.display()))?;
    eprintln!(
        "loaded {} in {:.1}s",
        args.model.display(),
        t.elapsed().as_secs_f64()
    );
    let model_name = args.served_model_name.clone().unwrap_or_else(|| {
        args.model
            .file_stem()
            .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
    });
    let host = if args.host.contains(':') {
        format!("[{}]", args.host)
    } else {
        args.host.clone()
    };
    let serve_opts = ServeOptions {
        addr: format!("{host}:{}", args.port),
        model_name: model_name.clone(),
        api_key,
        threads: args.threads,
        max_body: args.max_body_bytes,
        queue: args.queue,
    };
    serve(Arc::new(engine), serve_opts, |addr| {
        eprintln!(
            "serving model `{model_name}` (OpenAI-compatible /v1/completions, /v1/models, /health)"
        );
        eprintln!("listening on http://{addr}");
    })
}
