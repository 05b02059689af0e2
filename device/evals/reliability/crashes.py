"""`os1 eval reliability crashes`: SIGKILL the live daemon at random moments while it stores memories
(typed and spoken), sets reminders, saves letters, changes its config by voice and while `os1 memory
export` writes a file; then, with the daemon dead and its files at rest, check every write it
acknowledged, every database's integrity and every file it keeps, and start it again to READY=1.

    os1 eval reliability crashes [--kills 200] [--seed 1] [--out DIR] [--keep DIR]

An acknowledged write is one whose reply the owner got ("Okay, I'll remember that.", a typed turn's
whole reply, or the spoken turn's line in the daemon's log), or an export that exited 0. A write in
flight at the kill may be there or not; it must not be half there.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from device.evals.reliability import write_report
from device.evals.reliability.checks import Ledger, check_state, leftovers_of
from device.evals.reliability.live import FRESH_OWNER, JackServer, LiveDaemon, Mouth, exit_on_sigterm

CONFIG = FRESH_OWNER + "audio:\n  volume: 1.0\n"

NAMES = ["Anna", "Bob", "Clara", "David", "Elena", "Frank", "Grace", "Hugo", "Iris", "James", "Kate", "Leo"]
TOPICS = ["the garden", "the trip", "the new job", "the concert", "the move", "the weekend", "the book"]
SPOKEN_PLACES = ["the gym", "the office", "the pool", "the school", "the station", "the club", "work"]


class Round:
    """One life of the daemon between two kills: the writes it is asked for, in order, until it dies."""

    def __init__(self, d: LiveDaemon, mouth: Mouth | None, ledger: Ledger, rng: random.Random, n: int):
        self.d, self.mouth, self.ledger, self.rng, self.n = d, mouth, ledger, rng, n
        self.export: subprocess.Popen[str] | None = None
        self.killed = threading.Event()

    def run(self, kill_after_s: float) -> None:
        killer = threading.Timer(kill_after_s, self._kill)
        killer.start()
        ops = [self.memory, self.reminder, self.letter, self.volume, self.export_memories]
        if self.mouth is not None:
            ops.append(self._spoken_memory)
        k = 0
        while not self.killed.is_set():
            k += 1
            try:
                self.rng.choice(ops)(f"{self.n}-{k}")
            except Exception as e:  # the connection to the dying daemon broke: the write stays pending
                if not self.killed.is_set():
                    print(f"  write failed with the daemon alive: {e}", flush=True)
                    time.sleep(0.05)
        killer.join()

    def _kill(self) -> None:
        self.killed.set()
        self.d.kill()
        if self.export is not None and self.export.poll() is None:
            self.export.kill()  # a power cut takes the CLI with it

    def _reply(self, text: str) -> str:
        return str(self.d.ask(text, timeout_s=60).get("reply", ""))

    def memory(self, tag: str) -> str:
        code = self.ledger.new_code(self.rng)
        self.ledger.pending = f"memory {code}"
        reply = self._reply(f"Remember that my code for door {tag} is {code}.")
        if reply.startswith("Okay, I'll remember"):
            self.ledger.memories.append(code)
        self.ledger.pending = ""
        return reply

    def _spoken_memory(self, tag: str) -> None:
        from device.evals.speech import piper_speech, silence

        assert self.mouth is not None
        code = self.ledger.new_code(self.rng)
        place = self.rng.choice(SPOKEN_PLACES)
        self.ledger.pending = f"spoken memory {code}"
        since = len(self.d.log.read_text(errors="replace")) if self.d.log.exists() else 0
        self.mouth.wire()
        speech = [piper_speech("Hey Jarvis."), silence(0.4)]
        speech += [piper_speech(f"Remember that my locker code at {place} is {code}."), silence(0.8)]
        self.mouth.say(np.concatenate(speech))
        deadline = time.monotonic() + 25
        while not self.killed.is_set() and time.monotonic() < deadline:
            heard = _spoken_turn(self.d.log.read_text(errors="replace")[since:])
            if heard is not None:
                digits = re.sub(r"\D", "", heard[0])
                if heard[1].startswith("Okay, I'll remember") and digits:
                    self.ledger.memories.append(digits)
                    self.ledger.spoken += 1
                self.ledger.pending = ""
                return
            time.sleep(0.05)

    def reminder(self, tag: str) -> str:
        what = f"call {self.rng.choice(NAMES)} about {tag.replace('-', ' ')}"
        self.ledger.pending = f"reminder {what}"
        reply = self._reply(f"Remind me in 3 hours to {what}.")
        if reply.startswith("Okay, I'll remind you"):
            self.ledger.reminders.append(what)
        self.ledger.pending = ""
        return reply

    def letter(self, tag: str) -> str:
        to, about = self.rng.choice(NAMES), f"{self.rng.choice(TOPICS)} {tag}"
        self._reply(f"Write a letter to {to} about {about}.")
        self.ledger.pending = f"letter to {to} about {about}"
        reply = self._reply("Save it.")
        if reply.startswith("Saved your letter"):
            self.ledger.letters.append((to, about))
        self.ledger.pending = ""
        return reply

    def volume(self, _tag: str) -> str:
        louder = self.rng.random() < 0.5
        before = self.ledger.volume
        self.ledger.pending = "volume"
        self.ledger.volume_pending = {before, min(2.0, before + 0.25), max(0.25, before - 0.25)}
        reply = self._reply("Speak louder." if louder else "Speak more quietly.")
        if reply.startswith(("Okay, I'll speak", "That's as")):
            self.ledger.volume = self.ledger.config_volume()
            self.ledger.config_changes += 1
        self.ledger.pending, self.ledger.volume_pending = "", set()
        return reply

    def export_memories(self, tag: str) -> str:
        target = self.ledger.exports / f"memories-{tag}.json"
        self.ledger.pending = f"export {target.name}"
        self.export = subprocess.Popen(
            [sys.executable, "-m", "device.cli", "memory", "export", str(target)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=self.d.env,
        )
        _, err = self.export.communicate(timeout=60)
        if self.export.returncode == 0:
            self.ledger.exported.append(target.name)
        self.export = None
        self.ledger.pending = ""
        return err.strip() or "exit 0"


def _spoken_turn(log: str) -> tuple[str, str] | None:
    """(heard, reply) of the first spoken turn in this stretch of the daemon's log."""
    m = re.search(r"turn by=\S+ heard='(.*?)' reply=\"(.*?)\" gap=", log)
    if m is None:
        m = re.search(r"turn by=\S+ heard=\"(.*?)\" reply=['\"](.*?)['\"] gap=", log)
    return (m.group(1), m.group(2)) if m else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="os1 eval reliability crashes", description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=200, help="how many SIGKILLs (default 200)")
    ap.add_argument("--seed", type=int, default=1, help="the random moments and writes (default 1)")
    ap.add_argument("--max-life", type=float, default=10.0, help="longest life after READY=1, s (default 10)")
    ap.add_argument("--no-speech", action="store_true", help="typed turns only (no JACK mouth)")
    ap.add_argument("--out", type=Path, help="write DIR/crashes.json")
    ap.add_argument("--keep", type=Path, help="keep the daemon's home here (default: a temp dir, removed)")
    ap.add_argument("--models-dir", default="", help="OS1_MODELS_DIR for the daemon")
    return ap.parse_args(argv)


