"""Run the voice loop on a recording into a WAV file (the live daemon is device/daemon.py)."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path

from device.app.assemble import feed_frames, make_loop
from device.app.engines import Engines, load_all
from device.config.schema import Config
from device.drivers.audio_files import FileEarpiece, FileMicrophone
from device.pipeline.events import Turn
from device.pipeline.loop import wait_worker

log = logging.getLogger("os1.run")


def print_turn(turn: Turn, as_json: bool) -> None:
    if as_json:
        print(json.dumps(turn.as_json()), flush=True)
        return
    print(f"heard : {turn.transcript or '(nothing)'}")
    print(f"reply : {turn.reply or '(none)'}")
    t = turn.timings_ms
    print(
        "timings: "
        + ", ".join(f"{k} {v:.0f} ms" for k, v in t.items())
        + "".join(f", {k} {v:.2f}" for k, v in turn.stats.items()),
        flush=True,
    )


def run_file(
    cfg: Config,
    input_path: Path,
    output_path: Path,
    as_json: bool,
    wake: bool = True,
    realtime: bool = True,
    engines: Engines | None = None,
) -> list[Turn]:
    """The whole pipeline on a recording; the replies go to `output_path`. Returns the turns."""
    mic = FileMicrophone(input_path, realtime=realtime)  # read first: a bad file fails before models load
    engines = engines or load_all(cfg, use_wake=wake)
    ear = FileEarpiece(output_path, realtime=realtime)
    turns: list[Turn] = []

    def on_turn(turn: Turn) -> None:
        turns.append(turn)
        print_turn(turn, as_json)

    loop = make_loop(cfg, engines, ear, on_turn)
    if not wake:
        loop.addressed(source="recording")
    # Fast mode waits for each reply so the recording is not skipped over while the companion talks.
    feed_frames(loop, mic, threading.Event(), wait_for_reply=not realtime)
    loop.wait_reply()
    wait_worker(loop, timeout_s=60)
    if loop.mid_request:
        log.info("the recording ended in the middle of a request")
    ear.close()
    return turns


def demo(cfg: Config, out_dir: Path) -> int:
    """Make a spoken request with the Piper voice, run the real pipeline on it, print what happened."""
    from device.drivers.wavfile import write_wav
    from device.evals.speech import join, piper_speech, silence

    text = "Hey Jarvis. What is the capital of France?"
    out_dir.mkdir(parents=True, exist_ok=True)
    request = write_wav(out_dir / "request.wav", join(silence(0.5), piper_speech(text), silence(0.3)))
    reply = out_dir / "reply.wav"
    print(f'request: "{text}" -> {request}', file=sys.stderr)
    turns = run_file(cfg, request, reply, as_json=False)
    print(f"spoken reply written to {reply}")
    return 0 if turns and turns[0].reply else 1
