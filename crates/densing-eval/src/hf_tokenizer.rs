//! The model's tokenizer in Hugging Face's form: the `tokenizer_config` object that
//! vLLM's `GET /tokenizer_info` answers with, and a tokenizer directory
//! (`tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`) for clients
//! that load one by path (transformers' `AutoTokenizer`, lm-evaluation-harness with
//! `tokenizer_backend=huggingface`). Either way a client tokenises exactly as
//! densing does: the vocabulary, merges, pre-tokenizer and special tokens are
//! [`TextTokenizer`]'s own serialisation.
//!
//! BOS: densing prepends it per the model ([`TextTokenizer::add_bos`]); a Hugging
//! Face fast tokenizer does so only through its post-processor, so when the model
//! wants BOS the exported `tokenizer.json` gets the post-processor `BOS $A` and the
//! config says `add_bos_token: true`; otherwise neither adds anything.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use candle_core::quantized::gguf_file;
use serde_json::{json, Value};
use tokenizers::processors::template::TemplateProcessing;

use crate::tokenizer::TextTokenizer;

/// `tokenizer_config.json` of the model's tokenizer: its class, special tokens
/// (as text; `null` where the model has none), BOS policy, and the context length
/// and chat template when known.
pub fn tokenizer_config(tok: &TextTokenizer, model_max_length: Option<usize>) -> Value {
    let text = |id: Option<u32>| id.and_then(|i| tok.inner().id_to_token(i));
    let mut cfg = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": text(tok.bos()),
        "eos_token": text(tok.eos()),
        "pad_token": null,
        "unk_token": null,
        "add_bos_token": tok.add_bos(),
        "add_eos_token": false,
        "clean_up_tokenization_spaces": false,
    });
    if let Some(n) = model_max_length {
        cfg["model_max_length"] = json!(n);
    }
    if let Some(t) = tok.chat_template() {
        cfg["chat_template"] = json!(t);
    }
    cfg
}

/// `tokenizer.json`: the tokenizer's own serialisation, plus a `BOS $A`
/// post-processor when the model prepends BOS.
pub fn tokenizer_json(tok: &TextTokenizer) -> Result<String> {
    let mut inner = tok.inner().clone();
    if let (true, Some(bos)) = (tok.add_bos(), tok.bos()) {
        let name = tok
            .inner()
            .id_to_token(bos)
            .ok_or_else(|| anyhow!("BOS id {bos} is not in the vocabulary"))?;
        let template = TemplateProcessing::builder()
            .try_single(format!("{name} $A:0"))
            .and_then(|b| b.try_pair(format!("{name} $A:0 {name}:1 $B:1")))
            .map_err(|e| anyhow!("BOS template: {e}"))?
            .special_tokens(vec![(name, bos)])
            .build()
            .map_err(|e| anyhow!("BOS template: {e}"))?;
        inner.with_post_processor(Some(template));
    }
    inner
        .to_string(true)
        .map_err(|e| anyhow!("serialising tokenizer: {e}"))
}

/// The tokenizer stored in a GGUF file's metadata and the model's context length
/// (`<architecture>.context_length`, when present), without reading any weight.
pub fn read_gguf(path: &Path) -> Result<(TextTokenizer, Option<usize>)> {
    let mut reader = std::io::BufReader::new(
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?,
    );
    let content = gguf_file::Content::read(&mut reader)
        .map_err(|e| anyhow!("{}: not a readable GGUF file: {e}", path.display()))?;
    let tok = TextTokenizer::from_gguf(&content)
        .with_context(|| format!("tokenizer of {}", path.display()))?;
    let md = &content.metadata;
    let window = md
        .get("general.architecture")
        .and_then(|a| a.to_string().ok())
        .and_then(|arch| md.get(&format!("{arch}.context_length")))
        .and_then(|v| v.to_u64().or_else(|_| v.to_u32().map(u64::from)).ok())
        .map(|n| n as usize);
    Ok((tok, window))
}

/// Writes the tokenizer directory into `dir` (created if needed), each file through
/// a temporary name and a rename, and returns the paths written.
pub fn export(
    tok: &TextTokenizer,
    dir: &Path,
    model_max_length: Option<usize>,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cfg = tokenizer_config(tok, model_max_length);
    let specials: serde_json::Map<String, Value> = ["bos_token", "eos_token"]
        .iter()
        .filter(|k| !cfg[**k].is_null())
        .map(|k| (k.to_string(), cfg[*k].clone()))
        .collect();
    let files = [
        ("tokenizer.json", tokenizer_json(tok)?),
        ("tokenizer_config.json", serde_json::to_string_pretty(&cfg)?),
        (
            "special_tokens_map.json",
            serde_json::to_string_pretty(&specials)?,
        ),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;
    use tokenizers::Tokenizer;

    fn toy(add_bos: bool) -> TextTokenizer {
        let vocab = [("<s>", 0), ("</s>", 1), ("a", 2), ("b", 3), ("[UNK]", 4)]
            .into_iter()
            .map(|(t, i)| (t.to_string(), i))
            .collect();
        let model = WordLevel::builder()
            .vocab(vocab)
            .unk_token("[UNK]".into())
            .build()
            .unwrap();
        let mut inner = Tokenizer::new(model);
        inner.with_pre_tokenizer(Some(Whitespace {}));
        TextTokenizer::new(inner, Some(0), add_bos)
            .unwrap()
            .with_specials(Some(1), Some("{{ messages }}".into()))
    }

    #[test]
    fn config_names_the_special_tokens_and_the_bos_policy() {
        let cfg = tokenizer_config(&toy(true), Some(2048));
        assert_eq!(cfg["bos_token"], "<s>");
        assert_eq!(cfg["eos_token"], "</s>");
        assert_eq!(cfg["add_bos_token"], true);
        assert_eq!(cfg["model_max_length"], 2048);
        assert_eq!(cfg["chat_template"], "{{ messages }}");
        let plain = tokenizer_config(&toy(false), None);
        assert_eq!(plain["add_bos_token"], false);
        assert!(plain.get("model_max_length").is_none());
    }

    #[test]
    fn exported_tokenizer_adds_bos_exactly_when_the_model_does() {
        for add_bos in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let files = export(&toy(add_bos), dir.path(), Some(16)).unwrap();
            assert_eq!(files.len(), 3);
            let back = Tokenizer::from_file(dir.path().join("tokenizer.json")).unwrap();
            let ids = back.encode("a b a", true).unwrap().get_ids().to_vec();
            let expected = if add_bos {
                vec![0, 2, 3, 2]
            } else {
                vec![2, 3, 2]
            };
            assert_eq!(ids, expected, "add_bos = {add_bos}");
            let map: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.path().join("special_tokens_map.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(map["eos_token"], "</s>");
            assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")));
        }
    }
}
