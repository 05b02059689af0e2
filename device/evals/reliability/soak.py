"""`os1 eval reliability soak`: one daemon through a long day of audio, fed faster than real time where
the voice loop allows: conversation (Piper and espeak-ng voices, some over the street), long silences,
street noise, taps on the button, reminders that fire, memories that pile up, and every hour a device
unplugged: the microphone halfway through a request, or the earpiece as a reply begins. Then the
figures: RSS growth after the warm-up, threads and open files, the response gap of the last 100 turns
against the first 100, every memory and reminder kept, and the curves as a PNG.

    os1 eval reliability soak [--hours 8] [--seed 1] [--out DIR] [--keep DIR]

Exit 0 when every target is met: RSS growth under 5 %, no more threads or files open at the end than
after the warm-up, the gap drift within 10 %, nothing lost, every reminder due spoken, every unplugged
device back with the next request answered.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from device.evals.reliability import write_report
from device.evals.reliability.checks import Ledger, check_state
from device.evals.reliability.live import FRESH_OWNER, REPO, exit_on_sigterm, parse_turn
from device.evals.reliability.soak_day import make_clips, plan_day, save_plan
from device.evals.reliability.soak_figures import figures, plot, problems_of
from device.intents.text import second_person

CONFIG = FRESH_OWNER


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="os1 eval reliability soak", description=__doc__.split("\n\n")[0])
    ap.add_argument("--hours", type=float, default=8.0, help="hours of audio in the day (default 8)")
    ap.add_argument("--seed", type=int, default=1, help="the day's plan (default 1)")
    ap.add_argument("--out", type=Path, help="write DIR/soak.json and DIR/soak.png")
    ap.add_argument("--keep", type=Path, help="keep the daemon's home here (default: a temp dir, removed)")
    ap.add_argument("--models-dir", default=os.environ.get("OS1_MODELS_DIR", ""), help="OS1_MODELS_DIR")
    return ap.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    home = args.keep or Path(tempfile.mkdtemp(prefix="os1-soak-"))
    home.mkdir(parents=True, exist_ok=True)
    try:
        report = run_day(home, args.hours, args.seed, args.models_dir)
    except KeyboardInterrupt:
        print("os1: soak stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)
    write_report(args.out, "soak", report)
    if args.out is not None and report["samples"]:
        plot(report, args.out / "soak.png")
    print(summary(report))
    for p in report["problems"]:
        print(f"  PROBLEM: {p}")
    return 1 if report["problems"] else 0


def run_day(home: Path, hours: float, seed: int, models_dir: str) -> dict[str, Any]:
    plan = plan_day(hours, seed)
    t0 = time.monotonic()
    make_clips(plan, home / "clips")
    save_plan(plan, home / "plan.json")
    print(f"soak: {sum(1 for i in plan if hasattr(i, 'text'))} requests in {hours:g} h of audio "
          f"(clips made in {time.monotonic() - t0:.0f} s)", flush=True)  # fmt: skip
    ledger = Ledger(home, home / "state", home / "config.yaml")
    ledger.config.write_text(CONFIG)
    env = {
        **os.environ,
        "OS1_CONFIG": str(ledger.config),
        "OS1_STATE_DIR": str(ledger.state),
        "OS1_RUNTIME_DIR": str(home / "run"),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("NOTIFY_SOCKET", None)
    if models_dir:
        env["OS1_MODELS_DIR"] = models_dir
    t0 = time.monotonic()
    with (home / "daemon.log").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "device.evals.reliability.soak_daemon", str(home)],
            stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=REPO,
        )  # fmt: skip
        try:
            _watch(proc, home / "events.jsonl", hours)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
    events = _events(home / "events.jsonl")
    report = figures(events, hours)
    report["wall_s"] = round(time.monotonic() - t0)
    report["exit_code"] = proc.returncode
    _keep_ledger(ledger, events)
    report["reminders"] = _reminders(ledger.state / "reminders.db", events)
    report["memories_misheard"] = _misheard(events)
    report["problems"] = problems_of(report) + check_state(ledger, leftovers=False)
    if proc.returncode != 0:
        report["problems"].append(f"the daemon exited {proc.returncode}: {_tail(home / 'daemon.log')}")
    return report


def _watch(proc: subprocess.Popen[bytes], events: Path, hours: float) -> None:
    """Until the daemon is done: a line a minute on how far the day has got."""
    last = time.monotonic()
    while proc.poll() is None:
        time.sleep(1)
        if time.monotonic() - last < 60:
            continue
        last = time.monotonic()
        rows = _events(events)
        turns = sum(1 for e in rows if e["kind"] == "turn")
        rss = next((e["rss_kb"] for e in reversed(rows) if "rss_kb" in e), 0)
        done = rows[-1]["audio_s"] / 3600 if rows else 0.0
        print(f"  {done:.2f} h of {hours:g} h, {turns} requests, RSS {rss / 1024:.0f} MB", flush=True)


def _events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _keep_ledger(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    """The memories and reminders the daemon said it kept, from its own turn lines. A memory is what
    it heard: "9,5888" for a misheard 9588 is kept as 95888 (the misheard ones are counted apart)."""
    for e in events:
        if e.get("unplugged") == "microphone":
            continue  # half a request was heard: what the daemon made of it is not a tracked write
        turn = parse_turn(e.get("log") or "")
        if e["kind"] == "turn" and e["say"] == "memory" and turn["reply"].startswith("Okay, I'll remember"):
            ledger.memories.append(_code_heard(turn["heard"]))
        if e["kind"] == "turn" and e["say"] == "reminder" and "I'll remind you" in turn["reply"]:
            ledger.reminders.append(_task_said(turn["reply"]) or second_person(e["task"]))


def _task_said(reply: str) -> str:
    """The task as the daemon said it stored it ("Okay, in 3 minutes I'll remind you: stretch your
    legs." → "stretch your legs"): what it heard, as a memory's code is, misheard or not."""
    after = reply.split("I'll remind you", 1)[1]
    return after.split(": ", 1)[1].rstrip(". ") if ": " in after else ""


def _code_heard(heard: str) -> str:
    """The code in a heard "…is 9,228." (the longest run of digits once the thousands commas go)."""
    return max(re.findall(r"\d+", heard.replace(",", "")), key=len, default="")


def _misheard(events: list[dict[str, Any]]) -> int:
    """Memories whose code the speech recogniser got wrong (said 9588, heard "9,5888")."""
    return sum(
        1
        for e in events
        if e["kind"] == "turn" and e["say"] == "memory" and e.get("log")
        and _code_heard(parse_turn(e["log"])["heard"]) != e["code"]
    )  # fmt: skip


def _reminders(db: Path, events: list[dict[str, Any]]) -> dict[str, int]:
    """Reminders set, due before the day ended, and spoken (each is marked spoken once, when it is)."""
    end = next((e["epoch"] for e in events if e["kind"] == "end"), time.time())
    if not db.exists():
        return {"set": 0, "due": 0, "spoken": 0}
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT due, spoken FROM reminders WHERE cancelled = 0").fetchall()
    finally:
        conn.close()
    due = [spoken for when, spoken in rows if when < end - 5]
    return {"set": len(rows), "due": len(due), "spoken": sum(1 for s in due if s is not None)}


def _tail(path: Path, chars: int = 600) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def summary(r: dict[str, Any]) -> str:
    g, m = r["gap_ms"], r["memory"]
    return "\n".join([
        f"soak: {r['audio_h']:.2f} h of audio in {r['wall_s']} s ({r['speedup']:.1f}x real time), "
        f"{r['requests']} requests ({r['answered']} answered, {r['other_turns']} turns of its own), "
        f"{r['unplugs']} unplugs ({r['cut_mid_request']} mid-request, the rest mid-reply), "
        f"{r['reconnects']} back, the next request answered {sum(r['answered_after_unplug'])} of "
        f"{len(r['answered_after_unplug'])}",
        f"  RSS after warm-up {m['rss_warm_mb']:.0f} MB, at the end {m['rss_end_mb']:.0f} MB "
        f"({m['rss_growth_pct']:+.1f} %, target < 5 %); peak {m['rss_peak_mb']:.0f} MB; malloc in use "
        f"{m.get('heap_used_warm_mb')} -> {m.get('heap_used_end_mb')} MB",
        f"  threads {m['threads_warm']} -> {m['threads_end']}, open files {m['fds_warm']} -> {m['fds_end']}",
        f"  response gap: first {g['n']} median {g['first_median']} ms, last {g['n']} {g['last_median']} ms "
        f"({g['drift_pct']:+.1f} %, target within 10 %)",
        f"  reminders: {r['reminders']['due']} due, {r['reminders']['spoken']} spoken; "
        f"memories kept {r['memories_kept']} ({r['memories_misheard']} of them with the code misheard)",
    ])  # fmt: skip
