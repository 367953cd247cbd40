//! The embedded engine on the real SmolLM2-135M GGUF (fetched by
//! `scripts/fetch-assets.sh`): tokenizer, all-position scoring, KV-cache reuse,
//! continuation joins, task formats and the store, end to end.

use std::path::PathBuf;
use std::sync::OnceLock;

use densing_eval::engine::{Engine, EngineOptions};
use densing_eval::runner::{run_task, RunOptions, Silent};
use densing_eval::tasks::{self, TaskKind};
use densing_eval::MatmulMode;
use densing_eval::{encode_request, Backend, Boundary, ScoreRequest};

#[path = "../../../tests/support/assets.rs"]
mod support;
use support::assets;

fn model_path() -> PathBuf {
    assets().join("SmolLM2-135M-Instruct.Q4_1.gguf")
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::load(&model_path(), &EngineOptions::default()).expect("load SmolLM2")
    })
}

fn bbh_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/bbh")
}

#[test]
fn tokenizer_from_gguf_matches_smollm_pretokenizer() {
    let tok = engine().tokenizer();
    let inner = tok.inner();
    // No prefix space: "The" at the start is the bare token, not "ĠThe".
    let the = inner.token_to_id("The").unwrap();
    assert_eq!(tok.encode("The").unwrap(), vec![the]);
    assert_ne!(Some(the), inner.token_to_id("ĠThe"));
    // Digits are split one by one.
    let ids = tok.encode("2024").unwrap();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert_eq!(ids[0], inner.token_to_id("2").unwrap());
    // Spaces attach to the following word (byte-level "Ġ").
    assert_eq!(
        tok.encode(" hello").unwrap(),
        vec![inner.token_to_id("Ġhello").unwrap()]
    );
    // Special tokens are matched whole; text round-trips.
    assert_eq!(tok.encode("<|im_start|>").unwrap().len(), 1);
    let text = "def f(x):\n    return x ** 2  # ünïcode\n";
    assert_eq!(tok.decode(&tok.encode(text).unwrap()).unwrap(), text);
    assert!(!tok.add_bos(), "SmolLM2's GGUF says add_bos_token=false");
    assert_eq!(tok.bos(), Some(1));
}

