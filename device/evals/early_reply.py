"""What an early reply costs in people talked over: `python -m device.evals.early_reply`.

`vad.early_reply_ms` starts the reply before the turn is certain, and drops it unheard if the owner
speaks again before its first sound. Whether the owner is talked over is a race between their pause
and the whole pipeline, so this runs the live loop in real time on the real engines: each request
with a pause mid-sentence (eot_eval's set) is fed at the microphone's pace, and it counts the
requests where the first reply sound came before the owner's last word.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import threading
import time
from dataclasses import replace

import numpy as np

from device.app.assemble import feed_frames, make_loop
from device.app.engines import load_all
from device.config.schema import Config
from device.drivers.audio_files import FileEarpiece, FileMicrophone
from device.evals.end_of_turn import build_clips
from device.evals.speech import join, piper_speech, silence
from device.evals.stt import normalize_words
from device.pipeline.events import State, Turn


class Conversation:
    """One voice loop for a whole rule, as in the daemon: what it learns about the echo path (how
    loud its own voice comes back) carries from reply to reply. The history is cleared per request."""

    def __init__(self, cfg: Config, engines: object, out_dir: str):
        self.turns: list[Turn] = []
        self.ear = FileEarpiece(f"{out_dir}/reply.wav", realtime=True)
        self.loop = make_loop(cfg, engines, self.ear, self.turns.append)  # type: ignore[arg-type]
        self.loop.update_settings(replace(self.loop.settings, follow_up_s=0.0))
        self.loop.on_state = self._on_state
        self.first_sound: list[float] = []
        self.last_word_t = float("inf")

    def _on_state(self, state: State) -> None:
        if state is not State.SPEAKING:
            return
        now = time.monotonic()
        if not self.first_sound:
            self.first_sound.append(now)
        # A reply after the last word has been heard enough: stop it to save time. One that began
        # over the owner is left for the owner's voice to interrupt, as it would be live.
        if now > self.last_word_t:  # after a second, so the echo gate learns from it as it would live
            threading.Timer(1.0, self._stop_speaking).start()

    def _stop_speaking(self) -> None:
        if self.loop.state is State.SPEAKING:
            self.loop.tap()

    def say(
        self, audio: np.ndarray, speech_end_s: float, tail_s: float = 2.5
    ) -> tuple[bool, float | None, list[Turn]]:
        """(talked over, first sound relative to the last word in ms, the turns) for one request."""
        self.turns.clear()
        self.first_sound.clear()
        self.loop.history.clear()
        mic = FileMicrophone(join(audio, silence(tail_s)), realtime=True, tail_s=0.0)
        self.last_word_t = float("inf")
        self.loop.addressed(source="eval")
        frames = iter(mic)
        first = next(frames)  # the clock starts with the first frame
        assert mic.started_at is not None
        self.last_word_t = mic.started_at + speech_end_s
        feed_frames(self.loop, itertools.chain([first], frames), threading.Event(), wait_for_reply=False)
        if self.loop.state in (State.THINKING, State.SPEAKING):
            self.loop.tap()  # a reply still going when the recording ends
        self.loop.wait_reply(timeout_s=30)
        if not self.first_sound:
            return False, None, list(self.turns)
        rel_ms = (self.first_sound[0] - self.last_word_t) * 1000
        return rel_ms < 0, rel_ms, list(self.turns)


WARM_UP = join(silence(0.3), piper_speech("What is the capital of France?"))


def has_last_words(transcript: str, text: str) -> bool:
    """Whether the answered request holds the start and the end of what was said (STT errors aside:
    one of the first two words and one of the last two)."""
    said = normalize_words(transcript)
    words = normalize_words(text)
    return any(w in said for w in words[:2]) and any(w in said for w in words[-2:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--early-ms", type=int, nargs="+", default=[0, 300], help="early_reply_ms values")
    parser.add_argument("--stt", default="whisper", choices=["whisper", "moonshine"])
    parser.add_argument("--voices", nargs="+", default=["piper-one-breath", "espeak-us"])
    args = parser.parse_args(argv)
    clips = [c for c in build_clips() if c.voice in args.voices]
    cfg = Config()
    cfg.stt.engine = args.stt
    cfg.persona.onboarding = False
    out_dir = tempfile.mkdtemp(prefix="os1-early-eval-")
    cfg.paths.state_dir = f"{out_dir}/state"  # the requests must not become the owner's memories
    engines = load_all(cfg)
    voices = ", ".join(args.voices)
    print(f"{len(clips)} requests with a 0.25–0.6 s pause mid-sentence ({voices}; clean and noisy)")
    print(
        "| rule | talked over | answered as one request | first sound after the last word (median) |\n"
        "|---|---|---|---|"
    )
    for early_ms in args.early_ms:
        cfg.vad.early_reply_ms = early_ms
        over, whole, rels = 0, 0, []
        talk = Conversation(cfg, engines, out_dir)
        talk.say(WARM_UP, 99.0, tail_s=8.0)  # a first reply, heard whole: the echo gate learns the path
        for clip in clips:
            talked_over, rel_ms, turns = talk.say(clip.audio, clip.speech_end_s)
            over += talked_over
            whole += bool(turns) and has_last_words(turns[-1].transcript, clip.text)
            if rel_ms is not None and not talked_over:
                rels.append(rel_ms)
        rule = (
            f"early reply after {early_ms} ms, else {cfg.vad.end_of_turn_ms} ms"
            if early_ms
            else f"silence {cfg.vad.end_of_turn_ms} ms"
        )
        median = f"{statistics.median(rels):.0f} ms" if rels else "—"
        n = len(clips)
        print(f"| {rule} | {over}/{n} ({100 * over / n:.0f}%) | {whole}/{n} | {median} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
