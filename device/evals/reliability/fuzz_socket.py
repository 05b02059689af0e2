"""`os1 eval reliability fuzz-socket`: the live daemon's control socket under abuse. Random JSON (known
and unknown commands, fields of the wrong type, nesting and numbers past the parser's limits), binary
garbage, 10 MB lines, clients that send half a line and hold on, clients that send a byte every 100 ms,
clients that close mid-request or mid-reply, and bursts of 100 connections at once.

    os1 eval reliability fuzz-socket [--cases 2000] [--seed 1] [--out DIR] [--models-dir DIR]

Each line gets one JSON reply, an error in one line unless the request was good; the daemon stays up
and still answers `status` and a typed "What time is it?" with the time; its open fds and threads come
back to what they were; and the watchdog pings (WATCHDOG=1, about one a second) never stop for 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from device.app import control
from device.evals.reliability import write_report
from device.evals.reliability.crashes import CONFIG
from device.evals.reliability.live import JackServer, LiveDaemon, exit_on_sigterm
from device.evals.reliability.socket_junk import MAX, Junk, check_lines, reply_problem
from device.intents.clock import say_time, system_now

HOLD_LIMIT_S = control.CONNECTION_TIMEOUT_S + 3.0  # a half line is dropped after the timeout, not never
MAX_GAP_S = 3.0


# ------------------------------------------------------------------------------------ the wire
def connect(path: Path, timeout_s: float = 10.0) -> socket.socket:
    """A raw connection, waiting while the listen backlog is full (a Unix socket with a timeout says
    EAGAIN then)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout_s)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            s.connect(str(path))
            return s
        except BlockingIOError:
            if time.monotonic() > deadline:
                s.close()
                raise TimeoutError("the backlog stayed full") from None
            time.sleep(0.01)


