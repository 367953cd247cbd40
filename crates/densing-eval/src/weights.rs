//! Weight sources: GGUF files and Hugging Face safetensors checkpoints, served
//! under GGUF tensor names as the matrices of a [`MatmulMode`].

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;

use anyhow::{Context, Result};
use candle_core::quantized::{gguf_file, QMatMul};
use candle_core::{DType, Device, Tensor};

use crate::linear::{Linear, MatmulMode};
use crate::model::WeightSource;

/// The tensors of an open GGUF file.
pub struct GgufWeights<'a> {
    pub content: &'a gguf_file::Content,
    pub reader: BufReader<File>,
    pub device: Device,
    pub mode: MatmulMode,
}

impl WeightSource for GgufWeights<'_> {
    fn matrix(&mut self, name: &str) -> Result<Linear> {
        let q = self
            .content
            .tensor(&mut self.reader, name, &self.device)
            .with_context(|| format!("tensor `{name}`"))?;
        Ok(match self.mode {
            MatmulMode::Dequantized => Linear::Candle(QMatMul::Tensor(q.dequantize(&self.device)?)),
            MatmulMode::Bf16 => {
                let f = q.dequantize(&self.device)?;
                // The file's blocks go before the bf16 copy is made (the preflight's
                // loading transient counts raw + f32, not raw + f32 + bf16).
                drop(q);
                Linear::Bf16(f.to_dtype(DType::BF16)?)
            }
            MatmulMode::Quantized => Linear::Candle(QMatMul::from_qtensor(q)?),
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

/// Safetensors tensors by Hugging Face name, served under GGUF names: matrices
/// in bf16 in the bf16 mode, else f32 (quantised kernels need GGUF blocks).
pub struct HfWeights {
    pub tensors: HashMap<String, Tensor>,
    pub mode: MatmulMode,
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
    fn get(&self, name: &str, dtype: DType) -> Result<Tensor> {
        let hf = hf_tensor_name(name);
        let t = self
            .tensors
            .get(&hf)
            .with_context(|| format!("safetensors lack tensor `{hf}`"))?;
        Ok(t.to_dtype(dtype)?)
    }
}

impl WeightSource for HfWeights {
    fn matrix(&mut self, name: &str) -> Result<Linear> {
        Ok(match self.mode {
            MatmulMode::Bf16 => Linear::Bf16(self.get(name, DType::BF16)?),
            _ => Linear::Candle(QMatMul::Tensor(self.get(name, DType::F32)?)),
        })
    }

    fn vector(&mut self, name: &str) -> Result<Tensor> {
        self.get(name, DType::F32)
    }

    fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(&hf_tensor_name(name))
    }
}
