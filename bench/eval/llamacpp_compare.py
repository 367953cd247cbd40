#!/usr/bin/env python3
"""densing (candle) vs llama.cpp (llama-cpp-python, in-process) on the same GGUF.

Reads the JSONL written by `cargo run --release -p densing-eval --example score_dump`
(per HumanEval item: token ids, index of the first continuation token, densing's
per-token log-probs, seconds), then with llama.cpp:

1. Agreement: tokenises context and continuation the same way densing does (joint
   encoding split at the context's length, separate encoding of the continuation
   when a token spans the join) and requires identical token ids; evaluates the
   sequence with `logits_all=True` and compares log p(token | prefix) per
   continuation token: median / p99 / max |delta| in nats.
2. Speed: prompt-processing time of the same token sequences, scored tokens/s
   (sequence tokens / seconds), with logits for every position (what scoring needs)
   and with last-position logits only (llama.cpp's fastest path).

Usage: llamacpp_compare.py MODEL.gguf DUMP.jsonl HUMANEVAL.jsonl.gz [THREADS]
Prints a JSON report.
"""
import gzip
import json
import statistics
import sys
import time

import numpy as np
from llama_cpp import Llama


def log_softmax(row):
    m = row.max()
    return row - m - np.log(np.exp(row - m).sum())


def main():
    model, dump, humaneval = sys.argv[1:4]
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    items = {}
    with gzip.open(humaneval, "rt") as f:
        for line in f:
            r = json.loads(line)
            items[r["task_id"]] = (r["prompt"], r["canonical_solution"])
    recs = [json.loads(l) for l in open(dump)]
    n_ctx = max(len(r["ids"]) for r in recs) + 8
    llm = Llama(model_path=model, logits_all=True, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=512,
                n_threads=threads, n_threads_batch=threads, verbose=False)
    tok = lambda s: llm.tokenize(s.encode("utf-8"), add_bos=False, special=False)
    deltas, id_mismatch, fallbacks = [], [], 0
    cpp_seconds, tokens = 0.0, 0
    for r in recs:
        ctx, cont = items[r["id"]]
        c = tok(ctx)
        joint = tok(ctx + cont)
        if len(joint) > len(c) and joint[: len(c)] == c:
            k = joint[len(c):]
        else:
            k, fallbacks = tok(cont), fallbacks + 1
        if c + k != r["ids"]:
            id_mismatch.append(r["id"])
            continue
        llm.reset()
        t = time.perf_counter()
        llm.eval(r["ids"])
        cpp_seconds += time.perf_counter() - t
        tokens += len(r["ids"])
        scores = np.asarray(llm.scores[: len(r["ids"])], dtype=np.float64)
        first = r["first"]
        for i, lp in enumerate(r["logprobs"]):
            pos = first + i
            ref = log_softmax(scores[pos - 1])[r["ids"][pos]]
            deltas.append(abs(ref - lp))
    densing_seconds = sum(r["seconds"] for r in recs if r["id"] not in id_mismatch)

    # llama.cpp's fastest prompt processing: logits of the last position only.
    fast = Llama(model_path=model, logits_all=False, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=512,
                 n_threads=threads, n_threads_batch=threads, verbose=False)
    fast_seconds = 0.0
    for r in recs:
        if r["id"] in id_mismatch:
            continue
        fast.reset()
        t = time.perf_counter()
        fast.eval(r["ids"])
        fast_seconds += time.perf_counter() - t

    deltas.sort()
    report = {
        "items": len(recs),
        "token_id_mismatches": id_mismatch,
        "join_fallbacks_llamacpp": fallbacks,
        "join_fallbacks_densing": sum(1 for r in recs if r["join_fallback"]),
        "compared_tokens": len(deltas),
        "median_abs_delta_nat": statistics.median(deltas) if deltas else None,
        "p99_abs_delta_nat": deltas[int(0.99 * (len(deltas) - 1))] if deltas else None,
        "max_abs_delta_nat": deltas[-1] if deltas else None,
        "sequence_tokens": tokens,
        "threads": threads,
        "densing_tok_per_s": tokens / densing_seconds,
        "llamacpp_logits_all_tok_per_s": tokens / cpp_seconds,
        "llamacpp_last_logits_tok_per_s": tokens / fast_seconds,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