#[test]
fn identity_keys_model_file_and_tokenizer() {
    let id = engine().model_id();
    assert_eq!(
        id.model,
        "sha256:b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    );
    assert!(id.tokenizer.starts_with("sha256:") && id.tokenizer.len() == 71);
    assert_eq!(id.context_window, Some(8192));
    assert!(id
        .slug()
        .starts_with("SmolLM2-135M-Instruct.Q4_1-b179c9523d0e"));
}

#[test]
fn cached_prefix_scoring_equals_full_recompute() {
    let e = engine();
    let tok = e.tokenizer();
    let ctx = "The capital of France is Paris. The capital of Germany is";
    let ids = tok
        .encode(&format!("{ctx} Berlin. The capital of Italy is Rome."))
        .unwrap();
    let first = tok.encode(ctx).unwrap().len();
    let full = e.score_tokens(&ids, first).unwrap();
    assert_eq!(full.logprobs.len(), ids.len() - first);
    assert!(full.logprobs.iter().all(|&l| l <= 0.0 && l.is_finite()));
    // Step one token at a time through the KV cache: same numbers.
    let mut cache = densing_eval::model::KvCache::empty();
    let mut stepped = Vec::new();
    for (p, &t) in ids.iter().enumerate() {
        let (h, c) = e.model().forward(&[t], &cache).unwrap();
        cache = c;
        if p + 1 >= first && p + 1 < ids.len() {
            stepped.push(e.model().next_token_logprobs(&h, &[ids[p + 1]]).unwrap()[0].0);
        }
    }
    for (a, b) in full.logprobs.iter().zip(&stepped) {
        assert!((a - b).abs() < 1e-3, "full {a} vs stepped {b}");
    }
    // A factual continuation is far likelier than a wrong one.
    let right = e.score(&[ScoreRequest {
        context: ctx.into(),
        continuation: " Berlin".into(),
    }]);
    let wrong = e.score(&[ScoreRequest {
        context: ctx.into(),
        continuation: " banana".into(),
    }]);
    let (right, wrong) = (right[0].as_ref().unwrap(), wrong[0].as_ref().unwrap());
    assert!(
        right.logprob_sum() > wrong.logprob_sum() + 3.0,
        "{} vs {}",
        right.logprob_sum(),
        wrong.logprob_sum()
    );
    assert!(right.greedy_match, "the model should predict ' Berlin'");
}

#[test]
fn prefix_cache_gives_same_scores_as_no_cache() {
    let cached = engine();
    let plain = Engine::load(
        &model_path(),
        &EngineOptions {
            prefix_cache: false,
            ..Default::default()
        },
    )
    .unwrap();
    let set = &tasks::load(
        &TaskKind::Bbh(Some("date_understanding".into())),
        &bbh_dir(),
        3,
        Some(2),
    )
    .unwrap()[0];
    let reqs: Vec<ScoreRequest> = set.items.iter().map(|i| i.requests[0].clone()).collect();
    let a = cached.score(&reqs);
    let b = plain.score(&reqs);
    for (x, y) in a.iter().zip(&b) {
        let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
        assert_eq!(x.token_ids, y.token_ids);
        // Same numbers up to f32 summation order: at most 1e-3 nat per token.
        let (a, b) = (x.logprob_sum(), y.logprob_sum());
        assert!(
            (a - b).abs() < 1e-3 * x.tokens() as f64,
            "cached {a} vs recomputed {b}"
        );
    }
}

fn humaneval0() -> ScoreRequest {
    let data = assets().join("HumanEval.jsonl.gz");
    let set = &tasks::load(&TaskKind::HumanEval, &data, 0, Some(1)).unwrap()[0];
    set.items[0].requests[0].clone()
}

fn req(context: &str, continuation: &str) -> ScoreRequest {
    ScoreRequest {
        context: context.into(),
        continuation: continuation.into(),
    }
}

#[test]
fn each_boundary_convention_on_joins_with_and_without_a_spanning_token() {
    let tok = engine().tokenizer();
    let enc = |r: &ScoreRequest, b| encode_request(tok, r, b).unwrap();
    // A clean join: both conventions give the joint encoding, unflagged.
    let clean = req("Q: 2+2?\nA:", " 4");
    for b in [Boundary::Harness, Boundary::Separate] {
        let e = enc(&clean, b);
        assert!(!e.join_mismatch, "{b}");
        assert_eq!(e.sequence(), tok.encode("Q: 2+2?\nA: 4").unwrap(), "{b}");
    }
    // HumanEval/0: the prompt's final "\n" and the solution's indentation form one
    // whitespace token in the joint text. Harness moves the "\n" into the
    // continuation, so the split is clean and the joint tokens are scored.
    let he = humaneval0();
    let h = enc(&he, Boundary::Harness);
    assert!(!h.join_mismatch);
    assert_eq!(
        h.sequence(),
        tok.encode(&format!("{}{}", he.context, he.continuation))
            .unwrap()
    );
    assert_eq!(h.context, tok.encode(he.context.trim_end()).unwrap());
    assert!(tok.decode(&h.continuation[..1]).unwrap().starts_with("\n"));
    // The old rule: the context keeps its "\n", which the joint encoding does not
    // have as a token of its own, so the continuation is encoded on its own.
    let s = enc(&he, Boundary::Separate);
    assert!(s.join_mismatch);
    assert_eq!(s.context, tok.encode(&he.context).unwrap());
    assert_eq!(s.continuation, tok.encode(&he.continuation).unwrap());
    // A token spanning a join inside a word: "hel" + "lo world".
    let hello = tok.inner().token_to_id("Ġhello").unwrap();
    let span = req("Say hel", "lo world");
    let h = enc(&span, Boundary::Harness);
    let joint = tok.encode("Say hello world").unwrap();
    assert_eq!(joint[1], hello);
    // lm-evaluation-harness: continuation = joint[len(encode(context))..], scored
    // after the context's own tokens, flagged.
    assert!(h.join_mismatch);
    assert_eq!(h.context, tok.encode("Say hel").unwrap());
    assert_eq!(h.continuation, joint[h.context.len()..].to_vec());
    let s = enc(&span, Boundary::Separate);
    assert!(s.join_mismatch);
    assert_eq!(s.continuation, tok.encode("lo world").unwrap());
    // Too long for the window: an item error, not a crash.
    let long = "word ".repeat(9000);
    let r = engine().score(&[req(&long, " end")]);
    let err = r[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("context window of 8192"), "{err}");
}

#[test]
fn old_convention_records_and_other_numeric_paths_are_never_reused() {
    let data = assets().join("HumanEval.jsonl.gz");
    let set = &tasks::load(&TaskKind::HumanEval, &data, 0, Some(2)).unwrap()[0];
    let out = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: out.path().to_path_buf(),
        skip_bad: false,
        batch: 1,
    };
    let id = engine().model_id();
    // A store as densing wrote it before issue 10: same model and tokenizer, the
    // old template version, no numerics, `join_fallback`.
    let path = densing_eval::store::store_path(out.path(), &id, &set.name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let old: String = set
        .items
        .iter()
        .map(|i| {
            serde_json::json!({
                "model": id.model, "tokenizer": id.tokenizer, "task": set.name,
                "template": "humaneval/v1", "item_id": i.id, "tokens": 10, "bytes": 40,
                "loss_sum": 12.5, "greedy_match": false, "join_fallback": true,
            })
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&path, &old).unwrap();
    let run = run_task(engine(), set, &opts, &mut Silent).unwrap();
    assert_eq!(run.scored_now, 2, "old-convention records were reused");
    assert_eq!(run.summary.boundary, Boundary::Harness);
    assert_eq!(run.summary.template, "humaneval/v1;boundary=harness");
    assert_eq!(run.summary.numerics, "matmul=f32,device=cpu");
    assert!(run.summary.join_mismatch_items.is_empty());
    let lines = std::fs::read_to_string(&path).unwrap();
    assert!(lines.starts_with(&old), "old records must be kept");
    assert_eq!(lines.lines().count(), 4);
    // Resuming the same key reuses everything; another matmul mode or the other
    // convention reuses nothing.
    assert_eq!(
        run_task(engine(), set, &opts, &mut Silent)
            .unwrap()
            .scored_now,
        0
    );
    struct Keyed<'a>(&'a Engine, densing_eval::ModelIdentity);
    impl Backend for Keyed<'_> {
        fn model_id(&self) -> densing_eval::ModelIdentity {
            self.1.clone()
        }
        fn score(
            &self,
            r: &[ScoreRequest],
        ) -> Vec<Result<densing_eval::Scored, densing_eval::ScoreError>> {
            self.0.score(r)
        }
    }
    let quantized = densing_eval::ModelIdentity {
        numerics: "matmul=quantized,device=cpu".into(),
        ..id.clone()
    };
    let separate = densing_eval::ModelIdentity {
        boundary: Boundary::Separate,
        ..id.clone()
    };
    for other in [quantized, separate] {
        let r = run_task(&Keyed(engine(), other.clone()), set, &opts, &mut Silent).unwrap();
        assert_eq!(r.scored_now, 2, "{other:?} reused another key's records");
    }
}

