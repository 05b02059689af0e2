"""Radicale, a real CalDAV and CardDAV server, on loopback over TLS with a certificate signed by
itself (a home server's, which the client pins): for the calendar tests and `os1 eval calendar`."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(
    proc: subprocess.Popen[bytes], port: int, name: str, timeout_s: float, log: Path | None = None
) -> None:
    """Until the server started as `proc` accepts connections on loopback `port`; RuntimeError with its
    stderr (and its `log` file) if it exits first or is not listening within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            logged = log.read_text()[-1500:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{name} exited {proc.returncode}: {err[-2000:]} {logged}".strip())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not listen on {port} within {timeout_s} s")


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (a home server's), with its key."""
    cert, key = tmp / "server.crt", tmp / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class RadicaleServer:
    """Radicale (CalDAV and CardDAV) on loopback over TLS with a self-signed certificate (a home
    server's: the client pins it), one user from a plain htpasswd file, its storage in `folder`."""

    def __init__(self, folder: Path, user: str = "sam", password: str = "river-house", tls: bool = True):
        if importlib.util.find_spec("radicale") is None:
            raise RuntimeError("radicale is not installed: run make test (it installs the test extra)")
        self.folder, self.user, self.password, self.tls = folder, user, password, tls
        self.port = free_port()
        self.cert: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/"

    def start(self, timeout_s: float = 30) -> RadicaleServer:
        users = self.folder / "users"
        users.write_text(f"{self.user}:{self.password}\n")
        ssl = ""
        if self.tls:
            self.cert, key = self_signed(self.folder)
            ssl = f"ssl = True\ncertificate = {self.cert}\nkey = {key}\n"
        config = self.folder / "radicale.conf"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n{ssl}"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\nhtpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {self.folder / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        wait_listening(self.proc, self.port, "radicale", timeout_s)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> RadicaleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
