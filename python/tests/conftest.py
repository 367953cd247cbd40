"""Shared fixtures: the repository root and the `densing` binary built by
`cargo build --release` (the CLI side of every equality test)."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def root() -> pathlib.Path:
    return ROOT


@pytest.fixture(scope="session")
def cli():
    """Run the CLI; fails loudly when the binary is missing (never skips)."""
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    exe = pathlib.Path(os.environ.get("DENSING_BIN", target / "release" / "densing"))
    assert exe.exists(), f"{exe} missing: run `cargo build --release -p densing` first"

    def call(*args: str) -> str:
        done = subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return call