def read_all(s: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


# ------------------------------------------------------------------------------------ the clients
class Abuse:
    """The kinds of abuse, each one client; `problems` collects what broke, `figures` what was seen."""

    def __init__(self, path: Path, pid: int, junk: Junk):
        self.path, self.pid, self.junk = path, pid, junk
        self.problems: list[str] = []
        self.figures: dict[str, list[float]] = {
            "hold_dropped_s": [],
            "slow_s": [],
            "burst_s": [],
            "turn_s": [],
        }
        self.replies = 0
        self._lock = threading.Lock()

    def fail(self, kind: str, problem: str | None) -> None:
        if problem:
            with self._lock:
                self.problems.append(f"{kind}: {problem}")

    def json(self) -> None:
        """Random lines, one to five on a connection; each read back before the next."""
        lines = [self.junk.line() for _ in range(self.junk.rng.choice([1, 1, 1, 2, 5]))]
        with connect(self.path) as s:
            f = s.makefile("rb")
            for line in lines:
                s.sendall(line)
                t0 = time.monotonic()
                s.settimeout(120)
                raw = f.readline()
                while raw and not self._last_reply(raw):
                    raw = f.readline()  # an ask's pieces, then its turn
                if b'"done": true' in raw:
                    self.figures["turn_s"].append(time.monotonic() - t0)
                self.replies += bool(raw)
                self.fail("json", check_lines(line, raw))
                if not raw:
                    return

    @staticmethod
    def _last_reply(raw: bytes) -> bool:
        try:
            reply = json.loads(raw)
        except ValueError:
            return True
        return not isinstance(reply, dict) or not reply.get("ok") or "piece" not in reply

    def binary(self) -> None:
        """Garbage, half-closed: a reply per line (an empty one too) up to the first line too large."""
        data = self.junk.garbage()
        parts = data.split(b"\n")
        lines = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        big = next((i for i, line in enumerate(lines) if len(line) > MAX), None)
        want = len(lines) if big is None else big + 1
        with connect(self.path, 30) as s:
            try:
                s.sendall(data)
                s.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass  # dropped after the line too large: the reply is read below
            replies = read_all(s).splitlines(keepends=True)
        self.replies += len(replies)
        if len(replies) != want:
            self.fail("binary", f"{len(replies)} replies to {want} lines ({len(data)} bytes)")
        for raw in replies:
            problem = reply_problem(raw)
            if problem is None and json.loads(raw)["ok"]:
                problem = f"garbage accepted: {raw[:80]!r}"
            self.fail("binary", problem)

    def huge(self) -> None:
        """One line at, just over or far over the limit, up to 10 MB, sent while the reply is read."""
        size = self.junk.rng.choice([MAX - 1, MAX, MAX + 1, 1 << 20, 10 << 20])
        head = b'{"cmd": "say", "text": "' if self.junk.rng.random() < 0.5 else b""
        line = head + b"a" * (size - len(head) - 3) + b'"}\n' if head else b"a" * (size - 1) + b"\n"
        with connect(self.path, 30) as s:

            def send() -> None:
                try:
                    s.sendall(line)
                except OSError:
                    pass  # the daemon stopped reading after the limit: as it should

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            raw = s.makefile("rb").readline()
            sender.join(30)
        self.replies += bool(raw)
        self.fail("huge", check_lines(line, raw))

    def hold(self) -> None:
        """Half a line, then silence: dropped after the connection timeout, not held for ever."""
        with connect(self.path) as s:
            s.sendall(b'{"cmd": "sta')
            s.settimeout(HOLD_LIMIT_S + 5)
            t0 = time.monotonic()
            try:
                data = read_all(s)
            except TimeoutError:
                self.fail("hold", f"still connected after {HOLD_LIMIT_S + 5:.0f} s")
                return
            took = time.monotonic() - t0
        self.figures["hold_dropped_s"].append(took)
        if data:
            self.fail("hold", f"a reply to half a line: {data[:80]!r}")
        if took > HOLD_LIMIT_S:
            self.fail("hold", f"dropped only after {took:.1f} s")

    def slow(self) -> None:
        """A byte every 100 ms: answered all the same."""
        line = self.junk.rng.choice([b'{"cmd": "ping"}\n', b'{"cmd": "status"}\n', b'{"cmd": "nope"}\n'])
        t0 = time.monotonic()
        with connect(self.path) as s:
            for b in line:
                s.sendall(bytes([b]))
                time.sleep(0.1)
            raw = s.makefile("rb").readline()
        self.figures["slow_s"].append(time.monotonic() - t0)
        self.replies += bool(raw)
        self.fail("slow", check_lines(line, raw))
        if b"ping" in line and raw and json.loads(raw).get("pid") != self.pid:
            self.fail("slow", f"ping answered by another pid: {raw[:80]!r}")

    def close(self) -> None:
        """Gone mid-request: before a word, mid-line, after a whole line, mid-turn; or half-closed
        mid-line, which is a line at its end and must get its error."""
        how = self.junk.rng.choice(["empty", "mid-line", "after-line", "half-close", "mid-turn"])
        if how == "mid-turn" and self.junk.turns <= 0:
            how = "after-line"
        elif how == "mid-turn":
            self.junk.turns -= 1
        payload = {
            "empty": b"",
            "mid-line": b'{"cmd": "status", "te',
            "after-line": b'{"cmd": "status"}\n',
            "half-close": b'{"cmd": "status", "te',
            "mid-turn": b'{"cmd": "ask", "text": "Tell me a short story.", "speak": false}\n',
        }[how]
        with connect(self.path) as s:
            s.sendall(payload)
            if how == "mid-turn":
                s.settimeout(120)
                s.recv(1)  # the first piece: the turn has begun
            if how == "half-close":
                s.shutdown(socket.SHUT_WR)
                raw = s.makefile("rb").readline()
                self.replies += bool(raw)
                self.fail("close", check_lines(payload, raw))

    def burst(self, n: int = 100) -> None:
        """n connections at once, each a ping, a status or an unknown command, all answered."""
        lines = [[b'{"cmd": "ping"}\n', b'{"cmd": "status"}\n', b'{"cmd": 42}\n'][i % 3] for i in range(n)]
        gate = threading.Barrier(n)
        replies: list[bytes] = [b""] * n

        def one(i: int) -> None:
            try:
                gate.wait(30)
                with connect(self.path, 60) as s:
                    s.sendall(lines[i])
                    s.settimeout(60)
                    replies[i] = s.makefile("rb").readline()
            except (OSError, threading.BrokenBarrierError) as e:
                self.fail("burst", f"connection {i}: {e}")

        t0 = time.monotonic()
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.figures["burst_s"].append(time.monotonic() - t0)
        self.replies += sum(1 for r in replies if r)
        for line, raw in zip(lines, replies, strict=True):
            self.fail("burst", check_lines(line, raw))


# ------------------------------------------------------------------------------------ the run
BACKGROUND = ("hold", "slow")  # these take seconds each: run alongside the rest, a few at a time


def plan(cases: int, rng: random.Random) -> list[str]:
    """The kinds in a random order: cases spread over them (a burst counts its 100 connections)."""
    share = {"json": 0.6, "binary": 0.1, "huge": 0.03, "hold": 0.03, "slow": 0.03, "close": 0.06}
    kinds = [k for k, f in share.items() for _ in range(max(1, round(cases * f)))]
    kinds += ["burst"] * max(1, round(cases * 0.15 / 100))
    rng.shuffle(kinds)
    return kinds


def counts(pid: int) -> tuple[int, int]:
    """(open fds, threads) of the daemon."""
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def settle(pid: int, base: tuple[int, int], timeout_s: float = 20) -> tuple[int, int]:
    """The counts once they are back to the baseline, or as they are after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while (now := counts(pid))[0] > base[0] or now[1] > base[1]:
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    return now


def max_gap(messages: list[tuple[float, str]], start: float, end: float) -> float:
    """The longest stretch in [start, end] without a WATCHDOG=1."""
    pings = [t for t, m in messages if "WATCHDOG=1" in m.splitlines() and start <= t <= end]
    edges = [start, *pings, end]
    return max(b - a for a, b in zip(edges, edges[1:], strict=False))


def healthy(d: LiveDaemon) -> list[str]:
    """Alive, answering status, and telling the time."""
    path = d.runtime / control.SOCKET_NAME
    if not d.alive():
        return [f"the daemon died (exit {d.proc.returncode if d.proc else '?'}): {d.tail(300)}"]
    problems = []
    try:
        if not control.request(path, {"cmd": "status"}, 30).get("ok"):
            problems.append("status not ok")
        before = system_now()
        reply = str(d.ask("What time is it?").get("reply", ""))
        times = {say_time(before + timedelta(minutes=m)) for m in (-1, 0, 1, 2)}
        if not any(t in reply for t in times):
            problems.append(f"'What time is it?' answered {reply!r}, not one of {sorted(times)}")
    except (control.ControlError, control.DaemonNotRunning, OSError) as e:
        problems.append(f"no answer: {e}")
    return problems


def abuse(d: LiveDaemon, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every case of the plan against the running daemon; what broke and what was seen."""
    rng = random.Random(args.seed)
    kinds = plan(args.cases, rng)
    a = Abuse(d.runtime / control.SOCKET_NAME, pid, Junk(rng, max(2, args.cases // 250)))
    ran: Counter[str] = Counter()
    background: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="fuzz-bg") as pool:
        for kind in kinds:
            run = getattr(a, kind)
            if kind in BACKGROUND:
                background.append(pool.submit(run))
            else:
                try:
                    run()
                except OSError as e:  # the daemon refused or dropped a client it should have served
                    a.fail(kind, f"{type(e).__name__}: {e}")
            ran[kind] += 100 if kind == "burst" else 1
        for f in background:
            if f.exception() is not None:
                a.fail("background", f"{type(f.exception()).__name__}: {f.exception()}")
    return {"ran": dict(sorted(ran.items())), "abuse": a}


def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    jack = JackServer("fzs")
    d = LiveDaemon(home, jack, CONFIG, args.models_dir)
    try:
        ready_s = d.start()
        path = d.runtime / control.SOCKET_NAME
        pid = int(control.request(path, {"cmd": "ping"}, 30)["pid"])
        problems = healthy(d)  # warmed up: the lazy threads of a first turn are in the baseline
        time.sleep(2)
        base = counts(pid)
        t0 = time.monotonic()
        result = abuse(d, pid, args)
        t1 = time.monotonic()
        a: Abuse = result.pop("abuse")
        try:
            control.request(path, {"cmd": "unmute"}, 30)  # a random mute must not outlive the run
        except (control.ControlError, control.DaemonNotRunning, OSError) as e:
            a.fail("after", f"unmute: {e}")
        after = settle(pid, base) if d.alive() else (-1, -1)
        assert d.notify is not None
        gap = max_gap(list(d.notify.messages), t0, t1)
        problems += a.problems + healthy(d)
        if gap > MAX_GAP_S:
            problems.append(f"the watchdog stalled: {gap:.1f} s without WATCHDOG=1")
        if after[0] > base[0] or after[1] > base[1]:
            problems.append(f"fds/threads {base} before, {after} after the clients were gone")
    finally:
        d.stop()
        jack.stop()
    f = a.figures
    return {
        "cases": result["ran"],
        "cases_total": sum(result["ran"].values()),
        "replies_checked": a.replies,
        "max_watchdog_gap_s": round(gap, 2),
        "fds": {"before": base[0], "after": after[0]},
        "threads": {"before": base[1], "after": after[1]},
        "half_line_dropped_after_s": _span(f["hold_dropped_s"]),
        "slow_client_s": _span(f["slow_s"]),
        "burst_of_100_s": _span(f["burst_s"]),
        "typed_turn_s": _span(f["turn_s"]),
        "abuse_s": round(t1 - t0, 1),
        "ready_s": round(ready_s, 1),
        "problems": problems[:50] + ([f"... and {len(problems) - 50} more"] if len(problems) > 50 else []),
        "seed": args.seed,
    }


def _span(values: list[float]) -> dict[str, float] | None:
    return {"min": round(min(values), 2), "max": round(max(values), 2)} if values else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="os1 eval reliability fuzz-socket", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--cases", type=int, default=2000, help="how many clients in all (default 2000)")
    ap.add_argument("--seed", type=int, default=1, help="the random junk and its order (default 1)")
    ap.add_argument("--out", type=Path, help="write DIR/fuzz-socket.json")
    ap.add_argument("--models-dir", default=os.environ.get("OS1_MODELS_DIR", ""), help="OS1_MODELS_DIR")
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.cases < 1:
        print(f"os1: --cases must be at least 1, not {args.cases}; fix: --cases 2000", file=sys.stderr)
        return 2
    exit_on_sigterm()
    if shutil.which("jackd") is None:
        print("os1: fuzz-socket needs jackd; fix: sudo apt install jackd2 (make apt)", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="os1-fuzz-socket-"))
    t0 = time.monotonic()
    try:
        result = run(args, home)
    except RuntimeError as e:  # the daemon did not start: its log's tail says why
        print(f"os1: fuzz-socket: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(home, ignore_errors=True)
    result["wall_s"] = round(time.monotonic() - t0)
    print(json.dumps(result, indent=2))
    write_report(args.out, "fuzz-socket", result)
    return 1 if result["problems"] else 0