/// A next token the head has no row for is refused by name before any logits are
/// computed (the head reads each row's target in place).
#[test]
fn a_next_token_outside_the_vocabulary_is_refused() {
    let e = engine();
    let cache = densing_eval::model::KvCache::empty();
    let (h, _) = e.model().forward(&[1, 2, 3], &cache).unwrap();
    let v = e.model().vocab_size() as u32;
    let err = e
        .model()
        .next_token_logprobs(&h, &[5, 6, v])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("token id {v} outside the vocabulary")),
        "{err}"
    );
    assert_eq!(
        e.model()
            .next_token_logprobs(&h, &[5, 6, v - 1])
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn quantized_matmul_agrees_with_dequantized() {
    let q = Engine::load(
        &model_path(),
        &EngineOptions {
            matmul: Some(MatmulMode::Quantized),
            ..Default::default()
        },
    )
    .unwrap();
    let e = engine();
    let ids = e
        .tokenizer()
        .encode("def add(a, b):\n    return a + b\n")
        .unwrap();
    let a = e.score_tokens(&ids, 1).unwrap();
    let b = q.score_tokens(&ids, 1).unwrap();
    let mut d: Vec<f32> = a
        .logprobs
        .iter()
        .zip(&b.logprobs)
        .map(|(x, y)| (x - y).abs())
        .collect();
    d.sort_by(f32::total_cmp);
    // Quantised kernels quantise activations to Q8 too, so small differences remain.
    let (median, max) = (d[d.len() / 2], d[d.len() - 1]);
    assert!(median < 0.05 && max < 0.5, "median |Δ| {median}, max {max}");
}

#[test]
fn humaneval_run_resumes_and_never_mixes_models() {
    let data = assets().join("HumanEval.jsonl.gz");
    let set = &tasks::load(&TaskKind::HumanEval, &data, 0, Some(4)).unwrap()[0];
    assert_eq!(set.items.len(), 4);
    assert_eq!(set.items[0].id, "HumanEval/0");
    let out = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: out.path().to_path_buf(),
        skip_bad: false,
        batch: 2,
    };
    let two = tasks::TaskSet {
        items: set.items[..2].to_vec(),
        ..set.clone()
    };
    let first = run_task(engine(), &two, &opts, &mut Silent).unwrap();
    assert_eq!(first.scored_now, 2);
    let all = run_task(engine(), set, &opts, &mut Silent).unwrap();
    assert_eq!(all.scored_now, 2, "the first two items come from the store");
    let s = &all.summary;
    assert_eq!(s.items, 4);
    let lines = std::fs::read_to_string(&all.store_path).unwrap();
    assert_eq!(lines.lines().count(), 4);
    // Per-token loss of a 135M model on canonical solutions: well below uniform
    // (ln 49152 ≈ 10.8) and above zero.
    let lpt = s.loss_per_token.unwrap();
    assert!(lpt > 0.05 && lpt < 3.0, "loss/token {lpt}");
    let bpb = s.bits_per_byte.unwrap();
    assert!((bpb - s.loss_sum / (s.bytes as f64 * std::f64::consts::LN_2)).abs() < 1e-12);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&all.summary_path).unwrap()).unwrap();
    assert_eq!(summary["items"], 4);
    // Another model identity (as a different file would have) reuses nothing.
    struct Other<'a>(&'a Engine);
    impl Backend for Other<'_> {
        fn model_id(&self) -> densing_eval::ModelIdentity {
            densing_eval::ModelIdentity {
                model: "sha256:00".into(),
                ..self.0.model_id()
            }
        }
        fn score(
            &self,
            r: &[ScoreRequest],
        ) -> Vec<Result<densing_eval::Scored, densing_eval::ScoreError>> {
            self.0.score(r)
        }
    }
    let other = run_task(&Other(engine()), &two, &opts, &mut Silent).unwrap();
    assert_eq!(other.scored_now, 2);
}

