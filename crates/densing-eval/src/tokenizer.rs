//! Text → token ids with the model's own tokenizer, from `tokenizer.json` or rebuilt
//! from GGUF metadata, with explicit BOS handling.

use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::quantized::gguf_file;
use sha2::{Digest, Sha256};
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, Tokenizer};

use crate::request::Encode;

/// GGUF `tokenizer.ggml.token_type` value of control tokens (`<|endoftext|>`, …),
/// which must be matched whole in text rather than split by BPE.
const GGUF_TOKEN_TYPE_CONTROL: i32 = 3;

/// The model's tokenizer plus its BOS policy.
pub struct TextTokenizer {
    inner: Tokenizer,
    bos: Option<u32>,
    add_bos: bool,
    hash: String,
    /// End-of-sequence token, when the model file names one (not part of the
    /// identity: it changes no score).
    eos: Option<u32>,
    /// The model's chat template (Jinja), when its file carries one.
    chat_template: Option<String>,
}

impl TextTokenizer {
    /// Wrap a `tokenizers` tokenizer. `add_bos` prepends `bos` to every scored
    /// sequence (Llama/Mistral do, SmolLM2 and Qwen2 do not).
    pub fn new(inner: Tokenizer, bos: Option<u32>, add_bos: bool) -> Result<Self> {
        if add_bos && bos.is_none() {
            bail!("tokenizer asks for a BOS token but defines none");
        }
        let canonical = inner
            .to_string(false)
            .map_err(|e| anyhow::anyhow!("serialising tokenizer: {e}"))?;
        // The BOS policy changes every score, so it is part of the identity.
        let keyed = format!("{canonical}\nbos={bos:?}\nadd_bos={add_bos}");
        let hash = format!("sha256:{:x}", Sha256::digest(keyed.as_bytes()));
        Ok(Self {
            inner,
            bos,
            add_bos,
            hash,
            eos: None,
            chat_template: None,
        })
    }

    /// The same tokenizer with its end-of-sequence token and chat template named
    /// (what `/tokenizer_info` and an exported `tokenizer_config.json` report).
    pub fn with_specials(mut self, eos: Option<u32>, chat_template: Option<String>) -> Self {
        self.eos = eos;
        self.chat_template = chat_template;
        self
    }

    /// Load a Hugging Face `tokenizer.json`.
    pub fn from_file(path: &Path, bos: Option<u32>, add_bos: bool) -> Result<Self> {
        let inner = Tokenizer::from_file(path)
            .map_err(|e| anyhow::anyhow!("reading tokenizer {}: {e}", path.display()))?;
        Self::new(inner, bos, add_bos)
    }

    /// Rebuild the tokenizer stored in GGUF metadata (`tokenizer.ggml.*`).
    ///
    /// Supports `model = gpt2` (byte-level BPE). The pre-tokenizer follows
    /// `tokenizer.ggml.pre`: `smollm` splits digits individually, then applies the
    /// byte-level split without a prefix space; other gpt2-style values use the
    /// byte-level split alone.
    pub fn from_gguf(content: &gguf_file::Content) -> Result<Self> {
        let md = &content.metadata;
        let get = |key: &str| {
            md.get(key)
                .with_context(|| format!("GGUF metadata lacks `{key}`"))
        };
        let model = get("tokenizer.ggml.model")?.to_string()?;
        if model != "gpt2" {
            bail!("unsupported GGUF tokenizer model `{model}` (supported: gpt2 byte-level BPE)");
        }
        let pre = match md.get("tokenizer.ggml.pre") {
            Some(v) => v.to_string()?.clone(),
            None => "default".to_string(),
        };
        let tokens: Vec<String> = get("tokenizer.ggml.tokens")?
            .to_vec()?
            .iter()
            .map(|v| v.to_string().cloned())
            .collect::<candle_core::Result<_>>()?;
        let merges: Vec<(String, String)> = get("tokenizer.ggml.merges")?
            .to_vec()?
            .iter()
            .map(|v| {
                let m = v.to_string()?;
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| candle_core::Error::Msg(format!("malformed merge `{m}`")))
            })
            .collect::<candle_core::Result<_>>()?;
        let types: Vec<i32> = match md.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()?
                .iter()
                .map(|t| t.to_i32())
                .collect::<candle_core::Result<_>>()?,
            None => Vec::new(),
        };
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| anyhow::anyhow!("building BPE from GGUF: {e}"))?;
        let mut inner = Tokenizer::new(bpe);
        let byte_level = ByteLevel::new(false, true, true);
        match pre.as_str() {
            "smollm" => {
                inner.with_pre_tokenizer(Some(Sequence::new(vec![
                    Digits::new(true).into(),
                    byte_level.into(),
                ])));
            }
            "default" | "gpt2" | "gpt-2" => {
                inner.with_pre_tokenizer(Some(byte_level));
            }
            other => bail!("unsupported GGUF pre-tokenizer `{other}` (supported: smollm, gpt2)"),
        }
        inner.with_decoder(Some(ByteLevel::default()));
        let specials: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|(_, &t)| t == GGUF_TOKEN_TYPE_CONTROL)
            .map(|(tok, _)| AddedToken::from(tok.clone(), true))
            .collect();
        inner
            .add_special_tokens(specials)
            .map_err(|e| anyhow::anyhow!("adding special tokens: {e}"))?;
        let bos = md
            .get("tokenizer.ggml.bos_token_id")
            .map(|v| v.to_u32())
            .transpose()?;
        // llama.cpp's default for gpt2-style vocabularies is no BOS unless asked.
        let add_bos = md
            .get("tokenizer.ggml.add_bos_token")
            .map(|v| v.to_bool())
            .transpose()?
            .unwrap_or(false);
        let eos = md
            .get("tokenizer.ggml.eos_token_id")
            .map(|v| v.to_u32())
            .transpose()?;
        let chat_template = md
            .get("tokenizer.chat_template")
            .map(|v| v.to_string().cloned())
            .transpose()?;
        Ok(Self::new(inner, bos, add_bos)?.with_specials(eos, chat_template))
    }

    /// Token ids of `text`, without BOS or any other special-token decoration.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| anyhow::anyhow!("tokenizing: {e}"))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids` (special tokens kept).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| anyhow::anyhow!("detokenizing: {e}"))
    }

    /// The BOS id, when the vocabulary has one.
    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    /// The end-of-sequence id, when the model names one.
    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// The chat template, when the model file carries one.
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// Whether scored sequences start with BOS.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// `sha256:<hex>` of the tokenizer's JSON serialisation and its BOS policy.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

impl Encode for TextTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        TextTokenizer::encode(self, text)
    }

    fn bos_prefix(&self) -> Vec<u32> {
        self.bos.filter(|_| self.add_bos).into_iter().collect()
    }
}
