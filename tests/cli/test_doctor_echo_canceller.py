"""A missing libspeexdsp is visible: `os1 doctor` says so with the fix, and so does the daemon's log
when it turns the canceller off. "Missing" is made by pointing the loader at a library that does not
exist, in the process under test, so the real loader fails the way it would on a machine without it."""

from __future__ import annotations

import ctypes.util
import logging
import os
import subprocess
import sys

import pytest

from device.app.engines import build_aec
from device.pipeline.aec import SpeexEchoCanceller
from tests.conftest import REPO, run_os1

pytestmark = pytest.mark.models

FIX = "sudo apt install libspeexdsp1"
_MISSING = "/nonexistent/libspeexdsp.so.1"


def _doctor_line(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if "echo canceller" in line]
    assert len(lines) == 1, stdout
    return lines[0]


def test_doctor_says_ok_when_the_library_loads() -> None:
    r = run_os1("doctor")
    assert _doctor_line(r.stdout).startswith("OK   echo canceller: libspeexdsp"), r.stdout + r.stderr


def test_doctor_warns_with_the_fix_when_the_library_is_missing() -> None:
    # `os1 doctor` itself, in a process whose loader cannot find libspeexdsp.
    code = (
        "import ctypes.util, runpy, sys\n"
        f"ctypes.util.find_library = lambda name: {_MISSING!r}\n"
        "sys.argv = ['os1', 'doctor']\n"
        "runpy.run_module('device.cli', run_name='__main__')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=os.environ, timeout=120
    )
    line = _doctor_line(r.stdout)
    assert line.startswith("WARN echo canceller: libspeexdsp is missing"), r.stdout + r.stderr
    assert line.endswith(f"-> fix: {FIX}")
    assert "Traceback" not in r.stderr


def test_build_aec_names_the_fix_when_it_turns_the_canceller_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert isinstance(build_aec(True), SpeexEchoCanceller)  # the library is there on this machine
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: _MISSING)
    with caplog.at_level(logging.WARNING):
        assert build_aec(True) is None
    [record] = [r for r in caplog.records if "libspeexdsp" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert "install libspeexdsp1" in record.getMessage() and "sudo apt" in record.getMessage()
    assert "echo gating only" in record.getMessage()