#[test]
fn bbh_prompt_is_three_shot_cot() {
    let set = &tasks::load(
        &TaskKind::Bbh(Some("date_understanding".into())),
        &bbh_dir(),
        3,
        None,
    )
    .unwrap()[0];
    assert_eq!(set.template, "bbh-cot/v1/shots=3");
    assert_eq!(set.items.len() + set.no_reference, 250);
    let r = &set.items[0].requests[0];
    assert!(r.context.starts_with("Infer the date from context.\n\nQ: "));
    assert_eq!(r.context.matches("A: Let's think step by step.").count(), 4);
    assert!(r.context.ends_with("\nA: Let's think step by step."));
    assert!(r.continuation.starts_with(' ') && r.continuation.ends_with("So the answer is (B)."));
    let zero = &tasks::load(
        &TaskKind::Bbh(Some("date_understanding".into())),
        &bbh_dir(),
        0,
        Some(1),
    )
    .unwrap()[0];
    assert_eq!(zero.items[0].requests[0].context.matches("Q: ").count(), 1);
    assert!(tasks::load(
        &TaskKind::Bbh(Some("date_understanding".into())),
        &bbh_dir(),
        4,
        None
    )
    .is_err());
}

#[test]
fn multiple_choice_scores_options_and_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("capitals.csv");
    std::fs::write(
        &csv,
        "question,A,B,C,D,answer\n\
         What is the capital of France?,Berlin,Paris,Rome,Madrid,B\n\
         What is the capital of Italy?,Rome,Paris,Berlin,Madrid,A\n\
         What is the capital of Germany?,Paris,Madrid,Rome,Berlin,D\n\
         What is the capital of Spain?,Rome,Berlin,Madrid,Paris,C\n",
    )
    .unwrap();
    let set = &tasks::load(&TaskKind::Mc, &csv, 1, None).unwrap()[0];
    assert_eq!(set.items.len(), 3);
    assert_eq!(set.items[0].requests.len(), 4);
    assert!(set.items[0].requests[0]
        .context
        .contains("Answer: B\n\nWhat is the capital of Italy?\nA. Rome"));
    let out = RunOptions {
        out: dir.path().join("out"),
        skip_bad: false,
        batch: 1,
    };
    let o = run_task(engine(), set, &out, &mut Silent).unwrap();
    let s = &o.summary;
    assert_eq!(s.answered, 3);
    assert!(s.accuracy.is_some());
    let lines = std::fs::read_to_string(&o.store_path).unwrap();
    let rec: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(rec["option_losses"].as_array().unwrap().len(), 4);
    let losses: Vec<f64> = rec["option_losses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let best = losses
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(rec["correct"].as_bool().unwrap(), best == 0);
    assert_eq!(rec["loss_sum"].as_f64().unwrap(), losses[0]);

    // JSONL with `choices` and an index answer reads the same way.
    let jl = dir.path().join("mc.jsonl");
    std::fs::write(
        &jl,
        "{\"question\": \"2+2=?\", \"choices\": [\"3\", \"4\"], \"answer\": 1}\n",
    )
    .unwrap();
    let set = &tasks::load(&TaskKind::Mc, &jl, 0, None).unwrap()[0];
    assert_eq!(set.items[0].answer, Some(1));
    assert_eq!(set.items[0].requests[1].continuation, " B");
}

