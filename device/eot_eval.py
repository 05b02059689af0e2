"""What the end-of-turn silence window costs: `python -m device.eot_eval`.

A shorter window answers sooner but cuts people off when they pause mid-sentence. This runs the real
Silero VAD and end-of-turn rule over requests with natural pauses (commas, a hesitation before the
last words) in several voices, and counts, for each window, how many requests would be cut off.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from device.models import resolve
from device.pipeline.audio import FRAME_MS, frames
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


def cut_offs(vad: SileroVad, clips: list[Clip], window_ms: int) -> int:
    """How many clips the rule ends before their last word is over."""
    cut = 0
    for clip in clips:
        vad.reset()
        eot = EndOfTurn(silence_ms=window_ms)
        for i, f in enumerate(frames(clip.audio)):
            if eot.update(vad.probability(f)):
                cut += (i + 1) * FRAME_MS / 1000 < clip.speech_end_s - 0.05
                break
    return cut


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    vad = SileroVad(resolve("silero-vad"))
    clips = build_clips()
    print(f"{len(clips)} requests with a mid-sentence pause of 0.25–0.6 s (3 voices, clean and noisy)\n")
    print("| end_of_turn_ms | cut off | share |\n|---|---|---|")
    for w in WINDOWS_MS:
        n = cut_offs(vad, clips, w)
        print(f"| {w} | {n}/{len(clips)} | {100 * n / len(clips):.0f}% |")


if __name__ == "__main__":
    main()
