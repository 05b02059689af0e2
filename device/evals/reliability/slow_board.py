"""`os1 eval reliability slow-board`: the live daemon held to a CPU quota like a Pi 4's, against itself
with no quota. The quota is calibrated first on the published Pi 4 figures for Piper (lessac-medium,
RTF 0.77 on one thread, 0.36 on four): a one-thread Piper in the same cgroup is slowed until its
real-time factor is 0.77, which is one Pi 4 core's worth of this machine; the board is four of those.
Then, once free and once held, the daemon on the JACK test device (real models) goes through: start-up
to READY=1, spoken requests (timed on the JACK clock, as blackbox-gap does), a barge-in, a reminder due
in 20 s, systemd's watchdog pings all along, `os1 status`, and SIGTERM.

    os1 eval reliability slow-board [--cpus C] [--out DIR] [--keep DIR]

--cpus skips the calibration. Needs root (a cgroup of its own) and jackd. Exit 0 when every request was
answered, the barge-in cut the reply, the reminder was spoken, no watchdog ping came late and the
daemon stopped cleanly, both free and held.

A quota holds the sum of all threads, not each: a thread alone may run faster than a Pi 4 core would,
and threads together share four cores' worth as on the board. Held to one core's worth, the always-on
stages (wake word, VAD, echo canceller) alone need more than the quota, so the loop falls behind the
microphone; that is a one-core board, not a Pi 4.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from device.evals.reliability import write_report
from device.evals.reliability.cpu_quota import CpuQuota, QuotaUnavailable
from device.evals.reliability.live import (
    FRESH_OWNER,
    LONG_REQUEST,
    RATE,
    JackServer,
    LiveDaemon,
    Mouth,
    exit_on_sigterm,
    parse_turn,
)

PI4_RTF = (0.36, 0.77)  # Piper lessac-medium on a Raspberry Pi 4, four threads to one (../shared/DESIGN.md)
ONE_CORE_RTF = PI4_RTF[1]
PI4_CORES = 4
SENTENCE = (
    "The quick brown fox jumps over the lazy dog, then it runs back home through the quiet evening streets."
)
REQUESTS = [
    "What is the capital of France?",
    "I had a really bad day at work.",
    "What is seventeen times three?",
    "Remember that my locker code at the gym is 4821.",
    "What is my locker code at the gym?",
]
CONFIG = FRESH_OWNER
STAGES = ("gap", "eot", "stt", "llm_first", "tts_first")


def rtf_worker() -> None:
    """In the cgroup: Piper (the default voice) on one thread saying SENTENCE again and again, one RTF
    per line."""
    import onnxruntime as ort

    from device.config.schema import Config
    from device.models.catalog import resolve_piper_voice
    from device.pipeline.tts import PiperTTS

    model, config = resolve_piper_voice(Config().tts.voice)
    tts = PiperTTS(model, config)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
    tts.voice.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
    while True:
        t0 = time.perf_counter()
        audio = tts.synthesize_all(SENTENCE)
        print(f"{(time.perf_counter() - t0) / (len(audio) / tts.sample_rate):.4f}", flush=True)


def calibrate(group: CpuQuota) -> dict[str, Any]:
    """The quota (in CPUs) at which one-thread Piper's RTF is a Pi 4 core's (ONE_CORE_RTF), and the
    board's: PI4_CORES of those, at most this machine's CPUs."""
    code = "from device.evals.reliability.slow_board import rtf_worker; rtf_worker()"
    group.set(None)
    worker = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    group.add(worker.pid)
    assert worker.stdout is not None

    def rtf() -> float:  # after the quota changed: one run to settle, the median of the next three
        runs = [float(worker.stdout.readline()) for _ in range(4)]  # type: ignore[union-attr]
        return statistics.median(runs[1:])

    try:
        free = rtf()
        core, steps = free / ONE_CORE_RTF, []  # one thread uses one CPU at most
        for _ in range(6):
            group.set(core)
            steps.append((round(core, 4), round(held := rtf(), 3)))
            if abs(held - ONE_CORE_RTF) < 0.06:
                break
            core *= held / ONE_CORE_RTF
    finally:
        worker.kill()
        worker.wait()
    cpus = min(PI4_CORES * steps[-1][0], float(os.cpu_count() or 1))
    return {"rtf_free_one_thread": round(free, 3), "cpus_one_core": steps[-1][0], "rtf_held_one_thread":
            steps[-1][1], "cpus": round(cpus, 4), "steps": steps}  # fmt: skip


class Phase:
    """One daemon's life on the test device, free or held to the quota."""

    def __init__(self, d: LiveDaemon, mouth: Mouth):
        self.d, self.mouth = d, mouth
        self.seen = 0  # turn lines of the log read so far

    def turn(self, timeout_s: float) -> str | None:
        """The next `turn ...` line of the daemon's log."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            lines = [
                ln for ln in self.d.log.read_text(errors="replace").splitlines() if "os1.daemon: turn " in ln
            ]
            for line in lines[self.seen :]:
                self.seen += 1
                if " reply='' " not in line or "interrupted=voice" in line:
                    return line.split("os1.daemon: ", 1)[1]
            time.sleep(0.1)
        return None

    def say(self, text: str, wake: bool = True) -> float:
        from device.evals.speech import join, piper_speech, silence

        self.mouth.wire()
        parts = [piper_speech("Hey Jarvis."), silence(0.4)] if wake else []
        return self.mouth.say(join(*parts, piper_speech(text), silence(0.2)))

    def requests(self, timeout_s: float) -> list[dict[str, Any]]:
        out = []
        for text in REQUESTS:
            self.say(text)
            line = self.turn(timeout_s)
            turn = parse_turn(line) if line else {"missed": True}
            out.append({"said": text, "blackbox_gap": _ms(self.mouth.gap_s()), **turn})
            time.sleep(6)  # the follow-up window closes
        return out

    def barge_in(self, timeout_s: float) -> dict[str, Any]:
        """A long reply, interrupted by voice a second after it starts."""
        self.say(LONG_REQUEST)
        deadline = time.monotonic() + timeout_s
        while not self._playing_for(1.0) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self._playing_for(1.0):
            return {"started": False}
        start = self.mouth.now()
        self.say("Wait, stop.", wake=False)
        line = self.turn(timeout_s)
        while self.mouth.now() - (self.mouth.last_loud or 0) < 0.3 * RATE:
            time.sleep(0.02)  # the earpiece quiet for 0.3 s: the reply is cut
        turn = parse_turn(line) if line else {}
        cut = (self.mouth.last_loud or start) - start
        self.turn(timeout_s / 4)  # the reply to "Wait, stop.", if any, out of the way
        time.sleep(6)
        return {
            "started": True,
            "interrupted": turn.get("interrupted"),
            "barge_stop_ms": turn.get("barge_stop"),
            "quiet_after_speech_ms": round(max(0, cut) / RATE * 1000),
        }

    def _playing_for(self, seconds: float) -> bool:
        """The reply has sounded for `seconds` and still does: an early reply that was dropped (its
        first sound, then quiet) is not one to interrupt."""
        first, last, now = self.mouth.first_loud, self.mouth.last_loud, self.mouth.now()
        if first is None or last is None:
            return False
        return now - first >= seconds * RATE and now - last < 0.2 * RATE

    def reminder(self, in_s: int = 20, timeout_s: float = 120) -> dict[str, Any]:
        reply = str(self.d.ask(f"Remind me in {in_s} seconds to stretch my legs.").get("reply", ""))
        due = self.mouth.now() + in_s * RATE
        self.mouth.said_end, self.mouth.first_loud = due - 2 * RATE, None  # listen from just before it
        deadline = time.monotonic() + in_s + timeout_s
        while self.mouth.first_loud is None and time.monotonic() < deadline:
            time.sleep(0.05)
        heard = self.mouth.first_loud
        late = None if heard is None else round((heard - due) / RATE, 2)
        return {"reply": reply, "confirmed": "I'll remind you" in reply, "late_s": late}

    def watchdog(self) -> dict[str, Any]:
        assert self.d.notify is not None
        pings = [t for t, m in self.d.notify.messages if "WATCHDOG=1" in m.splitlines()]
        gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
        limit = int(self.d.env["WATCHDOG_USEC"]) / 1e6
        return {"pings": len(pings), "max_gap_s": round(max(gaps, default=0.0), 2), "limit_s": limit}

    def status_ms(self) -> float:
        t0 = time.monotonic()
        r = self.d.os1("status", "--json")
        return round((time.monotonic() - t0) * 1000) if r.returncode == 0 else -1


def _ms(s: float | None) -> int | None:
    return None if s is None else round(s * 1000)


def run_phase(home: Path, jack: JackServer, mouth: Mouth, group: CpuQuota, cpus: float | None,
              models_dir: str) -> dict[str, Any]:  # fmt: skip
    group.set(cpus)
    home.mkdir(parents=True, exist_ok=True)
    d = LiveDaemon(home, jack, CONFIG, models_dir, cgroup=group.path)
    slow = 1.0 if cpus is None else 8.0  # waits stretch with the board
    throttled0 = group.throttled_s()
    try:
        ready_s = d.start(ready_timeout_s=120 * slow)
        p = Phase(d, mouth)
        out: dict[str, Any] = {"cpus": cpus, "ready_s": round(ready_s, 1)}
        out["requests"] = p.requests(timeout_s=30 * slow)
        out["barge_in"] = p.barge_in(timeout_s=30 * slow)
        out["reminder"] = p.reminder()
        out["status_ms"] = p.status_ms()
        out["watchdog"] = p.watchdog()
        t0 = time.monotonic()
        out["exit_code"] = d.stop()
        out["stop_s"] = round(time.monotonic() - t0, 1)
    finally:
        d.kill()
        d.stop()
        jack.forget_clients()
    out["throttled_s"] = round(group.throttled_s() - throttled0, 1)
    out["stages_ms"] = {s: _median([r.get(s) for r in out["requests"]]) for s in (*STAGES, "blackbox_gap")}
    out["tts_rtf"] = _median([r.get("tts_rtf") for r in out["requests"]])
    return out


def _median(values: list[Any]) -> float | None:
    got = [float(v) for v in values if v is not None]
    return round(statistics.median(got), 3) if got else None


def problems_of(name: str, phase: dict[str, Any]) -> list[str]:
    problems = [f"{name}: '{r['said']}' got no turn" for r in phase["requests"] if r.get("missed")]
    problems += [f"{name}: '{r['said']}' got no reply sound" for r in phase["requests"]
                 if not r.get("missed") and r["blackbox_gap"] is None]  # fmt: skip
    b, rem, w = phase["barge_in"], phase["reminder"], phase["watchdog"]
    if not b.get("started") or b.get("interrupted") != "voice":
        problems.append(f"{name}: the barge-in did not cut the reply ({b})")
    if not rem["confirmed"] or rem["late_s"] is None:
        problems.append(f"{name}: the reminder was not spoken ({rem})")
    if w["max_gap_s"] >= w["limit_s"] or w["pings"] == 0:
        problems.append(
            f"{name}: watchdog pings {w['pings']}, longest gap {w['max_gap_s']} s (limit {w['limit_s']} s)"
        )
    if phase["exit_code"] != 0:
        problems.append(f"{name}: SIGTERM gave exit {phase['exit_code']}")
    return problems


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="os1 eval reliability slow-board", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpus", type=float, help="the quota in CPUs (default: calibrated on Piper's RTF)")
    ap.add_argument("--out", type=Path, help="write DIR/slow-board.json")
    ap.add_argument("--keep", type=Path, help="keep the daemon's home here (default: a temp dir, removed)")
    ap.add_argument("--models-dir", default="", help="OS1_MODELS_DIR for the daemon")
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    if shutil.which("jackd") is None:
        print("os1: the slow board needs jackd; fix: sudo apt install jackd2 (make apt)", file=sys.stderr)
        return 2
    try:
        group = CpuQuota()
    except QuotaUnavailable as e:
        print(f"os1: {e}", file=sys.stderr)
        return 2
    home = args.keep or Path(tempfile.mkdtemp(prefix="os1-slow-board-"))
    jack = JackServer("slow")
    mouth = Mouth(jack)
    report: dict[str, Any] = {}
    try:
        report["calibration"] = {"cpus": args.cpus} if args.cpus else calibrate(group)
        print(f"calibration: {json.dumps(report['calibration'])}", flush=True)
        for name, cpus in (("free", None), ("held", report["calibration"]["cpus"])):
            report[name] = run_phase(home / name, jack, mouth, group, cpus, args.models_dir)
            print(f"{name}: {json.dumps(report[name]['stages_ms'])}", flush=True)
    except KeyboardInterrupt:
        return 130
    finally:
        mouth.close()
        jack.stop()
        group.remove()
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)
    report["slowdown"] = {
        s: round(h / f, 1)
        if (f := report["free"]["stages_ms"][s]) and (h := report["held"]["stages_ms"][s])
        else None
        for s in report["free"]["stages_ms"]
    }
    report["problems"] = problems_of("free", report["free"]) + problems_of("held", report["held"])
    write_report(args.out, "slow-board", report)
    print(json.dumps({k: report[k] for k in ("calibration", "slowdown", "problems")}, indent=2))
    return 1 if report["problems"] else 0
