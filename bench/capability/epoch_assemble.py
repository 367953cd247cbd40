"""Assemble data/epoch/{scores_long,eci}.csv from Epoch AI's benchmark-stitching CSVs, offline.

Epoch's loader (data_loader.py at commit 99a3dfc) also downloads a Google sheet of benchmark
release dates and "optimized / math / coding" flags on import; those columns never reach the
fit, so this script reads only the repository's CSVs. It re-implements, independently, the
selection that loader makes (RECIPE.md lists every step with its file/function reference):

1. one score column per benchmark (table `BENCHMARKS` below), rows with a missing model,
   score or source dropped, scores turned into fractions;
2. scores outside [0, 1] (or unparsable) dropped;
3. models with fewer than 4 distinct benchmarks dropped;
4. models absent from data/model_versions.csv (or whose row names the model "Mistral Large")
   dropped, and models released before 2022-11-01 dropped (three dates corrected first, as
   Epoch does);
5. duplicate (model, benchmark) scores collapsed to their maximum.

`chance` (random-guessing score as a fraction) is not in Epoch's data or fit (their model has
no floor); it is added from `CHANCE` below, one reason per benchmark, for densing's model
c + (1 − c)·σ(a(θ − d)).

Usage: python bench/capability/epoch_assemble.py SRC [OUT_DIR]
SRC is a directory holding the repository's files at the commit (data/...): e.g.
    git clone https://github.com/epoch-research/benchmark-stitching src
    git -C src checkout 99a3dfc0f50de791047dfa725dfd171eca8d25e9
OUT_DIR defaults to data/epoch. Needs pandas (read_csv's NA rules are the ones Epoch's loader
applied, so the same rows drop).
"""

import sys
from pathlib import Path

import pandas as pd

COMMIT = "99a3dfc0f50de791047dfa725dfd171eca8d25e9"
HEADER = (
    "# Source: Epoch AI, benchmark-stitching (https://github.com/epoch-research/benchmark-stitching) "
    f"commit {COMMIT} (2025-12-05), MIT licence (data/epoch/LICENSE); "
    "assembled offline by bench/capability/epoch_assemble.py as data/epoch/RECIPE.md describes"
)

# Epoch's own runs: data/benchmarks_runs.csv, column "Best score (across scorers)" (a fraction).
EPOCH_TASKS = [
    "GPQA diamond",
    "FrontierMath-2025-02-28-Private",
    "MATH level 5",
    "OTIS Mock AIME 2024-2025",
    "SWE-Bench verified",
    "FrontierMath-Tier-4-2025-07-01-Private",
]