def run(args: argparse.Namespace, home: Path) -> dict[str, object]:
    rng = random.Random(args.seed)
    jack = JackServer("crash")
    d = LiveDaemon(home, jack, CONFIG, args.models_dir)
    ledger = Ledger(home, d.state, d.config)
    mouth = None if args.no_speech else Mouth(jack)
    problems: list[str] = []
    ready_s: list[float] = []
    try:
        for n in range(1, args.kills + 1):
            ready_s.append(d.start())
            problems += [f"after restart {n}: {p}" for p in leftovers_of(home)]
            if mouth is not None:
                mouth.hush()
            Round(d, mouth, ledger, rng, n).run(rng.uniform(0.05, args.max_life))
            d.stop()  # the dead process reaped, the notify socket closed
            found = check_state(ledger, leftovers=False)
            problems += [f"kill {n}: {p}" for p in found]
            ledger.kills = n
            print(f"kill {n}: {ledger.summary()}" + (f"  PROBLEMS: {found}" if found else ""), flush=True)
        ready_s.append(d.start())  # back once more after the last kill
        problems += [f"after the last restart: {p}" for p in leftovers_of(home)]
        d.stop()
    finally:
        d.kill()
        d.stop()
        if mouth is not None:
            mouth.close()
        jack.stop()
    return {
        "kills": ledger.kills,
        "acknowledged": ledger.counts(),
        "lost": sum(1 for p in problems if ": lost " in p),
        "problems": problems,
        "ready_s_median": round(float(np.median(ready_s)), 2),
        "ready_s_max": round(max(ready_s), 2),
        "seed": args.seed,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    if shutil.which("jackd") is None:
        print("os1: the crash suite needs jackd; fix: sudo apt install jackd2 (make apt)", file=sys.stderr)
        return 2
    home = args.keep or Path(tempfile.mkdtemp(prefix="os1-crashes-"))
    home.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        result = run(args, home)
    finally:
        if args.keep is None:
            shutil.rmtree(home, ignore_errors=True)
    result["wall_s"] = round(time.monotonic() - t0)
    print(json.dumps(result, indent=2))
    write_report(args.out, "crashes", result)
    return 1 if result["problems"] else 0
