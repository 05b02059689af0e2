"""`os1 eval reliability faults`: faults injected into the live daemon (`os1 run` on the JACK test
device, real models), each with the line the owner should hear or read, and afterwards the daemon
still up and nothing it acknowledged lost.

    os1 eval reliability faults [--only NAME ...] [--out DIR] [--models-dir DIR]

    full-disk      every kind of write (memory, reminder, letter, config by voice, export) on a full disk
    read-only      the same writes with the state dir remounted read-only
    model-start    a corrupt and a missing dialogue model at start: one line, exit 2
    model-reload   a voice that is not installed, set on the running daemon: refused, the old one kept
    camera         the camera's picture cut off half written, then no camera, then a good picture
    llm-mid-stream the home server's LLM killed as its first words reach the owner: the board goes on
    tts-mid-stream the home server's voice killed as its first sentence is heard: the board's Piper goes on
    sound-server   the JACK server stopped under the daemon's devices, then started again: no abort
    sigterm        SIGTERM during a reply: a clean exit 0 within 10 s, back to READY=1 after
    sighup         SIGHUP during a reply (a terminal hangup, `systemctl reload`): the config re-read,
                   the reply finished, the daemon still up

Devices gone mid-utterance or mid-reply are the soak's; the clock stepping is tested in the pytest
suite (the README's table says where).
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from device.app import control
from device.evals.reliability import disk, write_report
from device.evals.reliability.checks import Ledger, check_state
from device.evals.reliability.cpu_quota import CpuQuota
from device.evals.reliability.crashes import CONFIG, Round
from device.evals.reliability.live import LONG_REQUEST, JackServer, LiveDaemon, exit_on_sigterm
from device.intents.camera import CANT_SEE


@dataclass
class Outcome:
    """One fault, what should happen, and what did."""

    fault: str
    """The fault's name (as --only takes it)."""
    expected: str
    """What the owner should hear or read, and the state after."""
    observed: list[str]
    """What the daemon said or did, one line per step."""
    ok: bool
    """Whether what happened is what was expected."""


