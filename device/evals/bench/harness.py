"""Running the bench's requests through the real pipeline: each clip fed at the microphone's real-time
pace to a fresh loop (tapped in if the wake word misses it), the reply played at the earpiece's pace."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

# The bench's only import of these two (system.py takes them from here), so a move changes one line.
from device.app.assemble import feed_frames, make_loop
from device.app.engines import Engines
from device.config.schema import Config
from device.drivers.audio_files import FileEarpiece, FileMicrophone
from device.evals.bench.corpus import Request
from device.evals.bench.report import fmt
from device.evals.bench.stats import request_row
from device.evals.bench.system import OtherLoad, peak_rss_mb
from device.evals.speech import join, noise
from device.pipeline.audio import FRAME_SAMPLES, frames
from device.pipeline.events import Message, State, Turn
from device.pipeline.loop import VoiceLoop

WAKE_GRACE_S = 1.5  # after the recording ends, how long a wake may still take before it counts as missed
BARGE_IN_AFTER_S = 1.0  # tap this long after the reply starts playing
TURN_TIMEOUT_S = 90.0


@dataclass
class Outcome:
    """One request run in one mode, before it is flattened into a row."""

    request: Request
    """What was fed."""
    mode: str
    """"streaming" or "sequential"."""
    woke: bool
    """The wake word fired (else the request was run again as if tapped in)."""
    turn: Turn | None
    """The loop's record of the turn, or None if there was none."""
    peak_rss_mb: float
    """This process's peak RSS after the request."""
    other_cpu_pct: float | None = None
    """Other processes' CPU meanwhile, % of one core."""
    last_speech_fed_t: float | None = None
    """When the clip's last speech sample went into the loop."""


def wake_fires(engines: Engines, audio: np.ndarray) -> bool:
    """Does the wake word fire anywhere in `audio`? (Fed as fast as it goes; the engine is reset.)"""
    wake = engines.wake
    if wake is None:
        return False
    wake.reset()
    try:
        return any(wake.process(f) is not None for f in frames(audio))
    finally:
        wake.reset()


