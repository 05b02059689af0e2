"""The live daemon as the reliability suite drives it: `os1 run --audio-device jack` on a private JACK
server (the dummy driver keeps the real-time pace with no sound card), systemd's notify socket read
as systemd reads it, typed turns over the control socket, and speech played into its microphone
port by a JACK client of our own. Nothing here reaches inside the daemon: what it sees is what an
owner, systemd and the sound server see."""

from __future__ import annotations

import ast
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.app import control

REPO = Path(__file__).resolve().parents[3]
RATE = 48000
# A fresh owner (no first meeting to take the requests as its answers), woken by "hey jarvis".
FRESH_OWNER = """\
persona:
  name: Samantha
  onboarding: false
wake:
  engine: openwakeword
"""
LONG_REQUEST = "Tell me a long story about a dragon who lives in a castle by the sea."


def exit_on_sigterm() -> None:
    """A SIGTERM to the suite unwinds it like Ctrl-C: its daemon stopped, then its jackd (a jackd left
    behind holds a slot of the JACK registry)."""

    def on_term(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


class JackServer:
    """A jackd of our own, named for this process. Stopped only once it has dropped every client of a
    killed daemon: stopped before, jackd dies of SIGPIPE without freeing its slot in
    /dev/shm/jack-shm-registry, which has 8 (after 8 such leaks no JACK server starts until a reboot)."""

    def __init__(self, tag: str = "rel"):
        self.name = f"os1{tag}{os.getpid()}"
        self.env = {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}
        self._launch()

    def _launch(self) -> None:
        self.proc = subprocess.Popen(
            ["jackd", "-n", self.name, "--no-realtime", "-d", "dummy", "-r", str(RATE), "-p", "480"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while self.ports() is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("jackd did not start; fix: sudo apt install jackd2 (make apt)")
            time.sleep(0.1)

    def ports(self) -> list[str] | None:
        r = subprocess.run(
            ["jack_lsp"], capture_output=True, text=True, env={**os.environ, **self.env}, timeout=10
        )
        return r.stdout.split() if r.returncode == 0 and "system:" in r.stdout else None

    def forget_clients(self, timeout_s: float = 15) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(p.startswith("system:") for p in self.ports() or []):
                return True
            time.sleep(0.1)
        return False

    def die(self) -> None:
        """The sound server goes with its clients still on it, as a crashed or restarted one does. A
        SIGTERM, not a SIGKILL: jackd then frees its registry slot (the clients are told it shut down)."""
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def start_again(self) -> None:
        """The same server (same name) back, as systemd or the owner starts it again."""
        self._launch()

    def stop(self) -> None:
        self.forget_clients()
        time.sleep(0.5)
        self.proc.terminate()
        self.proc.wait(timeout=10)


@dataclass
class Notify:
    """systemd's side of the notify socket: every message, with the time it came."""

    path: Path
    messages: list[tuple[float, str]] = field(default_factory=list)
    """(monotonic time, message) in the order they came."""

    def __post_init__(self) -> None:
        self.path.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="notify-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096).decode(errors="replace")
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data))

    def seen(self, line: str, since: float = 0.0) -> bool:
        return any(t >= since and line in m.splitlines() for t, m in list(self.messages))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()
        self.path.unlink(missing_ok=True)


class LiveDaemon:
    """One `os1 run` after another on the same home (config, state dir, runtime dir): a restart."""

    def __init__(
        self, home: Path, jack: JackServer, config_text: str, models_dir: str = "", cgroup: Path | None = None
    ):
        self.home, self.jack = Path(home), jack
        self.cgroup = cgroup
        """A cgroup dir each daemon starts in (the slow board's CPU quota)."""
        self.config, self.state = self.home / "config.yaml", self.home / "state"
        self.config.write_text(config_text)
        self.runtime = self.home / "run"
        self.env = {
            **os.environ,
            **jack.env,
            "OS1_CONFIG": str(self.config),
            "OS1_STATE_DIR": str(self.state),
            "OS1_RUNTIME_DIR": str(self.runtime),
            "NOTIFY_SOCKET": str(self.home / "notify.sock"),
            "WATCHDOG_USEC": "2000000",
            "HF_HUB_OFFLINE": "1",
        }
        if models_dir:
            self.env["OS1_MODELS_DIR"] = models_dir
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.notify: Notify | None = None

    @property
    def log(self) -> Path:
        return self.home / f"daemon-{self.starts}.log"

    def start_only(self) -> None:
        """Start it and return at once (a start that is meant to fail)."""
        if self.notify is not None:
            self.notify.close()
        self.notify = Notify(self.home / "notify.sock")
        self.starts += 1
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "device.cli", "run", "--audio-device", "jack"],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=self.env,
                cwd=REPO,
                preexec_fn=self._join_cgroup if self.cgroup is not None else None,
            )

    def _join_cgroup(self) -> None:
        """In the child, before exec: the daemon is held to the quota from its first instruction."""
        (self.cgroup / "cgroup.procs").write_text(str(os.getpid()))  # type: ignore[operator]

    def start(self, ready_timeout_s: float = 120) -> float:
        """Start it and wait for READY=1; the seconds that took. RuntimeError if it died first."""
        t0 = time.monotonic()
        self.start_only()
        assert self.proc is not None and self.notify is not None
        while not self.notify.seen("READY=1"):
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited {self.proc.returncode}: {self.tail()}")
            if time.monotonic() - t0 > ready_timeout_s:
                raise RuntimeError(f"no READY=1 within {ready_timeout_s:.0f} s: {self.tail()}")
            time.sleep(0.05)
        return time.monotonic() - t0

    def tail(self, chars: int = 1500) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def ask(self, text: str, timeout_s: float = 90) -> dict[str, Any]:
        """A typed turn of the running companion: its turn, once the reply is whole."""
        path = self.runtime / control.SOCKET_NAME
        for reply in control.request_stream(path, {"cmd": "ask", "text": text, "speak": False}, timeout_s):
            if reply.get("done"):
                return dict(reply.get("turn") or {})
        raise control.ControlError("no turn")

    def os1(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "device.cli", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=REPO,
            timeout=timeout_s,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.notify is not None:
            self.notify.close()
            self.notify = None
        return self.proc.returncode


class Mouth:
    """A JACK client whose output is wired to every microphone port of the daemon (what it plays the
    daemon hears, at the server's real-time pace), and whose input hears every earpiece port of the
    daemon: the reply is timed on the same JACK clock as the speech, as blackbox-gap times it."""

    LOUD = 0.01  # -40 dBFS: blackbox-gap's threshold for the first reply sound

    def __init__(self, jack: JackServer):
        os.environ.update(jack.env)  # the jack library reads the server name from the environment
        import jack as jack_client

        self._client = jack_client.Client("os1-mouth", no_start_server=True)
        self._port = self._client.outports.register("out")
        self._ear = self._client.inports.register("ear")
        self._lock = threading.Lock()
        self._queue = np.zeros(0, np.float32)
        self._tail = 0  # frames of quiet at the end of the last speech queued
        self.said_end: int | None = None
        """The JACK frame at which the last queued speech ended (its last loud sample, as blackbox-gap
        times it: not the quiet after it)."""
        self.first_loud: int | None = None
        """The first loud frame the earpiece played since `said_end` (None: nothing yet)."""
        self.last_loud: int | None = None
        """The last loud frame the earpiece played."""
        self._client.set_process_callback(self._process)
        self._client.activate()

    def _process(self, frames: int) -> None:
        t0 = self._client.last_frame_time
        out = self._port.get_array()
        out[:] = 0
        with self._lock:
            k = min(frames, len(self._queue))
            out[:k] = self._queue[:k]
            self._queue = self._queue[k:]
            if k and not len(self._queue):  # the speech ended before its trailing quiet
                self.said_end, self.first_loud = t0 + k - self._tail, None
        loud = np.flatnonzero(np.abs(self._ear.get_array()) > self.LOUD)
        if len(loud):
            self.last_loud = t0 + int(loud[-1])
            if self.first_loud is None and self.said_end is not None and t0 + loud[0] >= self.said_end:
                self.first_loud = t0 + int(loud[0])

    def now(self) -> int:
        """The JACK frame clock."""
        return int(self._client.frame_time)

    def gap_s(self) -> float | None:
        """From the end of the last speech to the first reply sound after it, on the JACK clock."""
        if self.said_end is None or self.first_loud is None:
            return None
        return (self.first_loud - self.said_end) / RATE

    def wire(self) -> bool:
        """Connect to the daemon's capture ports (a new daemon has new ones); False if none yet."""
        ports = [
            p
            for p in self._client.get_ports(is_audio=True, is_input=True)
            if not p.name.startswith(("system:", "os1-mouth:"))
        ]
        for p in ports:
            if self._port not in self._client.get_all_connections(p):
                self._client.connect(self._port, p)
        for p in self._client.get_ports(is_audio=True, is_output=True):
            if not p.name.startswith(("system:", "os1-mouth:")) and p not in self._client.get_all_connections(
                self._ear
            ):
                self._client.connect(p, self._ear)
        return bool(ports)

    def say(self, audio_16k: np.ndarray) -> float:
        """Queue 16 kHz speech, int16 as device.evals.speech makes it (resampled to the server's rate
        and scaled to JACK's float range); the seconds it lasts."""
        audio_16k = audio_16k.astype(np.float32) / (32768.0 if audio_16k.dtype == np.int16 else 1.0)
        t = np.arange(int(len(audio_16k) * RATE / 16000)) * 16000 / RATE
        up = np.interp(t, np.arange(len(audio_16k)), audio_16k).astype(np.float32)
        loud = np.flatnonzero(np.abs(up) > self.LOUD)
        with self._lock:
            self._queue = np.concatenate([self._queue, up])
            self._tail = len(up) - (int(loud[-1]) + 1 if len(loud) else 0)
        return len(up) / RATE

    def hush(self) -> None:
        """Drop what is still queued (speech cut short by a kill must not reach the next daemon)."""
        with self._lock:
            self._queue = np.zeros(0, np.float32)

    def close(self) -> None:
        self._client.deactivate()
        self._client.close()


def parse_turn(line: str) -> dict[str, Any]:
    """The timings (ms), tts_rtf, interrupted, heard and reply of a daemon `turn ...` log line."""
    out: dict[str, Any] = {k: float(v) for k, v in re.findall(r" (\w+)=(\d+)ms", line)}
    if m := re.search(r" tts_rtf=([\d.]+)", line):
        out["tts_rtf"] = float(m.group(1))
    out["interrupted"] = (re.search(r" interrupted=(\S+)", line) or [None, "-"])[1]
    m = re.search(rf"heard=({_REPR}) reply=({_REPR}) ", line)
    out["heard"], out["reply"] = (ast.literal_eval(m[1]), ast.literal_eval(m[2])) if m else ("", "")
    return out


# A Python repr of a string, as the turn line quotes heard= and reply= (escapes and all).
_REPR = r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\""
