"""densing from Python: capability density of LLMs and the Densing-Law trend.

The numbers come from the same Rust library as the ``densing`` command line,
so ``densing.run(seed=s)`` reproduces ``densing run --json --seed s`` bit for
bit. Tables come back as pandas DataFrames, everything else as plain dicts
holding the library's own output (new fields appear without a new release of
this wrapper).

    >>> import densing
    >>> study = densing.run(bootstrap=200)
    >>> study.trend["doubling_days"]
    >>> study.densities.sort_values("rho", ascending=False).head()
"""

from __future__ import annotations

import io
import json
import os
import warnings
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import pandas as pd

from . import _densing
from ._densing import (
    DensingError,
    FieldError,
    FileError,
    FitError,
    InternalError,
    OptionError,
)

__version__ = _densing.__version__
__all__ = [
    "DensingError",
    "FieldError",
    "FileError",
    "FitError",
    "InternalError",
    "OptionError",
    "Registry",
    "Study",
    "run",
    "density",
    "capability",
    "Capability",
    "fit_loss",
    "fit_score",
    "predict",
    "Prediction",
]

PathOrFrame = Union[str, "os.PathLike[str]", pd.DataFrame]

#: The CLI's ``--benchmarks`` default.
ALL_BENCHMARKS = ("mmlu", "bbh", "math", "humaneval", "mbpp")
#: The CLI's ``--alt-benchmarks`` default: the set recent technical reports use.
ALT_BENCHMARKS = ("mmlu_pro", "mmlu_redux", "gpqa", "gsm8k", "evalplus")


def _typed(fn: Any) -> Any:
    """Report an argument of the wrong type as :class:`OptionError`.

    A wrong type surfaces as ``TypeError`` from the native argument conversion
    or as ``AttributeError`` from this wrapper (``scores=[...]`` has no
    ``.items()``); both name what was passed, so they are raised again as the
    package's own error for bad options, chained to the original."""
    import functools

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TypeError, AttributeError) as e:
            raise OptionError(f"{fn.__name__}: an argument has the wrong type: {e}") from e

    return call


def _table(data: Optional[PathOrFrame], what: str) -> Any:
    """A CSV input for the native module: a path as is, a DataFrame as
    ``(name, csv_text)`` so messages say ``<DataFrame what>:line`` (line 1 is
    the header, so row ``i`` of the frame is line ``i + 2``)."""
    if data is None:
        return None
    if isinstance(data, pd.DataFrame):
        return (f"<DataFrame {what}>", data.to_csv(index=False))
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    raise TypeError(f"{what}: expected a path or a pandas DataFrame, got {type(data).__name__}")


#: read_csv options that parse floats to the exact value written: pandas < 3
#: rounds the last digit by default, pandas 3 is exact and deprecates the option.
_ROUND_TRIP: Dict[str, str] = (
    {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
)


def _read_csv(source: Any) -> pd.DataFrame:
    """CSV as densing writes it: only empty cells are missing, floats exact."""
    return pd.read_csv(source, keep_default_na=False, na_values=[""], **_ROUND_TRIP)


class Registry:
    """A validated model registry: the bundled one, with files or frames
    layered on top, or a frame on its own.

    Validation is the library's: a bad value raises :class:`FieldError` whose
    message is ``file:line: field `name`: reason`` (also as attributes).
    """

    def __init__(self, native: Any) -> None:
        self._native = native

    @classmethod
    def bundled(cls) -> "Registry":
        """The registry bundled with densing (models.csv + scores.csv, with sources)."""
        return cls(_densing._Registry.bundled())

    @classmethod
    def read(cls, path: Union[str, "os.PathLike[str]"]) -> "Registry":
        """The bundled registry with a models or scores CSV layered on top, as
        ``--registry`` does: its model rows replace same-named models."""
        return cls(_densing._Registry.load(os.fspath(path)))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, name: str = "<DataFrame registry>") -> "Registry":
        """A registry of a frame's models alone (``Registry.bundled().frame``'s columns)."""
        return cls(_densing._Registry.load((name, frame.to_csv(index=False))))

    @_typed
    def add(self, rows: pd.DataFrame, name: str = "<DataFrame rows>") -> "Registry":
        """A new registry with ``rows`` layered on top: model rows (this
        registry's columns) replace same-named models, score rows (``model,
        benchmark, value`` …) attach to known models. A bad row raises
        :class:`FieldError` naming it (line = row index + 2)."""
        return Registry(self._native.layer(name, rows.to_csv(index=False)))

    @property
    def name(self) -> str:
        """What messages call the registry."""
        return self._native.name

    @property
    def frame(self) -> pd.DataFrame:
        """The models in the bundled models.csv's columns (scores in percent)."""
        return _read_csv(io.StringIO(self._native.wide_csv()))

    def families(self) -> List[str]:
        return self._native.families()

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return f"<densing.Registry {self.name}: {len(self)} models>"


