"""What the end-of-turn silence window costs: `python -m device.eot_eval`.

A shorter window answers sooner but cuts people off when they pause mid-sentence. This runs the real
Silero VAD and end-of-turn rule over requests with natural pauses (commas, a hesitation before the
last words) in several voices, and counts, for each window, how many requests would be cut off.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass

import numpy as np

from device.models import resolve
from device.pipeline.audio import FRAME_MS, frames
from device.pipeline.loop import looks_complete
from device.pipeline.stt import WhisperSTT
from device.pipeline.vad import EndOfTurn, SileroVad
from device.synth import espeak_speech, join, mix, noise, piper_speech, silence

# (first part, pause in seconds, rest): people stop to think before the last words.
REQUESTS = [
    ("What is the capital of", 0.35, "France?"),
    ("Remind me tomorrow at nine,", 0.45, "to call my sister."),
    ("Tell me, um,", 0.55, "something nice about the sea."),
    ("How many legs", 0.30, "does a spider have?"),
    ("What should I cook tonight,", 0.60, "something with rice?"),
    ("Play me the song", 0.40, "that we heard yesterday."),
    ("Can you read this letter", 0.50, "to my mother?"),
    ("What time", 0.25, "is it in Tokyo?"),
]
WINDOWS_MS = (300, 450, 600, 800, 1000)


@dataclass
class Clip:
    audio: np.ndarray
    speech_end_s: float  # where the last word ends


def voices() -> list[tuple[str, object]]:
    return [
        ("piper", lambda t: piper_speech(t)),
        ("espeak-us", lambda t: espeak_speech(t, "en-us", 160)),
        ("espeak-gb-slow", lambda t: espeak_speech(t, "en-gb-x-rp", 130)),
    ]


def trim(audio: np.ndarray, block: int = 160, floor_dbfs: float = -45.0) -> np.ndarray:
    """Cut the silence a TTS puts around an utterance, so a pause is exactly as long as we say."""
    n = len(audio) // block
    x = audio[: n * block].astype(np.float32).reshape(n, block) / 32768.0
    loud = np.flatnonzero(10 * np.log10(np.mean(x**2, axis=1) + 1e-12) > floor_dbfs)
    return audio[loud[0] * block : (loud[-1] + 1) * block] if len(loud) else audio


def build_clips() -> list[Clip]:
    clips = []
    for _name, say in voices():
        for first, pause, rest in REQUESTS:
            a, b = trim(say(first)), trim(say(rest))  # type: ignore[operator]
            speech = join(silence(0.3), a, silence(pause), b)
            clips.append(Clip(join(speech, silence(1.5)), len(speech) / 16000))
            noisy = mix(join(speech, silence(1.5)), noise(1.0, dbfs=-40, seed=len(clips)))
            clips.append(Clip(noisy, len(speech) / 16000))
    return clips


def end_of_turn(vad: SileroVad, clip: Clip, window_ms: int, stt: WhisperSTT | None, quick_ms: int) -> float:
    """When the turn ends, in seconds into the clip. With `stt`, the loop's quick rule applies too:
    Whisper transcribes from the start of each pause (taking as long as it takes here), and a
    finished-looking sentence ends the turn after `quick_ms` of silence."""
    vad.reset()
    eot = EndOfTurn(silence_ms=window_ms)
    if stt is not None:
        stt.start()
    ready_at_ms, hypothesis = 0.0, ""
    for i, f in enumerate(frames(clip.audio)):
        was = eot.in_speech
        ended = eot.update(vad.probability(f))
        if stt is not None:
            stt.accept(f)
            if was and not eot.in_speech:  # a pause begins: speculate, and note when the guess is ready
                t0 = time.monotonic()
                stt.speculate()
                hypothesis = _wait_partial(stt)
                ready_at_ms = (time.monotonic() - t0) * 1000
            silent_ms = eot.silence_run_ms
            if not eot.in_speech and eot.heard_speech and silent_ms >= max(quick_ms, ready_at_ms):
                ended = ended or looks_complete(hypothesis)
        if ended:
            return (i + 1) * FRAME_MS / 1000
    return len(clip.audio) / 16000


def _wait_partial(stt: WhisperSTT) -> str:
    for _ in range(500):
        text = stt.partial()
        if text:
            return text
        time.sleep(0.01)
    return ""


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    vad = SileroVad(resolve("silero-vad"))
    stt = WhisperSTT(resolve("whisper-tiny.en"))
    clips = build_clips()
    print(f"{len(clips)} requests with a mid-sentence pause of 0.25–0.6 s (3 voices, clean and noisy)\n")
    print("| rule | cut off | end of speech → end of turn (median) |\n|---|---|---|")
    rules = [(f"silence {w} ms", w, None, 0) for w in WINDOWS_MS]
    for quick in (250, 400):
        rules.append((f"silence 600 ms, or {quick} ms after a finished sentence", 600, stt, quick))
    for name, window, engine, quick in rules:
        ends = [end_of_turn(vad, c, window, engine, quick) for c in clips]
        cut = sum(e < c.speech_end_s - 0.05 for e, c in zip(ends, clips, strict=True))
        delay = statistics.median(1000 * (e - c.speech_end_s) for e, c in zip(ends, clips, strict=True))
        print(f"| {name} | {cut}/{len(clips)} ({100 * cut / len(clips):.0f}%) | {delay:.0f} ms |")


if __name__ == "__main__":
    main()