# External leaderboards: (benchmark name, file stem, score column, unit, has Source column).
# unit: "pct" = percent, maybe with a trailing "%"; "pct_num" = plain percent number;
# "of10" = a mean rating out of 10.
BENCHMARKS = [
    ("Aider polyglot", "aider_polyglot", "Percent correct", "pct_num", True),
    ("ANLI", "anli", "Score", "pct", True),
    ("ARC-AGI", "arc_agi", "Score", "pct", True),
    ("ARC AI2", "arc_ai2", "Challenge score", "pct", True),
    ("Balrog", "balrog", "Average progress", "pct", False),
    ("BBH", "bbh", "Average", "pct", True),
    ("BoolQ", "boolq", "Score", "pct", True),
    ("CadEval", "cadeval", "Overall pass (%)", "pct", True),
    ("CSQA2", "csqa2", "Score", "pct", True),
    ("Cybench", "cybench", "Unguided % Solved", "pct", True),
    ("DeepResearch Bench", "deepresearch", "Average score", "pct", True),
    ("Factorio learning environment", "factorio_learning_environment", "Lab Success %", "pct", True),
    ("Fiction.LiveBench", "fictionlivebench", "16k token score", "pct", True),
    ("GeoBench", "geobench", "ACW Country %", "pct", True),
    ("GSM8K", "gsm8k", "EM", "pct", True),
    ("GSO-Bench", "gso_bench", "Score OPT@1", "pct", True),
    ("HellaSwag", "hellaswag", "Overall accuracy", "pct", True),
    ("LAMBADA", "lambada", "Score", "pct", True),
    ("Lech Mazur Writing", "lech_mazur_writing", "Mean score", "of10", True),
    ("LiveBench", "livebench", "Global average", "pct_num", True),
    ("MMLU", "mmlu", "EM", "pct", True),
    ("OpenBookQA", "openbookqa", "Accuracy", "pct", True),
    ("OSWorld", "os_world", "Score", "pct_num", True),
    ("OSUniverse", "osuniverse", "Weighted Score", "pct", True),
    ("PIQA", "piqa", "Score", "pct", True),
    ("ScienceQA", "scienceqa", "Score", "pct", True),
    ("SimpleBench", "simple_bench", "Score (AVG@5)", "pct", True),
    ("SuperGLUE", "superglue", "Score", "pct", True),
    ("Terminal Bench", "terminal_bench", "Accuracy mean", "pct", True),
    ("The Agent Company", "the_agent_company", "% Resolved", "pct", True),
    ("TriviaQA", "triviaqa", "EM", "pct", True),
    ("VideoMME", "videomme", "Overall (no subtitles)", "pct", True),
    ("VPCT", "vpct", "Correct", "pct", True),
    ("WeirdML", "weirdml", "Accuracy", "pct", True),
    ("Winogrande", "winogrande", "Accuracy", "pct", True),
]

# Random-guessing score per benchmark (fraction): 1/options for multiple choice, 0 where the
# answer is generated, graded or an agent's task outcome (no guessing floor).
CHANCE = {
    "ANLI": 1 / 3,  # entailment / neutral / contradiction
    "ARC AI2": 0.25,  # Challenge set, 4 options (a few items have 3 or 5)
    "BoolQ": 0.5,  # yes / no
    "CSQA2": 0.5,  # yes / no
    "GPQA diamond": 0.25,  # 4 options
    "HellaSwag": 0.25,  # 4 endings
    "MMLU": 0.25,  # 4 options
    "OpenBookQA": 0.25,  # 4 options
    "PIQA": 0.5,  # 2 solutions
    "ScienceQA": 0.3983,  # 2-5 options; the authors' random-chance baseline (Lu et al. 2022)
    "SimpleBench": 1 / 6,  # 6 options (A-F)
    "VideoMME": 0.25,  # 4 options
    "VPCT": 1 / 3,  # which of 3 buckets
    "Winogrande": 0.5,  # 2 options
}
OPEN_ENDED = {
    "Aider polyglot", "ARC-AGI", "Balrog", "BBH", "CadEval", "Cybench", "DeepResearch Bench",
    "Factorio learning environment", "Fiction.LiveBench", "FrontierMath-2025-02-28-Private",
    "FrontierMath-Tier-4-2025-07-01-Private", "GeoBench", "GSM8K", "GSO-Bench", "LAMBADA",
    "Lech Mazur Writing", "LiveBench", "MATH level 5", "OSUniverse", "OSWorld",
    "OTIS Mock AIME 2024-2025", "SWE-Bench verified", "SuperGLUE", "Terminal Bench",
    "The Agent Company", "TriviaQA", "WeirdML",
}

MIN_BENCHMARKS = 4  # Epoch keeps models with more than 3 distinct benchmarks
START_DATE = pd.Timestamp("2022-11-01")
DATE_FIXES = {"gemini-exp-1206": "2024-12-06", "LLaMA-13B": "2023-02-24", "LLaMA-33B": "2023-02-24"}


def to_fraction(values: pd.Series, unit: str) -> pd.Series:
    if unit == "pct":
        return pd.to_numeric(values.astype(str).str.rstrip("%"), errors="raise") / 100
    if unit == "pct_num":
        return pd.to_numeric(values, errors="raise") / 100
    if unit == "of10":
        return pd.to_numeric(values, errors="raise") / 10
    raise ValueError(f"unknown unit {unit}")


