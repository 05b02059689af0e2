"""What an early reply costs in people talked over: `python -m device.early_eval`.

`vad.early_reply_ms` starts the reply before the turn is certain, and drops it unheard if the owner
speaks again before its first sound. Whether the owner is talked over is a race between their pause
and the whole pipeline, so this runs the live loop in real time on the real engines: each request
with a pause mid-sentence (eot_eval's set) is fed at the microphone's pace, and it counts the
requests where the first reply sound came before the owner's last word.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time

from device.config import Config
from device.drivers.audio import FileEarpiece, FileMicrophone
from device.engines import load_all
from device.eot_eval import Clip, build_clips
from device.pipeline.events import State, Turn
from device.runner import feed_frames, make_loop
from device.stt_eval import normalize_words
from device.synth import join, silence


def run_clip(cfg: Config, engines: object, clip: Clip, out_dir: str) -> tuple[bool, float | None, list[Turn]]:
    """(talked over, first sound relative to the last word in ms, the turns) for one request."""
    turns: list[Turn] = []
    first_sound: list[float] = []
    ear = FileEarpiece(f"{out_dir}/reply.wav", realtime=True)
    loop = make_loop(cfg, engines, ear, turns.append)  # type: ignore[arg-type]
    loop.settings.follow_up_s = 0.0

    mic = FileMicrophone(join(clip.audio, silence(1.5)), realtime=True, tail_s=0.0)

    def on_state(state: State) -> None:
        if state is not State.SPEAKING:
            return
        now = time.monotonic()
        if not first_sound:
            first_sound.append(now)
        # A reply after the last word has been heard enough: stop it to save time. One that began
        # over the owner is left for the owner's voice to interrupt, as it would be live.
        if now > mic.started_at + clip.speech_end_s:
            threading.Thread(target=loop.tap, daemon=True).start()

    loop.on_state = on_state
    loop.addressed(source="eval")
    feed_frames(loop, mic, threading.Event(), wait_for_reply=False)
    loop.tap()  # a reply still going when the recording ends
    loop.wait_reply(timeout_s=30)
    ear.close()
    if not first_sound:
        return False, None, turns
    last_word_t = mic.started_at + clip.speech_end_s
    rel_ms = (first_sound[0] - last_word_t) * 1000
    return rel_ms < 0, rel_ms, turns


def has_last_words(transcript: str, text: str) -> bool:
    """Whether the answered request holds the start and the end of what was said (STT errors aside:
    one of the first two words and one of the last two)."""
    said = normalize_words(transcript)
    words = normalize_words(text)
    return any(w in said for w in words[:2]) and any(w in said for w in words[-2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--early-ms", type=int, nargs="+", default=[0, 300], help="early_reply_ms values")
    parser.add_argument("--stt", default="whisper", choices=["whisper", "moonshine"])
    parser.add_argument("--voices", nargs="+", default=["piper-one-breath", "espeak-us"])
    args = parser.parse_args()
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
        for clip in clips:
            talked_over, rel_ms, turns = run_clip(cfg, engines, clip, out_dir)
            over += talked_over
            whole += bool(turns) and has_last_words(turns[-1].transcript, clip.text)
            if rel_ms is not None and not talked_over:
                rels.append(rel_ms)
        rule = (
            f"early reply after {early_ms} ms, else {cfg.vad.end_of_turn_ms} ms"
            if early_ms
            else (f"silence {cfg.vad.end_of_turn_ms} ms")
        )
        median = f"{statistics.median(rels):.0f} ms" if rels else "—"
        n = len(clips)
        print(f"| {rule} | {over}/{n} ({100 * over / n:.0f}%) | {whole}/{n} | {median} |", flush=True)


if __name__ == "__main__":
    main()
