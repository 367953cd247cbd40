//! `densing tokenizer export DIR --model FILE.gguf`: the tokenizer a GGUF file
//! carries, written as a Hugging Face tokenizer directory (`tokenizer.json`,
//! `tokenizer_config.json`, `special_tokens_map.json`) for clients that load a
//! tokenizer by path, e.g. lm-evaluation-harness with `tokenizer_backend=huggingface`.
//! No weight is read. What it writes tokenises exactly as `densing eval` and
//! `densing serve` do (see `densing_eval::hf_tokenizer`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use densing_eval::hf_tokenizer;

#[derive(Debug, Args)]
pub struct TokenizerArgs {
    #[command(subcommand)]
    pub action: TokenizerAction,
}

#[derive(Debug, Subcommand)]
pub enum TokenizerAction {
    /// Write the model's tokenizer as a Hugging Face tokenizer directory.
    Export {
        /// Directory to write (created if missing; the three files are replaced).
        dir: PathBuf,
        /// Model file (GGUF) whose tokenizer to export.
        #[arg(long)]
        model: PathBuf,
    },
}

pub fn run(args: TokenizerArgs) -> Result<()> {
    match args.action {
        TokenizerAction::Export { dir, model } => {
            let (tok, window) = hf_tokenizer::read_gguf(&model)
                .with_context(|| format!("reading the tokenizer of {}", model.display()))?;
            let files = hf_tokenizer::export(&tok, &dir, window)
                .with_context(|| format!("exporting the tokenizer to {}", dir.display()))?;
            for f in files {
                println!("{}", f.display());
            }
            Ok(())
        }
    }
}
