"""densing.capability against the CLI: the same JSON as `densing capability
--json`, frames with one row per model, benchmark and model × benchmark pair,
and bad options as exceptions."""

import json
import math

import pytest

import densing


@pytest.fixture(scope="module")
def cap():
    return densing.capability(bootstrap=100, seed=3)


def test_capability_matches_the_cli(cap, cli):
    printed = json.loads(cli("capability", "--json", "--bootstrap", "100", "--seed", "3"))
    assert list(cap.models["model"]) == [m["model"] for m in printed["models"]]
    assert list(cap.models["rho"]) == [m["rho"] for m in printed["models"]]
    assert list(cap.models["rho_lo"]) == [m["rho_ci95"][0] for m in printed["models"]]
    assert cap.info["reference"] == printed["reference"]


def test_frames_cover_every_model_and_benchmark(cap):
    assert {"model", "theta", "theta_lo", "theta_hi", "n_hat_b", "rho", "rho_lo", "rho_hi",
            "n_benchmarks"} <= set(cap.models.columns)
    assert {"name", "slope", "difficulty", "chance"} <= set(cap.benchmarks.columns)
    assert len(cap.predictions) == len(cap.models) * len(cap.benchmarks)
    missing = cap.predictions["observed"].isna()
    assert missing.any() and (~missing).any()
    assert (cap.models["rho_lo"] <= cap.models["rho"] * 1.5).all()
    q72 = cap.models.set_index("model").loc["Qwen2.5-72B"]
    assert abs(math.log(q72["rho"])) < 0.7


def test_bad_options_raise():
    with pytest.raises(densing.OptionError, match="need ≥ 4"):
        densing.capability(reference="Phi", bootstrap=0)
    with pytest.raises(densing.OptionError, match="protocols"):
        densing.capability(protocols="mixed", bootstrap=0)