def _cal(
    reference: str = "Qwen2.5",
    basis: str = "nonemb",
    benchmarks: Optional[Iterable[str]] = None,
    bootstrap: int = 1000,
    seed: int = 20241205,
    *,
    min_benchmarks: int = 4,
    include_chat: bool = False,
    ladder: Optional[PathOrFrame] = None,
    anchors: Optional[PathOrFrame] = None,
    form: str = "paper",
    d0: float = 1e12,
    benchmark: Optional[str] = None,
    estimator: str = "censored-quantile",
    quantile: float = 0.9,
    permutations: int = 999,
) -> Dict[str, Any]:
    """The calibration and density options ``run`` and ``density`` share, with
    the CLI flags' defaults (``--min-benchmarks`` → ``min_benchmarks`` …):
    ``basis`` the parameter basis densities are computed against (``total``,
    ``nonemb``, ``active``; ``--basis``);
    ``ladder`` and ``anchors`` (paths or frames) select the paper's two-step
    calibration (loss-law ``form``, read off at ``d0`` tokens; ``benchmark``
    for anchors without a ``task`` column) instead of the ``reference`` family;
    the trend's ``estimator`` (``censored-quantile``, ``quantile``,
    ``envelope``), its ``quantile`` and the ``permutations`` behind its p-value."""
    return {
        "reference": reference,
        "basis": basis,
        "benchmarks": list(ALL_BENCHMARKS if benchmarks is None else benchmarks),
        "min_benchmarks": min_benchmarks,
        "include_chat": include_chat,
        "bootstrap": bootstrap,
        "seed": seed,
        "ladder": _table(ladder, "ladder"),
        "anchors": _table(anchors, "anchors"),
        "form": form,
        "d0": d0,
        "benchmark": benchmark,
        "estimator": estimator,
        "quantile": quantile,
        "permutations": permutations,
    }


def _renamed(fn: str, options: Dict[str, Any], old: str, new: str, value: Any) -> Any:
    """The value of keyword ``new``, or of its deprecated spelling ``old``
    (popped from ``options``, with a :class:`DeprecationWarning` naming the new
    one); both at once is an :class:`OptionError`."""
    if old not in options:
        return value
    given = options.pop(old)
    if value is not None:
        raise OptionError(f"{fn}: give {new}= only ({old}= is its old name)")
    warnings.warn(
        f"{fn}({old}=...) is deprecated: use {new}= (the CLI's names: params the "
        "parameter count, basis the parameter basis)",
        DeprecationWarning,
        stacklevel=4,
    )
    return given


def _native_registry(registry: Union[Registry, str, "os.PathLike[str]", None]) -> Any:
    if registry is None:
        return None
    if isinstance(registry, Registry):
        return registry._native
    return Registry.read(registry)._native


