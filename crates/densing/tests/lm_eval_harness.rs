//! densing as a backend of lm-evaluation-harness: `lm_eval --model
//! local-completions` with `tokenizer_backend=remote` (no local tokenizer: the
//! harness tokenises through `densing serve`'s `/tokenize`, `/detokenize` and
//! `/tokenizer_info`, as it does with vLLM) scores HumanEval's solutions as a
//! log-likelihood task, and every item's log-likelihood equals the embedded
//! engine's (`densing eval`) within 1e-6 nat.
//!
//! lm-eval 0.4.13 comes from `scripts/setup-lm-eval.sh` (in `.venv-lmeval`); the
//! task is a YAML file written here that reads the HumanEval asset from disk, with
//! the harness's hub access switched off.

mod http_support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use http_support::{densing, humaneval, model, repo, run, start_serve, store_records};

const ITEMS: usize = 20;

fn lm_eval() -> PathBuf {
    let p = repo().join(".venv-lmeval/bin/lm_eval");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-lm-eval.sh to install lm-eval[api]==0.4.13",
        p.display()
    );
    p
}

/// A log-likelihood task over the HumanEval file: context = `prompt`,
/// continuation = `canonical_solution`, joined with nothing (the harness's
/// default target delimiter is a space). Fields are named directly, not through
/// Jinja, which would drop the prompt's trailing newline.
fn write_task(dir: &Path) {
    let yaml = format!(
        "task: densing_humaneval_ll
dataset_path: json
dataset_kwargs:
  data_files:
    test: {}
test_split: test
output_type: loglikelihood
doc_to_text: prompt
doc_to_target: canonical_solution
target_delimiter: \"\"
metric_list:
  - metric: perplexity
",
        humaneval().canonicalize().unwrap().display()
    );
    std::fs::write(dir.join("densing_humaneval_ll.yaml"), yaml).unwrap();
}

/// `task_id` → log-likelihood, from the harness's `samples_*.jsonl`.
fn harness_loglik(out: &Path) -> HashMap<String, f64> {
    let mut found = HashMap::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                stack.push(p);
            } else if name.starts_with("samples_") && name.ends_with(".jsonl") {
                for line in std::fs::read_to_string(&p).unwrap().lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    let id = v["doc"]["task_id"].as_str().unwrap().to_string();
                    // filtered_resps: [[loglikelihood, is_greedy]]
                    let ll = v["filtered_resps"][0][0]
                        .as_f64()
                        .or_else(|| v["filtered_resps"][0][0].as_str()?.parse().ok())
                        .unwrap_or_else(|| panic!("no log-likelihood in {line}"));
                    found.insert(id, ll);
                }
            }
        }
    }
    found
}

#[test]
fn lm_eval_with_the_remote_tokenizer_matches_densing_eval_per_item() {
    let lm_eval = lm_eval();
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = run(densing()
        .args(["eval", "--task", "humaneval", "--limit", &ITEMS.to_string()])
        .arg("--model")
        .arg(model())
        .arg("--data")
        .arg(humaneval())
        .arg("--out")
        .arg(dir.path().join("embedded")));
    assert!(ok, "densing eval failed:\n{stdout}\n{stderr}");
    let embedded: HashMap<String, f64> = store_records(&dir.path().join("embedded"))
        .into_iter()
        .map(|r| {
            (
                r["item_id"].as_str().unwrap().to_string(),
                r["loss_sum"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(embedded.len(), ITEMS);

    let (_server, url) = start_serve(&[]);
    let served = model().file_stem().unwrap().to_string_lossy().into_owned();
    write_task(dir.path());
    let out = dir.path().join("harness");
    let (ok, stdout, stderr) = run(Command::new(&lm_eval)
        .args(["--model", "local-completions", "--model_args"])
        .arg(format!(
            "model={served},base_url={url}/v1/completions,tokenizer_backend=remote,\
             tokenized_requests=True,num_concurrent=1,max_retries=1"
        ))
        .args(["--tasks", "densing_humaneval_ll", "--include_path"])
        .arg(dir.path())
        .args([
            "--limit",
            &ITEMS.to_string(),
            "--log_samples",
            "--output_path",
        ])
        .arg(&out)
        .env("HF_DATASETS_OFFLINE", "1")
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_DATASETS_CACHE", dir.path().join("hf-cache"))
        .env("HF_HOME", dir.path().join("hf-home")));
    assert!(ok, "lm_eval failed:\n{stdout}\n{stderr}");
    let harness = harness_loglik(&out);
    assert_eq!(
        harness.len(),
        ITEMS,
        "items the harness scored: {harness:?}"
    );
    let mut worst = 0.0f64;
    for (id, loss) in &embedded {
        let ll = harness
            .get(id)
            .unwrap_or_else(|| panic!("the harness did not score {id}"));
        let diff = (-ll - loss).abs();
        worst = worst.max(diff);
        assert!(
            diff <= 1e-6,
            "{id}: densing eval loss {loss} nat, lm-eval log-likelihood {ll} (|Δ| = {diff:e})"
        );
    }
    eprintln!("{ITEMS} items, largest |Δ| = {worst:e} nat");
}
