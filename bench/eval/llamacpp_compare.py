#!/usr/bin/env python3
"""densing (candle) vs llama.cpp (llama-cpp-python, in-process) on the same GGUF.

Reads the JSONL written by `cargo run --release -p densing-eval --example score_dump`
(per item: context and continuation text, densing's token ids, index of the first
continuation token, densing's per-token log-probs, seconds), then with llama.cpp:

1. Agreement. Builds each request independently of densing, with llama.cpp's own
   tokenizer and lm-evaluation-harness's loglikelihood rule (`_encode_pair`): move
   the context's trailing whitespace into the continuation, whole = tok(context +
   continuation), ctx = tok(context), continuation = whole[len(ctx):] (no prefix
   check; items where ctx is not a prefix of whole are counted), BOS as llama.cpp
   adds it. Evaluates its own sequence with `logits_all=True` and compares, per item,
   the mean loss per continuation token (nats/token), and, on items whose token ids
   are identical to densing's, log p(token | prefix) per token.
2. Speed (--speed). Prompt-processing time of densing's token sequences, scored
   tokens/s (sequence tokens / seconds), with logits for every position (what
   scoring needs) and with last-position logits only (llama.cpp's fastest path).

With --last-logits-only, only the last-logits path is timed (no agreement): one
round of the interleaved rounds in `bench/eval/speed.sh`.

Usage: llamacpp_compare.py MODEL.gguf DUMP.jsonl [THREADS] [--speed | --last-logits-only]
Prints a JSON report.
"""
import json
import statistics
import sys
import time

import numpy as np
from llama_cpp import Llama


def log_softmax(rows):
    m = rows.max(axis=1, keepdims=True)
    return rows - m - np.log(np.exp(rows - m).sum(axis=1, keepdims=True))


def harness_request(tok, prefix, context, continuation):
    """lm-evaluation-harness's TemplateLM._encode_pair, with llama.cpp's tokenizer."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tok(context + continuation)
    ctx = tok(context)
    return prefix + ctx, whole[len(ctx):], whole[: len(ctx)] != ctx


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else None


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    speed = "--speed" in sys.argv
    model, dump = args[:2]
    threads = int(args[2]) if len(args) > 2 else 2
    recs = [json.loads(l) for l in open(dump)]
    n_ctx = max(len(r["ids"]) for r in recs) + 64
    if "--last-logits-only" in sys.argv:
        tokens = sum(len(r["ids"]) for r in recs)
        fast = last_logits_llama(model, n_ctx, threads)
        print(json.dumps({"threads": threads, "sequence_tokens": tokens,
                          "llamacpp_last_logits_tok_per_s": tokens / eval_seconds(fast, recs)}))
        return
    llm = Llama(model_path=model, logits_all=True, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=512,
                n_threads=threads, n_threads_batch=threads, verbose=False)
    tok = lambda s: llm.tokenize(s.encode("utf-8"), add_bos=False, special=True)
    prefix = llm.tokenize(b"", add_bos=True, special=True)
    item_deltas, token_deltas, same_ids, mismatch_cpp = [], [], [], []
    loss_densing, loss_cpp, tokens_densing, tokens_cpp = 0.0, 0.0, 0, 0
    per_item = []
    for r in recs:
        ctx, cont, mismatch = harness_request(tok, prefix, r["context"], r["continuation"])
        if mismatch:
            mismatch_cpp.append(r["id"])
        seq = ctx + cont
        llm.reset()
        llm.eval(seq)
        rows = np.asarray(llm.scores[len(ctx) - 1: len(seq) - 1], dtype=np.float64)
        lp = log_softmax(rows)[np.arange(len(cont)), cont]
        ours = np.asarray(r["logprobs"], dtype=np.float64)
        d = abs(-lp.mean() - -ours.mean())
        item_deltas.append(d)
        identical = seq == r["ids"] and len(ctx) == r["first"]
        if identical:
            same_ids.append(r["id"])
            token_deltas.extend(np.abs(lp - ours).tolist())
        loss_cpp -= lp.sum()
        tokens_cpp += len(cont)
        loss_densing -= ours.sum()
        tokens_densing += len(ours)
        per_item.append({"id": r["id"], "ids_identical": identical, "densing_nat_per_token":
                         -ours.mean(), "llamacpp_nat_per_token": -lp.mean()})
    report = {
        "items": len(recs),
        "rule": "lm-evaluation-harness _encode_pair (llama.cpp tokenizer)",
        "ids_identical_items": len(same_ids),
        "ids_identical_fraction": len(same_ids) / len(recs),
        "ids_differ": [r["id"] for r in recs if r["id"] not in set(same_ids)],
        "join_mismatch_llamacpp": mismatch_cpp,
        "join_mismatch_densing": [r["id"] for r in recs if r["join_mismatch"]],
        "item_abs_delta_nat_per_token": {
            "median": statistics.median(item_deltas),
            "p95": quantile(item_deltas, 0.95),
            "max": max(item_deltas),
        },
        "token_abs_delta_nat": {
            "tokens": len(token_deltas),
            "median": statistics.median(token_deltas) if token_deltas else None,
            "p95": quantile(token_deltas, 0.95),
            "p99": quantile(token_deltas, 0.99),
            "max": max(token_deltas) if token_deltas else None,
        },
        "densing_nat_per_token": loss_densing / tokens_densing,
        "llamacpp_nat_per_token": loss_cpp / tokens_cpp,
        "per_item": per_item,
    }
    if speed:
        report["speed"] = timings(model, recs, n_ctx, threads, llm)
    print(json.dumps(report, indent=2))


def last_logits_llama(model, n_ctx, threads):
    """llama.cpp computing logits for the last position only (its fastest path)."""
    return Llama(model_path=model, logits_all=False, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=512,
                 n_threads=threads, n_threads_batch=threads, verbose=False)


def eval_seconds(llm, recs):
    """Seconds llama.cpp takes to evaluate densing's token sequences from scratch."""
    seconds = 0.0
    for r in recs:
        llm.reset()
        t = time.perf_counter()
        llm.eval(r["ids"])
        seconds += time.perf_counter() - t
    return seconds


def timings(model, recs, n_ctx, threads, llm_all):
    """Scored tokens/s on densing's own sequences: densing (from the dump), llama.cpp
    with logits for every position, llama.cpp with the last position's only."""
    fast = last_logits_llama(model, n_ctx, threads)
    tokens = sum(len(r["ids"]) for r in recs)
    out = {"threads": threads, "sequence_tokens": tokens,
           "densing_tok_per_s": tokens / sum(r["seconds"] for r in recs)}
    for name, llm in (("llamacpp_logits_all_tok_per_s", llm_all),
                      ("llamacpp_last_logits_tok_per_s", fast)):
        out[name] = tokens / eval_seconds(llm, recs)
    return out


if __name__ == "__main__":
    main()
