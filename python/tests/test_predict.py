"""densing.predict: the CLI's `densing predict` numbers, as DataFrames."""

import json

import pandas as pd
import pytest

import densing

TARGET = "OLMo-2-7B=6887575552:3945065873408"


def test_predict_matches_the_cli_bit_for_bit(cli):
    p = densing.predict([TARGET], tasks=["hellaswag_val", "piqa_val"], bootstrap=40, seed=3)
    doc = json.loads(
        cli("predict", "--target", TARGET, "--task", "hellaswag_val", "--task", "piqa_val",
            "--bootstrap", "40", "--seed", "3", "--json")
    )
    assert p.json == doc
    assert list(p.predictions.task) == ["hellaswag_val", "piqa_val"]
    row = p.predictions.iloc[0]
    cli_row = doc["predictions"][0]
    assert row.score == cli_row["score"]
    assert [row.score_lo95, row.score_hi95] == cli_row["score_ci95"]
    assert row.score_lo95 <= row.score <= row.score_hi95
    assert pd.isna(row.true_score)
    assert list(p.fits.task) == ["hellaswag_val", "piqa_val"]
    assert (p.fits.runs == 25).all()
    assert p.backtest is None
    assert "25 of 25 runs" in p.ladder


def test_targets_as_a_dict_and_a_frame_ladder(root):
    ladder = pd.read_csv(root / "data/olmo_ladder/checkpoints.csv", comment="#")
    a = densing.predict({"7B": (6887575552, 3945065873408)}, tasks=["piqa_val"], bootstrap=10)
    b = densing.predict(["7B=6887575552:3945065873408"], ladder, tasks=["piqa_val"], bootstrap=10)
    assert a.predictions.score.tolist() == b.predictions.score.tolist()
    assert b.ladder.startswith("<DataFrame ladder>")


def test_backtest_has_the_true_values():
    p = densing.predict(backtest="largest", tasks=["arc_easy_test"], bootstrap=10)
    assert len(p.backtest) == 5
    assert p.predictions.true_score.notna().all()
    assert "loss_abs_error" in p.backtest.columns


def test_bad_predict_input_raises_option_errors():
    with pytest.raises(densing.OptionError, match="nothing to predict"):
        densing.predict()
    with pytest.raises(densing.OptionError, match="field `N`"):
        densing.predict(["7B=abc:1e12"])
    with pytest.raises(densing.OptionError, match="backtest"):
        densing.predict(["7B=1e9:1e12"], backtest="smallest")


def test_the_package_under_test_is_the_installed_wheel():
    """scripts/test.sh sets DENSING_WHEEL_TEST: then the package must come from
    the wheel in site-packages, with no Rust toolchain on PATH."""
    import os
    import shutil

    if os.environ.get("DENSING_WHEEL_TEST") != "1":
        pytest.skip("not the wheel run (scripts/test.sh sets DENSING_WHEEL_TEST=1)")
    assert "site-packages" in densing.__file__, densing.__file__
    assert shutil.which("cargo") is None and shutil.which("rustc") is None
