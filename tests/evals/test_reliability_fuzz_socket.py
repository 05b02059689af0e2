"""The control-socket fuzzer (`os1 eval reliability fuzz-socket`): a short run against the live daemon
(the 2000-case run is the eval's), and the bugs it found, pinned on an in-process server."""

from __future__ import annotations

import argparse
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

from device.app import control
from device.evals.reliability import fuzz_socket
from device.evals.reliability.socket_junk import check_lines


class NoHandler:
    """A handler that must never be reached by a bad request."""

    calls: list[str]

    def __init__(self) -> None:
        self.calls = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        raise AssertionError(f"{name} reached")


@pytest.mark.parametrize(
    "line",
    [
        b"[" * 5000 + b"]" * 5000 + b"\n",  # RecursionError escaped the parser
        b'{"cmd": "status", "n": ' + b"1" * 5000 + b"}\n",  # ValueError: over 4300 digits
        b'{"cmd": "ask", "text": "What time is it?", "speak": "no"}\n',  # bool("no") spoke
    ],
)
def test_junk_the_fuzzer_found_gets_a_one_line_error(tmp_path: Path, line: bytes) -> None:
    handler = NoHandler()
    with control.ControlServer(tmp_path / "c.sock", handler) as srv:  # type: ignore[arg-type]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(srv.path))
            s.sendall(line)
            raw = s.makefile("rb").readline()
    assert raw.startswith(b'{"ok": false'), raw
    assert check_lines(line, raw) is None
    assert handler.calls == []


@pytest.mark.system
@pytest.mark.models
@pytest.mark.skipif(shutil.which("jackd") is None, reason="needs jackd2 (make apt installs it)")
def test_a_short_fuzz_of_the_live_socket_breaks_nothing(tmp_path: Path) -> None:
    args = fuzz_socket.parse_args(["--cases", "120", "--seed", "2"])
    result = fuzz_socket.run(argparse.Namespace(**{**vars(args), "models_dir": ""}), tmp_path)
    assert result["problems"] == []
    assert set(result["cases"]) == {"binary", "burst", "close", "hold", "huge", "json", "slow"}
    assert result["max_watchdog_gap_s"] <= fuzz_socket.MAX_GAP_S
    assert result["replies_checked"] >= 150