#[test]
fn malformed_lines_are_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("items.jsonl");
    std::fs::write(
        &p,
        "{\"id\": 1, \"context\": \"a\", \"continuation\": \" b\"}\n{not json\n{\"id\": 3, \"context\": \"a\"}\n",
    )
    .unwrap();
    let set = &tasks::load(&TaskKind::Jsonl, &p, 0, None).unwrap()[0];
    assert_eq!(set.items.len(), 1);
    assert_eq!(set.bad.len(), 2);
    assert!(
        set.bad[0].contains("items.jsonl:2: invalid JSON"),
        "{}",
        set.bad[0]
    );
    assert!(
        set.bad[1].contains("items.jsonl:3: missing field `continuation`"),
        "{}",
        set.bad[1]
    );
    let opts = RunOptions {
        out: dir.path().join("out"),
        skip_bad: false,
        batch: 1,
    };
    let err = run_task(engine(), set, &opts, &mut Silent)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2 malformed") && err.contains("--skip-bad"),
        "{err}"
    );
    let o = run_task(
        engine(),
        set,
        &RunOptions {
            skip_bad: true,
            ..opts
        },
        &mut Silent,
    )
    .unwrap();
    assert_eq!((o.summary.items, o.summary.bad_items.len()), (1, 2));
}

