//! Packed forward passes and the bf16 mode on the real SmolLM2-135M GGUF (fetched
//! by `scripts/fetch-assets.sh`): several items per pass score as one at a time,
//! with and without prefix KV reuse, and bf16 weights stay close to f32.

use std::path::PathBuf;

use densing_eval::engine::{Engine, EngineOptions};
use densing_eval::tasks::{self, TaskKind};
use densing_eval::{Backend, MatmulMode, ScoreRequest};

#[path = "../../../tests/support/assets.rs"]
mod support;
use support::assets;

fn load(matmul: MatmulMode, batch: usize, prefix_cache: bool) -> Engine {
    let opts = EngineOptions {
        matmul: Some(matmul),
        batch: Some(batch),
        prefix_cache,
        ..Default::default()
    };
    Engine::load(&assets().join("SmolLM2-135M-Instruct.Q4_1.gguf"), &opts).unwrap()
}

fn humaneval(n: usize) -> Vec<ScoreRequest> {
    let set = &tasks::load(
        &TaskKind::HumanEval,
        &assets().join("HumanEval.jsonl.gz"),
        0,
        Some(n),
    )
    .unwrap()[0];
    set.items.iter().map(|i| i.requests[0].clone()).collect()
}

/// Largest per-item |Δ loss| (nats) between two engines' scores of `reqs`.
fn max_item_delta(a: &Engine, b: &Engine, reqs: &[ScoreRequest]) -> f64 {
    let (x, y) = (a.score(reqs), b.score(reqs));
    x.iter()
        .zip(&y)
        .map(|(x, y)| {
            let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
            assert_eq!(x.token_ids, y.token_ids);
            assert_eq!(x.greedy_match, y.greedy_match);
            (x.logprob_sum() - y.logprob_sum()).abs()
        })
        .fold(0.0, f64::max)
}

#[test]
fn packed_passes_score_each_item_as_alone() {
    // 8 HumanEval items of different lengths: passes of 3, 3 and 2 sequences.
    let reqs = humaneval(8);
    let one = load(MatmulMode::Dequantized, 1, false);
    let three = load(MatmulMode::Dequantized, 3, false);
    assert_eq!(three.batch(), 3);
    // Measured: 0 (candle's GEMM computes a row the same whatever rows surround it).
    let d = max_item_delta(&one, &three, &reqs);
    assert!(
        d <= 1e-5,
        "packed vs one at a time: max per-item |Δ| {d} nat"
    );
}

#[test]
fn packed_passes_with_prefix_reuse_score_each_item_as_alone() {
    // BBH 3-shot: every item starts with the same ~700-token prompt, computed once
    // per pass (and reused from the previous pass) instead of once per item.
    let set = &tasks::load(
        &TaskKind::Bbh(Some("date_understanding".into())),
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/bbh"),
        3,
        Some(5),
    )
    .unwrap()[0];
    let reqs: Vec<ScoreRequest> = set.items.iter().map(|i| i.requests[0].clone()).collect();
    let plain = load(MatmulMode::Dequantized, 1, false);
    let cached = load(MatmulMode::Dequantized, 1, true);
    let packed = load(MatmulMode::Dequantized, 3, true);
    // Reusing a cached prefix computes its positions in another pass than a full
    // recompute, so sums round differently: measured 3.4e-5 nat per item (BBH
    // continuations of ~70 tokens, losses of tens of nats) for one item per pass,
    // 4.8e-5 between one and three per pass. A wrong cache (another item's prefix,
    // a shifted position) costs whole nats.
    let reuse = max_item_delta(&plain, &cached, &reqs);
    let d = max_item_delta(&cached, &packed, &reqs);
    assert!(
        reuse <= 1e-4 && d <= 1e-4,
        "reuse {reuse} nat, packed {d} nat"
    );
    // A second round starts from the last sequence's cache.
    let d = max_item_delta(&plain, &packed, &reqs[2..]);
    assert!(d <= 1e-4, "second round: {d} nat");
}

#[test]
fn bf16_weights_stay_close_to_f32() {
    let reqs = humaneval(6);
    let f32 = load(MatmulMode::Dequantized, 6, false);
    let bf16 = load(MatmulMode::Bf16, 6, false);
    assert_eq!(bf16.model_id().numerics, "matmul=bf16,device=cpu");
    assert_eq!(bf16.matmul_mode(), MatmulMode::Bf16);
    let (a, b) = (f32.score(&reqs), bf16.score(&reqs));
    let mut per_item: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| {
            let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
            (x.logprob_sum() - y.logprob_sum()).abs() / x.tokens() as f64
        })
        .collect();
    per_item.sort_by(f64::total_cmp);
    let (median, max) = (per_item[per_item.len() / 2], per_item[per_item.len() - 1]);
    // Weights rounded to 8 significant bits, f32 arithmetic: a few hundredths of a
    // nat per token at most, and not exactly zero (the mode is really different).
    assert!(
        median > 0.0 && median < 0.02 && max < 0.05,
        "median {median}, max {max} nat/token"
    );
}