class Faults:
    """The faults, each on a fresh home and daemon of its own, on one private JACK server."""

    def __init__(self, jack: JackServer, root: Path, models_dir: str):
        self.jack, self.root, self.models_dir = jack, root, models_dir
        self.rng = random.Random(1)

    def _home(self, name: str) -> Path:
        home = self.root / name
        home.mkdir(parents=True)
        return home

    def _writes(self, d: LiveDaemon, ledger: Ledger, tag: str) -> dict[str, str]:
        r = Round(d, None, ledger, self.rng, 0)
        ops: dict[str, Callable[[str], str]] = {
            "memory": r.memory,
            "reminder": r.reminder,
            "letter": r.letter,
            "config": r.volume,
            "export": r.export_memories,
        }
        return {name: op(f"{tag} {name}") for name, op in ops.items()}

    def storage(
        self, name: str, break_disk: Callable[[disk.SmallDisk], None], restart: bool = False
    ) -> Outcome:
        """Each kind of write on a broken state disk, then again once it is mended. `restart`: the disk
        breaks while the daemon is down (a read-only remount is refused while files are open for
        writing, so a card that turned read-only is met at the next boot)."""
        home = self._home(name)
        small = disk.SmallDisk(home / "state", 4096)
        (home / "state/exports").mkdir()
        (home / "config.yaml").symlink_to(home / "state/config.yaml")  # config writes hit it too
        (home / "exports").symlink_to(home / "state/exports")
        d = LiveDaemon(home, self.jack, CONFIG, self.models_dir)
        ledger = Ledger(home, d.state, d.config)
        observed: list[str] = []
        try:
            d.start()
            observed.append(f"before: {_short(self._writes(d, ledger, 'before'))}")
            if restart:
                d.stop()
            break_disk(small)
            if restart:
                observed.append(f"started on it: READY=1 in {d.start():.1f} s")
            broken = self._writes(d, ledger, "broken")
            observed += [f"{name}: {k}: {v}" for k, v in broken.items()]
            alive = d.alive() and d.ask("What time is it?").get("reply")
            observed.append(f"still answering: {bool(alive)}")
            if restart:
                d.stop()
            small.read_only(False)
            small.empty()
            if restart:
                d.start()
            observed.append(f"after: {_short(self._writes(d, ledger, 'after'))}")
            d.stop()
            problems = check_state(ledger)
            observed += [f"after the stop: {p}" for p in problems] or ["after the stop: nothing lost"]
            told = all(_says_why(v) for v in broken.values())
            return Outcome(name, _STORAGE_EXPECTED, observed, bool(alive) and told and not problems)
        except RuntimeError as e:  # the daemon did not come up on the broken disk
            observed.append(f"the daemon: {e}")
            return Outcome(name, _STORAGE_EXPECTED, observed, False)
        finally:
            d.kill()
            d.stop()
            small.read_only(False)
            small.close()

    def model_start(self) -> Outcome:
        observed, ok = [], True
        for what, make in (("corrupt", _corrupt_models), ("missing", _missing_models)):
            models = make(self.root / f"models-{what}", Path(self.models_dir))
            home = self._home(f"model-{what}")
            d = LiveDaemon(home, self.jack, CONFIG + "llm:\n  engine: onnx\n", str(models))
            d.start_only()
            code = d.proc.wait(timeout=120) if d.proc is not None else -1
            err = [line for line in d.log.read_text(errors="replace").splitlines() if line.strip()]
            observed.append(f"{what}: exit {code}: {err[-1] if err else '(nothing)'}")
            ok &= code == 2 and len(err) <= 3 and "Traceback" not in "\n".join(err)
        return Outcome("model-start", "one line naming the model and the fix; exit 2", observed, ok)

    def model_reload(self) -> Outcome:
        """A voice that is not there, set while the companion runs: refused, the old voice kept."""
        home = self._home("model-reload")
        d = LiveDaemon(home, self.jack, CONFIG, self.models_dir)
        try:
            d.start()
            before = d.config.read_text()
            r = d.os1("config", "set", "tts.voice", "en_US-nobody-medium")
            err = r.stderr.strip().splitlines()
            same = d.config.read_text() == before
            answered = _safe_reply(d, "What time is it?")
            d.stop()
            again = d.start()
            observed = [
                f"os1 config set tts.voice (not installed): exit {r.returncode}: {err[-1] if err else '-'}",
                f"config file unchanged: {same}; the next turn: {answered[:50]!r}",
                f"restarted: READY=1 in {again:.1f} s",
            ]
            ok = r.returncode == 2 and same and answered.startswith("It's") and d.alive()
            expected = "refused in one line, exit 2, the config as it was, the old voice still speaking"
            return Outcome("model-reload", expected, observed, ok)
        finally:
            d.kill()
            d.stop()

    def camera(self) -> Outcome:
        """The camera (`camera.backend: file`, a folder whose newest picture is what it sees) failing
        mid-capture: a picture cut off half written, then no camera at all; then a good one again."""
        from PIL import Image

        from device.evals.vision import sign

        home = self._home("camera")
        shots = home / "camera"
        shots.mkdir(parents=True)
        Image.fromarray(sign(960, 540)).save(shots / "1-good.png")
        config = CONFIG + f"camera:\n  backend: file\n  path: {shots}\n"
        d = LiveDaemon(home, self.jack, config, self.models_dir)
        try:
            d.start()
            good = _safe_reply(d, "Read this.")
            whole = (shots / "1-good.png").read_bytes()
            (shots / "2-cut.png").write_bytes(whole[: len(whole) // 2])  # the capture died half written
            cut = _safe_reply(d, "Read this.")
            shutil.rmtree(shots)  # the camera gone
            gone = _safe_reply(d, "What am I looking at?")
            shots.mkdir()
            (shots / "3-good.png").write_bytes(whole)
            back = _safe_reply(d, "Read this.")
            after = _safe_reply(d, "What time is it?")
            log = d.log.read_text(errors="replace")
            observed = [
                f"a good picture: {good[:60]!r}",
                f"cut off half written: {cut!r}; logged: {_line_with(log, 'not a readable image')[:90]}",
                f"no camera: {gone!r}",
                f"a good picture again: {back[:40]!r}; the next turn: {after[:30]!r}; alive: {d.alive()}",
            ]
            ok = (
                good.startswith("It says")
                and cut == gone == CANT_SEE
                and back == good
                and after.startswith("It's")
                and d.alive()
                and "Traceback" not in log
            )
            expected = f"{CANT_SEE!r} for a broken picture and for no camera (why, logged); the daemon up"
            return Outcome("camera", expected, observed, ok)
        finally:
            d.kill()
            d.stop()

    def llm_mid_stream(self) -> Outcome:
        """The home server's LLM (llama-cpp-python's server on the SmolLM2 GGUF, held to a tenth of a CPU
        so its reply comes a few words a second) killed as its first words reach the owner: the
        board's own LLM goes on from them, in the same reply."""
        from device.evals.llama_server import LlamaServer
        from device.evals.radicale import free_port
        from device.models.catalog import resolve

        srv = LlamaServer(resolve("smollm2-135m-instruct-gguf"), free_port()).start()
        group = CpuQuota(f"os1-fault-llm-{srv.port}")
        home = self._home("llm")
        remote = f"llm:\n  engine: openai\n  remote:\n    url: {srv.url}\n    first_token_ms: 30000\n"
        d = LiveDaemon(home, self.jack, CONFIG + remote, self.models_dir)
        try:
            d.start()
            assert srv.proc is not None
            group.add(srv.proc.pid)
            group.set(0.1)
            pieces, turn = _ask_killing(d, LONG_REQUEST, False, srv.kill)  # at its first words
            said = str(turn.get("reply", ""))
            after = _safe_reply(d, "What is the capital of France?")
            log = d.log.read_text(errors="replace")
            observed = [
                f"the server's first words: {pieces[0] if pieces else '-'!r}; the whole reply: {said!r}",
                f"logged: {_line_with(log, 'the board takes over')[:110]}",
                f"the next turn (the board): {after[:50]!r}; alive: {d.alive()}",
            ]
            ok = (
                len(pieces) > 1
                and len(said) > len(pieces[0]) + 10
                and "the board takes over" in log
                and "Paris" in after
                and d.alive()
            )
            expected = "the reply goes on from the server's words on the board's LLM; the next turn answered"
            return Outcome("llm-mid-stream", expected, observed, ok)
        finally:
            d.kill()
            d.stop()
            srv.kill()
            group.remove()

    def tts_mid_stream(self) -> Outcome:
        """The home server's voice (wyoming-piper, a real server) killed as its first sentence reaches the
        earpiece: the board's Piper says the rest."""
        from device.evals.radicale import free_port
        from device.evals.wyoming_server import WyomingServer

        srv = WyomingServer("piper", free_port()).start()
        home = self._home("tts")
        remote = f"tts:\n  engine: wyoming\n  remote:\n    uri: {srv.uri}\n"
        d = LiveDaemon(home, self.jack, CONFIG + remote, self.models_dir)
        try:
            d.start()
            time.sleep(1.0)  # the start-up check of the server is in
            # killed as its first sentence goes to the earpiece
            pieces, turn = _ask_killing(d, "Write a letter to Anna about the rain.", True, srv.kill)
            after = _safe_reply(d, "What time is it?")
            log = d.log.read_text(errors="replace")
            spoken = [ln for ln in log.splitlines() if "os1.daemon: turn " in ln and "letter" in ln.lower()]
            observed = [
                f"{len(pieces)} pieces spoken; the reply: {str(turn.get('reply', ''))[:70]!r}",
                f"logged: {_line_with(log, 'voice failed')[:110]}",
                f"the turn: {(spoken[-1].split(' gap=')[-1] if spoken else '-')[:90]}",
                f"the next turn: {after[:30]!r}; alive: {d.alive()}",
            ]
            ok = (
                len(pieces) > 1
                and "voice failed" in log
                and str(turn.get("reply", "")).startswith("Here's a draft")
                and after.startswith("It's")
                and d.alive()
            )
            expected = (
                "the rest of the reply said by the board's Piper, each sentence once; the next turn answered"
            )
            return Outcome("tts-mid-stream", expected, observed, ok)
        finally:
            d.kill()
            d.stop()
            srv.kill()

    def sound_server(self) -> Outcome:
        """The JACK server stopping under the daemon, then starting again (see sound_server.py)."""
        from device.evals.reliability.sound_server import EXPECTED, server_dies

        home = self._home("sound-server")
        d = LiveDaemon(home, self.jack, CONFIG, self.models_dir)
        ledger = Ledger(home, d.state, d.config)
        try:
            d.start()
            observed, ok = server_dies(
                d, self.jack, lambda tag: self._writes(d, ledger, tag), partial(_safe_reply, d)
            )
            problems = check_state(ledger)
            observed += [f"after the stop: {p}" for p in problems] or ["after the stop: nothing lost"]
            return Outcome("sound-server", EXPECTED, observed, ok and not problems)
        finally:
            d.kill()
            d.stop()

    def during_reply(self, sig: signal.Signals) -> Outcome:
        home = self._home(sig.name.lower())
        d = LiveDaemon(home, self.jack, CONFIG, self.models_dir)
        observed: list[str] = []
        try:
            d.start()
            replies: list[str] = []
            asker = threading.Thread(
                target=lambda: replies.append(_safe_reply(d, "Write a letter to Anna about the rain.")),
                daemon=True,
            )
            asker.start()
            time.sleep(0.3)  # the draft is being written (about a second)
            assert d.proc is not None
            t0 = time.monotonic()
            d.proc.send_signal(sig)
            asker.join(timeout=60)
            if sig is signal.SIGTERM:
                code = d.proc.wait(timeout=30)
                took = time.monotonic() - t0
                observed.append(f"exit {code} after {took:.1f} s; the reply in flight: {replies[:1]}")
                observed.append(f"restarted: READY=1 in {d.start():.1f} s")
                ok = code == 0 and took < 10 and d.alive()
                expected = "exit 0 within 10 s (the reply in flight may be cut), READY=1 on restart"
            else:
                time.sleep(1.0)
                alive = d.alive()
                log = d.log.read_text(errors="replace")
                observed.append(f"alive after it: {alive}; reply: {(replies[:1] or ['-'])[0][:60]!r}")
                observed.append(f"logged: {_line_with(log, 'SIGHUP')}")
                answered = alive and bool(_safe_reply(d, "What time is it?"))
                observed.append(f"answers the next turn: {answered}")
                ok = alive and answered and bool(replies and replies[0].startswith("Here's a draft"))
                expected = "the config re-read (logged), the reply finished, the daemon still up"
            return Outcome(sig.name.lower(), expected, observed, ok)
        finally:
            d.kill()
            d.stop()


_STORAGE_EXPECTED = (
    "each write answered with what went wrong and the fix (no 'Okay' for a write that was not made); "
    "the daemon answering throughout; every write before and after there once the disk is mended"
)


def _says_why(reply: str) -> bool:
    r = reply.lower()
    return any(w in r for w in ("full", "space", "read-only", "read only"))  # the problem, named


def _short(replies: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v[:40]}" for k, v in replies.items())


def _line_with(log: str, word: str) -> str:
    return next((line[9:] for line in log.splitlines() if word in line), "(nothing)")


def _ask_killing(
    d: LiveDaemon, text: str, speak: bool, kill: Callable[[], None]
) -> tuple[list[str], dict[str, object]]:
    """A typed turn whose server is killed as its first piece arrives: (the pieces, the turn)."""
    pieces: list[str] = []
    turn: dict[str, object] = {}
    ask = {"cmd": "ask", "text": text, "speak": speak}
    for reply in control.request_stream(d.runtime / control.SOCKET_NAME, ask, timeout_s=120):
        if reply.get("piece"):
            pieces.append(str(reply["piece"]))
            kill()  # killing a dead server again does nothing
        if reply.get("done"):
            turn = dict(reply.get("turn") or {})
    return pieces, turn


def _safe_reply(d: LiveDaemon, text: str) -> str:
    try:
        return str(d.ask(text, timeout_s=60).get("reply", ""))
    except Exception as e:
        return f"({type(e).__name__}: {e})"


def _corrupt_models(dest: Path, models: Path) -> Path:
    """The models dir with the dialogue model's weights cut to their first megabyte."""
    shutil.copytree(models, dest, symlinks=True, ignore=shutil.ignore_patterns("*.onnx.data"))
    for data in models.rglob("*.onnx.data"):
        with data.open("rb") as src:
            (dest / data.relative_to(models)).write_bytes(src.read(1 << 20))
    return dest


def _missing_models(dest: Path, _models: Path) -> Path:
    dest.mkdir(parents=True)
    return dest


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="os1 eval reliability faults", description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=[], help="run only these faults")
    ap.add_argument("--out", type=Path, help="write DIR/faults.json")
    ap.add_argument("--models-dir", default="", help="OS1_MODELS_DIR for the daemon")
    return ap.parse_args(argv)


def run(args: argparse.Namespace, root: Path) -> list[Outcome]:
    jack = JackServer("fault")
    try:
        f = Faults(jack, root, args.models_dir or _models_dir())
        plan: dict[str, Callable[[], Outcome]] = {
            "full-disk": lambda: f.storage("full-disk", lambda s: s.fill()),
            "read-only": lambda: f.storage("read-only", lambda s: s.read_only(True), restart=True),
            "model-start": f.model_start,
            "model-reload": f.model_reload,
            "camera": f.camera,
            "llm-mid-stream": f.llm_mid_stream,
            "tts-mid-stream": f.tts_mid_stream,
            "sound-server": f.sound_server,
            "sigterm": lambda: f.during_reply(signal.SIGTERM),
            "sighup": lambda: f.during_reply(signal.SIGHUP),
        }
        outcomes = []
        for name, fault in plan.items():
            if args.only and name not in args.only:
                continue
            outcome = fault()
            outcomes.append(outcome)
            print(f"{'ok  ' if outcome.ok else 'FAIL'} {name}", flush=True)
            for line in outcome.observed:
                print(f"     {line}", flush=True)
        return outcomes
    finally:
        jack.stop()


def _models_dir() -> str:
    from device.config import paths
    from device.config.load import parse

    return str(paths.dirs(parse(CONFIG)).models)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    exit_on_sigterm()
    why = disk.available() or ("" if shutil.which("jackd") else "needs jackd (make apt)")
    if why:
        print(f"os1: the fault suite {why}", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="os1-faults-"))
    try:
        outcomes = run(args, root)
    finally:
        subprocess.run(["umount", "-l", *map(str, root.glob("*/state"))], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    write_report(args.out, "faults", [asdict(o) for o in outcomes])
    return 0 if all(o.ok for o in outcomes) else 1