/// llama.cpp's converter permutes W_q/W_k rows so that rotary pairs are adjacent
/// (`reshape(n_head, 2, d/2, in).swapaxes(1, 2)`); this is the inverse.
fn unpermute(w: &candle_core::Tensor, n_head: usize) -> candle_core::Tensor {
    let (out, inp) = w.dims2().unwrap();
    w.reshape((n_head, out / n_head / 2, 2, inp))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((out, inp))
        .unwrap()
}

#[test]
fn safetensors_checkpoint_scores_like_the_gguf() {
    use candle_core::quantized::gguf_file;
    use candle_core::Device;
    // Re-export the GGUF as a Hugging Face checkpoint: dequantised tensors under HF
    // names, W_q/W_k back in the half-split rotary layout, the same tokenizer.
    let mut f = std::fs::File::open(model_path()).unwrap();
    let content = gguf_file::Content::read(&mut f).unwrap();
    let mut tensors = std::collections::HashMap::new();
    for name in content.tensor_infos.keys() {
        let t = content
            .tensor(&mut f, name, &Device::Cpu)
            .unwrap()
            .dequantize(&Device::Cpu)
            .unwrap();
        let t = match name {
            n if n.ends_with("attn_q.weight") => unpermute(&t, 9),
            n if n.ends_with("attn_k.weight") => unpermute(&t, 3),
            _ => t,
        };
        tensors.insert(densing_eval::engine::hf_tensor_name(name), t);
    }
    let dir = tempfile::tempdir().unwrap();
    candle_core::safetensors::save(&tensors, dir.path().join("model.safetensors")).unwrap();
    drop(tensors);
    engine()
        .tokenizer()
        .inner()
        .save(dir.path().join("tokenizer.json"), false)
        .unwrap();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"add_bos_token": false}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"model_type": "llama", "hidden_size": 576, "intermediate_size": 1536,
            "num_attention_heads": 9, "num_key_value_heads": 3, "num_hidden_layers": 30,
            "rms_norm_eps": 1e-5, "rope_theta": 100000.0, "max_position_embeddings": 8192,
            "bos_token_id": 1, "tie_word_embeddings": true}"#,
    )
    .unwrap();
    let hf = Engine::load(dir.path(), &EngineOptions::default()).unwrap();
    assert_eq!(hf.tokenizer().hash(), engine().tokenizer().hash());
    assert!(hf.model_id().model.starts_with("sha256:"));
    assert_ne!(hf.model_id().model, engine().model_id().model);
    let text = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n";
    let ids = engine().tokenizer().encode(text).unwrap();
    assert_eq!(hf.tokenizer().encode(text).unwrap(), ids);
    let a = engine().score_tokens(&ids, 1).unwrap();
    let b = hf.score_tokens(&ids, 1).unwrap();
    for (x, y) in a.logprobs.iter().zip(&b.logprobs) {
        assert!((x - y).abs() < 1e-3, "gguf {x} vs safetensors {y}");
    }
    // An unknown architecture in config.json is refused by name.
    std::fs::write(dir.path().join("config.json"), r#"{"model_type": "gpt2", "hidden_size": 1, "num_attention_heads": 1, "num_hidden_layers": 1, "rms_norm_eps": 1e-5, "max_position_embeddings": 8}"#).unwrap();
    let err = Engine::load(dir.path(), &EngineOptions::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unsupported architecture `gpt2`"), "{err}");
}