class Study:
    """A finished ``densing.run``: densities, the trend, corollaries, sweep."""

    def __init__(self, native: Any) -> None:
        self._native = native
        self.summary: Dict[str, Any] = json.loads(native.summary_json())
        """Everything ``densing run --json`` prints, as a dict."""

    @property
    def trend(self) -> Dict[str, Any]:
        """The Densing-Law fit ``ln ρ_max = A·t + B`` on the qualifying models:
        slope ``A`` (ln ρ per day) with ``a_ci95``, intercept ``B``, ``doubling_days`` with ``doubling_ci95``, ``r2``,
        the envelope, the band, and any further statistics the library reports."""
        return dict(self.summary["trend"])

    @property
    def densities(self) -> pd.DataFrame:
        """One row per registry model: N, N̂ and ρ with 95% intervals; a censored
        value is a bound (``rho_censor`` = lower_bound / upper_bound), never a
        number; per-benchmark N̂, flags. The columns of densities.csv."""
        frame = _read_csv(io.BytesIO(self.densities_csv()))
        frame["release_date"] = pd.to_datetime(frame["release_date"])
        return frame

    def densities_csv(self) -> bytes:
        """densities.csv exactly as ``densing run`` writes it."""
        return self._native.densities_csv()

    @property
    def sweep(self) -> Optional[pd.DataFrame]:
        """The sensitivity sweep (``sweep=True``), one row per alternative choice."""
        rows = self.summary.get("sweep")
        return None if rows is None else pd.DataFrame(rows)

    @property
    def backtest(self) -> Optional[pd.DataFrame]:
        """The rolling-origin forecast backtest (``sweep=True``)."""
        rows = self.summary.get("backtest")
        return None if rows is None else pd.DataFrame(rows)

    @property
    def warnings(self) -> List[str]:
        return list(self.summary["warnings"])

    def report_input(self) -> Dict[str, Any]:
        """The report's plain-data input (report.json)."""
        return json.loads(self._native.report_input_json())

    def to_html(self, folder: Union[str, "os.PathLike[str]"], format: str = "svg") -> str:
        """Write the HTML report and its figures (``svg``, ``png`` or ``both``)
        into ``folder``, as ``densing run`` does; returns the page's path."""
        written = self._native.write_report(os.fspath(folder), format)
        return os.fspath(written[-1])

    def __repr__(self) -> str:
        t = self.summary
        return (
            f"<densing.Study {t['reference']}: {t['n_models']} models, "
            f"doubling {t['doubling_days']:.0f} days on {t['n_trend']}>"
        )


@_typed
def run(
    registry: Union[Registry, str, "os.PathLike[str]", None] = None,
    reference: str = "Qwen2.5",
    basis: Optional[str] = None,
    benchmarks: Optional[Iterable[str]] = None,
    bootstrap: int = 1000,
    seed: int = 20241205,
    *,
    split_at: Optional[str] = None,
    hardware_doubling_years: float = 2.1,
    prices: Optional[PathOrFrame] = None,
    sweep: bool = False,
    alt_benchmarks: Iterable[str] = ALT_BENCHMARKS,
    scale: Optional[str] = None,
    **options: Any,
) -> Study:
    """The whole analysis, as ``densing run`` with the same options: the
    registry (default: bundled), the reference family, the parameter
    ``basis`` (``total``, ``nonemb`` (default), ``active``; ``params=`` is its
    deprecated old name), benchmarks, bootstrap replicates and
    seed; ``split_at`` (YYYY-MM-DD) for separate trends before and after;
    ``prices`` (path or frame of date, price_per_mtok); ``sweep`` for the
    sensitivity sweep and backtest, which also fits the trend on
    ``alt_benchmarks`` (empty to skip); ``scale``: ``capability`` (the
    default with a reference family) or ``five-benchmark`` (the default with
    a two-step ``ladder``), the other fitted beside it. ``options``: ``min_benchmarks``,
    ``include_chat``, the two-step ``ladder``, ``anchors``, ``form``,
    ``d0``, ``benchmark``, and the trend's ``estimator``, ``quantile`` and
    ``permutations``."""
    basis = _renamed("run", options, "params", "basis", basis)
    native = _densing.run_analysis(
        _native_registry(registry),
        _cal(reference, basis or "nonemb", benchmarks, bootstrap, seed, **options),
        split_at,
        hardware_doubling_years,
        _table(prices, "prices"),
        sweep,
        list(alt_benchmarks),
        scale,
    )
    return Study(native)


