"""Where the control socket lives: the service's /run/os1, else the user's runtime dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device.config import paths


@pytest.fixture(autouse=True)
def _clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OS1_RUNTIME_DIR", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(paths, "SYSTEM_RUNTIME_DIR", tmp_path / "run-os1")  # not there: service stopped


def test_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert paths.runtime_dir() == Path(f"/tmp/os1-{os.getuid()}")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert paths.runtime_dir() == Path("/run/user/1000/os1")
    (tmp_path / "run-os1").mkdir()  # the service is running: a client over SSH finds its socket
    assert paths.runtime_dir() == tmp_path / "run-os1"
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/os1-test:/run/other")  # set by RuntimeDirectory=
    assert paths.runtime_dir() == Path("/run/os1-test")
    monkeypatch.setenv("OS1_RUNTIME_DIR", str(tmp_path / "mine"))
    assert paths.runtime_dir() == tmp_path / "mine"
