"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on loopback: the home
server the tests and the fault suite run the daemon's `llm.engine: openai` against."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


class LlamaServer:
    """llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`) on a GGUF."""

    def __init__(
        self,
        gguf: Path,
        port: int,
        api_key: str = "",
        tls: tuple[Path, Path] | None = None,
        interrupt: bool = False,
    ):
        """`interrupt`: llama_cpp.server's own default (--interrupt_requests true), where any new request
        (another device's reply, a health check) ends the stream in flight with [DONE]. The README tells
        owners to turn it off; the tests run both."""
        self.gguf, self.port, self.api_key, self.tls = gguf, port, api_key, tls
        self.interrupt = interrupt
        self.proc: subprocess.Popen[bytes] | None = None
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{port}/v1"

    def start(self, timeout_s: float = 120) -> LlamaServer:
        if importlib.util.find_spec("llama_cpp") is None:
            raise RuntimeError("llama-cpp-python[server] is not installed: run make test (the test extra)")
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.gguf), "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--n_ctx", "2048", "--n_threads", "1", "--verbose", "false"]
        cmd += ["--interrupt_requests", "true" if self.interrupt else "false"]
        if self.api_key:
            cmd += ["--api_key", self.api_key]
        if self.tls:
            cmd += ["--ssl_certfile", str(self.tls[0]), "--ssl_keyfile", str(self.tls[1])]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"llama_cpp.server exited {self.proc.returncode}: {err[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.2)
        raise RuntimeError(f"llama_cpp.server did not listen on {self.port} within {timeout_s} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