@_typed
def density(
    name: str,
    params: Optional[float] = None,
    date: Optional[str] = None,
    scores: Optional[Mapping[str, float]] = None,
    lm_eval: Union[str, "os.PathLike[str]", None] = None,
    *,
    tokens: Optional[float] = None,
    registry: Union[Registry, str, "os.PathLike[str]", None] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Density of your own model (``densing density``): ``params`` the
    parameter count in billions (on the ``basis`` option's basis, default
    ``nonemb``; ``size=`` is its deprecated old name), ``date`` YYYY-MM-DD,
    ``scores`` in percent by benchmark (``{"mmlu": 65.2}``) or ``lm_eval`` an
    lm-evaluation-harness results file; ``tokens`` in trillions. ``options``
    are :func:`run`'s (``reference``, ``basis``, ``bootstrap``, …). Returns the
    model's N̂ and ρ with CI, its rank, and its ratio to the trend line at its
    release."""
    params = _renamed("density", options, "size", "params", params)
    if params is None or date is None:
        raise OptionError("density: params (the parameter count in billions) and date are required")
    if isinstance(params, str):
        raise OptionError(
            f"density: params is the parameter count in billions; the basis {params!r} "
            f"is now basis={params!r}"
        )
    out = _densing.place_model(
        _native_registry(registry),
        _cal(**options),
        name,
        float(params),
        date,
        tokens,
        None if scores is None else {k: float(v) for k, v in scores.items()},
        None if lm_eval is None else os.fspath(lm_eval),
    )
    return json.loads(out)


class Capability:
    """The capability scale (``densing capability``): ``models`` (θ, N̂, ρ with
    95% intervals per model), ``benchmarks`` (slope, difficulty, chance in
    percent), ``predictions`` (the fitted score in percent for every model ×
    benchmark pair, ``observed`` NaN where the registry has none) as pandas
    DataFrames, and ``info`` (the reference line, the fit, excluded models)."""

    def __init__(self, report: Dict[str, Any]) -> None:
        self.info = {k: v for k, v in report.items() if k not in ("models", "benchmarks", "predictions")}
        models = pd.DataFrame(report["models"])
        for col in ("theta", "n_hat", "rho"):
            ci = models.pop(f"{col}_ci95")
            models[f"{col}_lo"] = [c[0] if c else float("nan") for c in ci]
            models[f"{col}_hi"] = [c[1] if c else float("nan") for c in ci]
        self.models = models
        self.benchmarks = pd.DataFrame(report["benchmarks"])
        self.predictions = pd.DataFrame(report["predictions"]).astype({"observed": float})

    def __repr__(self) -> str:
        ref = self.info["reference"]
        return (
            f"<densing.Capability: {len(self.models)} models, {len(self.benchmarks)} benchmarks, "
            f"ruler {ref['family']}>"
        )


@_typed
def capability(
    registry: Union[Registry, str, "os.PathLike[str]", None] = None,
    *,
    reference: str = "Qwen2.5",
    min_benchmarks: int = 2,
    protocols: str = "offset",
    basis: Optional[str] = None,
    bootstrap: int = 1000,
    seed: int = 20241205,
    **renamed: Any,
) -> Capability:
    """One capability per model over every benchmark (``densing capability``):
    θ from ``score = c + (1 − c)·σ(a·(θ − d))`` fitted jointly, read through the
    ``reference`` family's sizes as N̂ and ρ = N̂/N. ``protocols`` is ``offset``,
    ``own-item`` or ``pooled``; ``basis`` ``total``, ``nonemb`` (default) or
    ``active`` (``params=`` is its deprecated old name)."""
    basis = _renamed("capability", renamed, "params", "basis", basis)
    if renamed:
        raise OptionError(f"capability: unexpected options {sorted(renamed)}")
    out = _densing.capability_report(
        _native_registry(registry),
        reference,
        int(min_benchmarks),
        protocols,
        basis or "nonemb",
        int(bootstrap),
        int(seed),
    )
    return Capability(json.loads(out))


def _fit_result(native: Tuple[str, List[str]]) -> Dict[str, Any]:
    """A fit's dict plus ``table``: estimate and 95% CI per parameter, in the
    law's order (NaN CIs without a bootstrap)."""
    text, names = native
    out = json.loads(text)
    ci = out.get("ci95") or {}
    nan = [float("nan")] * 2
    out["table"] = pd.DataFrame(
        {
            "param": names,
            "estimate": [out["params"][p] for p in names],
            "ci95_lo": [ci.get(p, nan)[0] for p in names],
            "ci95_hi": [ci.get(p, nan)[1] for p in names],
        }
    )
    return out


@_typed
def fit_loss(
    data: PathOrFrame,
    form: str = "paper",
    *,
    drop_highest: int = 0,
    delta: float = 1e-3,
    bootstrap: int = 0,
    seed: int = 1,
) -> Dict[str, Any]:
    """Fit the loss law (``densing fit loss``) on a ladder: a path or a frame with
    columns params, tokens, loss (optional run, task). ``form``: ``paper``
    (a·N^-α + b·D^-β) or ``chinchilla`` (E + A·N^-α + B·D^-β). Returns the
    library's report plus ``table``: a frame of estimates and bootstrap CIs."""
    return _fit_result(
        _densing.fit_loss(_table(data, "ladder"), form, drop_highest, delta, bootstrap, seed)
    )


@_typed
def fit_score(
    data: PathOrFrame,
    *,
    bootstrap: int = 0,
    seed: int = 1,
) -> Dict[str, Any]:
    """Fit the score map S = c/(1+e^{-γ(L-l)}) + d (``densing fit score``) on
    anchors: a path or a frame with columns loss, score (optional model, task,
    heldout). Same return shape as :func:`fit_loss`."""
    return _fit_result(_densing.fit_score(_table(data, "anchors"), bootstrap, seed))


Targets = Union[Mapping[str, Tuple[float, float]], Iterable[str]]


class Prediction:
    """The result of :func:`predict`: frames plus the ``densing predict --json``
    document.

    ``predictions``: one row per (target, task): loss and score with 95%
    intervals (``true_loss``/``true_score`` for backtest targets), as
    ``predictions.csv``. ``fits``: one row per task, the step-1 law and step-2
    map parameters with their errors. ``backtest``: the held-out rows, or None.
    """

    def __init__(self, doc: Dict[str, Any], predictions_csv: str) -> None:
        self.json = doc
        self.predictions = _read_csv(io.StringIO(predictions_csv))
        self.fits = pd.DataFrame(
            [
                {
                    "task": task,
                    "runs": len(f["runs"]),
                    **{k: f["loss_law"][k] for k in ("E", "A", "B", "alpha", "beta")},
                    "step1_mean_abs_rel_error": f["step1_mean_abs_rel_error"],
                    **{k: f["score_map"][k] for k in ("c", "gamma", "l", "d")},
                    "step2_rmse": f["step2_rmse"],
                    "failed_replicates": f["failed_replicates"],
                }
                for task, f in doc["fits"].items()
            ]
        )
        bt = doc.get("backtest")
        self.backtest = None if bt is None else pd.json_normalize(bt["rows"])

    @property
    def ladder(self) -> str:
        """The ladder's name and how many of its runs were fitted."""
        return self.json["ladder"]

    def __repr__(self) -> str:
        return f"<densing.Prediction: {len(self.predictions)} predictions from {self.ladder}>"


def _targets(targets: Optional[Targets]) -> List[str]:
    if targets is None:
        return []
    if isinstance(targets, Mapping):
        return [f"{name}={n!r}:{d!r}" for name, (n, d) in targets.items()]
    if isinstance(targets, str):
        return [targets]
    return list(targets)


@_typed
def predict(
    targets: Optional[Targets] = None,
    ladder: Optional[PathOrFrame] = None,
    *,
    tasks: Iterable[str] = (),
    runs: Iterable[str] = ("*",),
    exclude: Iterable[str] = (),
    final_window: int = 5,
    skip: float = 0.1,
    smooth: int = 5,
    bootstrap: int = 1000,
    seed: int = 20241205,
    backtest: Optional[str] = None,
) -> Prediction:
    """Predict untrained models' loss and score per task from a ladder of runs
    (``densing predict`` with the same options and numbers). ``targets``: a dict
    ``{name: (params, tokens)}`` or ``NAME=N:D`` strings; ``ladder``: a path or a
    frame with columns run, params, tokens, task, loss, score (default: the
    bundled OLMo-2 ladder); ``backtest="largest"`` fits the smaller sizes and
    predicts the largest size's runs."""
    if backtest not in (None, "largest"):
        raise OptionError(f"backtest must be None or 'largest', got {backtest!r}")
    doc, csv_text = _densing.predict_ladder(
        _table(ladder, "ladder"),
        _targets(targets),
        list(tasks),
        list(runs),
        list(exclude),
        final_window,
        skip,
        smooth,
        bootstrap,
        seed,
        backtest == "largest",
    )
    return Prediction(json.loads(doc), csv_text)
