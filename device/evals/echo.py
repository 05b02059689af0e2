"""Does the companion hear itself? `python -m device.evals.echo`.

Each reply is played through a simulated echo path (the earpiece's audio, delayed and attenuated,
mixed into the microphone, as bone conduction or a small speaker leaks into a lapel mic). Counted:
self-triggers (its own voice interrupting it, or waking it after the reply), and whether a real
user talking over the reply still interrupts it. Real models, real-time pace.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from device.app.assemble import feed_frames, make_loop
from device.app.engines import Engines, load_all
from device.config.schema import Config
from device.drivers.audio_files import EchoMicrophone, FileEarpiece, FileMicrophone
from device.evals.speech import espeak_speech, join, piper_speech, silence
from device.pipeline.events import State, Turn

REQUESTS = [
    "Tell me a story about a lighthouse keeper.",
    "Say hey jarvis three times.",  # its own reply may contain the wake phrase
    "What do you like about the sea?",
    "Describe a rainy afternoon in Paris.",
    "Tell me about your favourite book.",
]
INTERRUPTION = "Wait, what was that again?"


@dataclass
class Result:
    request: str
    echo_db: float
    self_interrupted: bool  # its own voice counted as the user
    self_woke: bool  # its own voice woke it after the reply
    user_barge_in: bool | None  # a real user talking over the reply interrupted it (None: not tried)


def _session(engines: Engines, cfg: Config, out: Path) -> tuple[object, FileEarpiece, list[Turn]]:
    ear = FileEarpiece(out, realtime=True)
    turns: list[Turn] = []
    loop = make_loop(cfg, engines, ear, turns.append)
    return loop, ear, turns


def _wait(loop: object, state: State, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while loop.state is not state:  # type: ignore[attr-defined]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def run_one(engines: Engines, request: str, echo_db: float, with_user: bool, tmp: Path) -> Result:
    cfg = Config()
    cfg.vad.end_of_turn_ms = 600
    loop, ear, turns = _session(engines, cfg, tmp / "out.wav")
    loop.update_settings(replace(loop.settings, follow_up_s=0))
    loop.addressed()  # type: ignore[attr-defined]
    stop = threading.Event()
    mic = FileMicrophone(join(silence(0.3), piper_speech(request), silence(0.8)), realtime=True, tail_s=60)
    feeder = threading.Thread(
        target=feed_frames, args=(loop, EchoMicrophone(mic, ear.playback, gain_db=echo_db), stop, False)
    )
    feeder.start()
    try:
        _wait(loop, State.SPEAKING, 60)
        user_barge_in = None
        if with_user:
            time.sleep(1.5)
            user = espeak_speech(INTERRUPTION)
            # The user talks over the reply: add their voice into the mic from now on.
            _overlay_live(mic, user)
            _wait(loop, State.LISTENING, 10)
            deadline = time.monotonic() + 5  # the cut reply's turn is reported by its own thread
            while not turns and time.monotonic() < deadline:
                time.sleep(0.01)
            user_barge_in = bool(turns) and turns[0].interrupted == "voice"
        else:
            _wait(loop, State.IDLE, 90)
            time.sleep(2.0)  # the echo tail: must not wake it
        first = turns[0] if turns else None
        self_interrupted = bool(first and first.interrupted == "voice" and not with_user)
        self_woke = not with_user and (len(turns) > 1 or loop.state is not State.IDLE)  # type: ignore[attr-defined]
        return Result(request, echo_db, self_interrupted, self_woke, user_barge_in)
    finally:
        stop.set()
        feeder.join()


def _overlay_live(mic: FileMicrophone, voice: np.ndarray) -> None:
    """Mix `voice` into the microphone's recording starting about now (the mic is real-time paced)."""
    start = int((time.monotonic() - mic.started_at) * 16000) if mic.started_at else 0
    end = start + len(voice)
    if end > len(mic.audio):
        mic.audio = np.concatenate([mic.audio, np.zeros(end - len(mic.audio), np.int16)])
    mixed = mic.audio[start:end].astype(np.int32) + voice
    mic.audio[start:end] = np.clip(mixed, -32768, 32767).astype(np.int16)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--echo-db", type=float, action="append", help="echo level(s) relative to the reply")
    args = ap.parse_args(argv)
    levels = args.echo_db or [-12.0, -6.0]
    engines = load_all(Config())
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for db in levels:
            for r in REQUESTS:
                results.append(run_one(engines, r, db, with_user=False, tmp=Path(tmp)))
            for r in REQUESTS[:3]:
                results.append(run_one(engines, r, db, with_user=True, tmp=Path(tmp)))
    print("| echo level | replies | self-interrupts | self-wakes | user barge-ins that worked |")
    print("|---|---|---|---|---|")
    for db in levels:
        own = [r for r in results if r.echo_db == db and r.user_barge_in is None]
        user = [r for r in results if r.echo_db == db and r.user_barge_in is not None]
        print(
            f"| {db:+.0f} dB | {len(own)} | {sum(r.self_interrupted for r in own)} | "
            f"{sum(r.self_woke for r in own)} | {sum(bool(r.user_barge_in) for r in user)}/{len(user)} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