def raw_scores(src: Path) -> pd.DataFrame:
    runs = pd.read_csv(src / "data/benchmarks_runs.csv")
    runs = runs[runs["task"].isin(EPOCH_TASKS)]
    parts = [
        pd.DataFrame({"model": runs["model"], "benchmark": runs["task"],
                      "score": runs["Best score (across scorers)"]})
    ]
    for name, stem, column, unit, has_source in BENCHMARKS:
        path = src / f"data/external_benchmark_{stem}.csv"
        cols = ["Model version", column] + (["Source"] if has_source else [])
        table = pd.read_csv(path)[cols].dropna()
        try:
            score = to_fraction(table[column], unit)
        except ValueError as e:
            raise SystemExit(f"{path}: column `{column}`: {e}") from e
        parts.append(pd.DataFrame({"model": table["Model version"], "benchmark": name, "score": score}))
    scores = pd.concat(parts, ignore_index=True)
    scores["benchmark"] = scores["benchmark"].str.strip()
    scores["score"] = pd.to_numeric(scores["score"], errors="coerce")
    return scores[(scores["score"] >= 0) & (scores["score"] <= 1)]


def release_dates(src: Path) -> pd.DataFrame:
    versions = pd.read_csv(src / "data/model_versions.csv")[["id", "Model", "Version release date"]]
    versions = versions[versions["Model"] != "Mistral Large"]
    dates = versions.rename(columns={"id": "model", "Version release date": "date"})[["model", "date"]]
    for model, date in DATE_FIXES.items():
        dates.loc[dates["model"] == model, "date"] = date
    dates["date"] = pd.to_datetime(dates["date"], errors="coerce")
    return dates


def assemble(src: Path) -> pd.DataFrame:
    scores = raw_scores(src)
    n_bench = scores.groupby("model")["benchmark"].nunique()
    scores = scores[scores["model"].isin(n_bench[n_bench >= MIN_BENCHMARKS].index)]
    dated = scores.merge(release_dates(src), on="model")  # inner: undated models drop
    dated = dated[dated["date"] >= START_DATE]
    long = dated.groupby(["model", "benchmark"], as_index=False)["score"].max()
    unknown = set(long["benchmark"]) - set(CHANCE) - OPEN_ENDED
    if unknown:
        raise SystemExit(f"no chance level for benchmark(s): {sorted(unknown)}")
    long["chance"] = long["benchmark"].map(lambda b: CHANCE.get(b, 0.0))
    return long.sort_values(["model", "benchmark"]).reset_index(drop=True)


def eci_scores(src: Path, models: set) -> pd.DataFrame:
    eci = pd.read_csv(src / "data/website/epoch_capabilities_index.csv")
    eci = eci.rename(columns={"Model version": "model", "ECI Score": "eci"})[["model", "eci"]]
    eci = eci.dropna()
    eci = eci[eci["model"].isin(models)]
    if eci["model"].duplicated().any():
        raise SystemExit(f"duplicate ECI rows: {sorted(eci[eci['model'].duplicated()]['model'])}")
    return eci.sort_values("model").reset_index(drop=True)


def write(frame: pd.DataFrame, path: Path, header: str) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        f.write(header + "\n")
        frame.to_csv(f, index=False, float_format="%.10g", lineterminator="\n")
    tmp.replace(path)


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    src = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else Path("data/epoch")
    long = assemble(src)
    eci = eci_scores(src, set(long["model"]))
    write(long, out / "scores_long.csv", HEADER + "; score and chance are fractions")
    write(eci, out / "eci.csv",
          HEADER.replace("assembled offline", "ECI Score column of data/website/epoch_capabilities_index.csv, "
                         "models also in scores_long.csv; selected") )
    print(f"scores_long.csv: {len(long)} scores, {long['model'].nunique()} models, "
          f"{long['benchmark'].nunique()} benchmarks; eci.csv: {len(eci)} models")


if __name__ == "__main__":
    main()
