"""The fault suite (`os1 eval reliability faults`) in the test suite, whole: the live daemon on a full
disk and on a read-only state dir for every kind of write, a corrupt and a missing model at start, a
voice that is not installed set on the running daemon, the camera failing mid-capture, the home
server's LLM and voice killed mid-reply, the sound server stopping under the daemon and starting again,
and SIGTERM and SIGHUP during a reply."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from device.evals.reliability import faults

pytestmark = [
    pytest.mark.system,
    pytest.mark.models,
    pytest.mark.skipif(shutil.which("jackd") is None, reason="needs jackd2 (make apt installs it)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs as the state dir needs root"),
]


def test_each_fault_is_met_as_the_owner_would_want_and_nothing_is_lost(tmp_path: Path) -> None:
    args = faults.parse_args(["--models-dir", os.environ.get("OS1_MODELS_DIR", "")])
    try:
        outcomes = faults.run(args, tmp_path)
    finally:
        for state in tmp_path.glob("*/state"):
            subprocess.run(["umount", "-l", str(state)], capture_output=True, check=False)
    assert {o.fault for o in outcomes} == {
        "full-disk",
        "read-only",
        "model-start",
        "model-reload",
        "camera",
        "llm-mid-stream",
        "tts-mid-stream",
        "sound-server",
        "sigterm",
        "sighup",
    }
    failed = {o.fault: o.observed for o in outcomes if not o.ok}
    assert not failed, failed