def _wait(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


def _microphone(req: Request) -> FileMicrophone:
    """The clip, then its background (noise or silence) for as long as the turn may take."""
    if req.noise_dbfs is None:
        return FileMicrophone(req.audio, realtime=True, tail_s=TURN_TIMEOUT_S)
    background = noise(TURN_TIMEOUT_S, req.noise_dbfs, seed=req.index + 1)
    return FileMicrophone(join(req.audio, background), realtime=True, tail_s=0.0)


def _tap_into_reply(loop: VoiceLoop, done: threading.Event) -> None:
    """Barge-in by button: tap BARGE_IN_AFTER_S after the reply starts playing (if it still is)."""
    if _wait(lambda: loop.state is State.SPEAKING or done.is_set(), TURN_TIMEOUT_S) and not done.is_set():
        time.sleep(BARGE_IN_AFTER_S)
        if loop.state is State.SPEAKING:
            loop.tap()


def _noting_when_fed(
    mic: Iterable[tuple[np.ndarray, float]], sample: int | None, fed: dict[str, float]
) -> Iterator[tuple[np.ndarray, float]]:
    """The microphone's frames, noting when the frame holding `sample` went in."""
    for i, (frame, t) in enumerate(mic):
        if sample is not None and "last_speech" not in fed and (i + 1) * FRAME_SAMPLES >= sample:
            fed["last_speech"] = t
        yield frame, t


@dataclass
class Pass:
    """One feeding of a request to a fresh loop."""

    woke: bool
    """The wake word fired, or the pass started with a tap."""
    turn: Turn | None = None
    """The loop's record of the turn, if there was one."""
    last_speech_fed_t: float | None = None
    """When the clip's last speech sample went into the loop."""


def one_pass(
    cfg: Config,
    engines: Engines,
    req: Request,
    sequential: bool,
    tap_first: bool,
    out_wav: Path,
    history: list[Message],
) -> Pass:
    """Feed one request in real time to a fresh loop and wait for its turn. The loop carries on the
    conversation in `history` (updated in place), as the daemon would: the prompt grows, and the
    LLM's cache holds it, primed between requests."""
    turns: list[Turn] = []
    done = threading.Event()

    def on_turn(turn: Turn) -> None:
        turns.append(turn)
        done.set()

    ear = FileEarpiece(out_wav, realtime=True)
    loop = make_loop(cfg, engines, ear, on_turn)
    # follow_up_s 0: one turn per request; the next request gets a fresh loop
    loop.update_settings(replace(loop.settings, sequential=sequential, follow_up_s=0.0))
    if history:  # make_loop has primed the persona already; add the conversation so far
        loop.history[:] = history
        if loop.parts.dialogue.capabilities.prime:  # as the loop does after each reply
            loop.parts.dialogue.prime(loop.conversation.prompt(loop.parts.system_prompt))
    if engines.wake is not None:
        engines.wake.reset()
    stop, fed = threading.Event(), {}
    mic = _noting_when_fed(_microphone(req), req.speech_end_sample, fed)
    feeder = threading.Thread(
        target=feed_frames, args=(loop, mic, stop, False), name="bench-mic", daemon=True
    )
    if tap_first:
        loop.addressed(source="bench tap")
    feeder.start()
    try:
        if not tap_first and not _wait(lambda: loop.state is not State.IDLE, req.seconds + WAKE_GRACE_S):
            return Pass(False)
        if req.barge_in:
            _tap_into_reply(loop, done)
        # A turn ends with on_turn, or back in IDLE without one (nothing was said after the wake).
        _wait(lambda: done.is_set() or (loop.state is State.IDLE and loop.wait_reply(0)), TURN_TIMEOUT_S)
        done.wait(1.0)
        loop.wait_reply(timeout_s=TURN_TIMEOUT_S)
    finally:
        stop.set()
        feeder.join()
        ear.close()
    history[:] = loop.history
    return Pass(True, turns[0] if turns else None, fed.get("last_speech"))


def run_request(
    cfg: Config, engines: Engines, req: Request, sequential: bool, out_dir: Path, history: list[Message]
) -> Outcome:
    mode = "sequential" if sequential else "streaming"
    out_wav = out_dir / f"{req.index:02d}-{mode}.wav"
    woke = wake_fires(engines, req.audio)  # fed fast first: a clip the wake word misses is tapped in
    with OtherLoad() as load:
        result = one_pass(cfg, engines, req, sequential, not woke, out_wav, history)
        if not result.woke:  # missed when fed in real time after all: measure the rest as if tapped in
            result = one_pass(cfg, engines, req, sequential, True, out_wav, history)
            woke = False
    return Outcome(req, mode, woke, result.turn, peak_rss_mb(), load.percent, result.last_speech_fed_t)


def run_set(
    cfg: Config,
    engines: Engines,
    requests: list[Request],
    sequential: bool,
    out_dir: Path,
    histories: list[list[Message]] | None = None,
) -> list[dict]:
    """Each request on its own (`histories` None), or as one conversation: request i is heard after
    the exchanges in `histories[i]`. The first pass builds the list as it goes (start it as [[]]);
    a later pass replays it, so streaming and sequential answer the same prompts."""
    rows = []
    for i, req in enumerate(requests):
        history = list(histories[i]) if histories is not None else []
        outcome = run_request(cfg, engines, req, sequential, out_dir, history)  # extends `history`
        if histories is not None and len(histories) == i + 1:
            histories.append(history)  # what the next request is heard after
        row = request_row(outcome)
        rows.append(row)
        print(
            f"  [{row['mode']} {req.index + 1}/{len(requests)}] {req.name}: " + _progress(row),
            file=sys.stderr,
        )
    return rows


def _progress(row: dict) -> str:
    if row["error"]:
        return row["error"]
    gap = row["response_gap_ms"]
    wake = "wake" if row["woke"] else "wake MISSED, tapped in"
    load = row["other_cpu_pct"]
    busy = f" (other processes used {load:.0f}% of a core meanwhile)" if load and load >= 10 else ""
    return f"{wake}; heard {row['transcript']!r}; gap {fmt(gap)} ms{busy}"
