"""Shared fixtures. Tests keep out of the user's state dir and the user's models dir: they have a models
dir of their own, kept between runs so the converted LLM (~117 MB, ~1 min to make) is reused. `make test`
converts the starter LLM into it before pytest starts; a test that converts anything else converts it
into a temp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _test_models_dir() -> Path:
    """$OS1_TEST_MODELS_DIR, else os1-test-models in the venv running pytest (the Makefile's
    $(VENV)/os1-test-models), else in the repo's .venv. Never ~/.local/share/os1/models."""
    if env := os.environ.get("OS1_TEST_MODELS_DIR"):
        return Path(env).resolve()
    venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else REPO / ".venv"
    return venv.resolve() / "os1-test-models"


TEST_MODELS_DIR = _test_models_dir()


def pytest_report_header() -> str:
    llm = TEST_MODELS_DIR / "smollm2-135m-instruct-int4"
    state = "the starter LLM is converted" if llm.is_dir() else "no starter LLM yet: make test-models"
    return f"models: {TEST_MODELS_DIR} ({state})"


@pytest.fixture(scope="session", autouse=True)
def _test_models() -> Iterator[Path]:
    """OS1_MODELS_DIR for the whole session, before any module's engines load (and for every `os1` the
    tests start): the tests' own models dir, whatever the user's environment says."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OS1_MODELS_DIR", str(TEST_MODELS_DIR))
        yield TEST_MODELS_DIR


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OS1_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("OS1_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


def run_os1(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `os1` command as a user would (`stdin`: what they type)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=timeout,
        input=stdin,
    )
