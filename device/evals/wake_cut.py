"""What it hears after the wake word: does the wake phrase (or a mishearing of it, "are of this.")
lead the request's transcript? Spoken requests in four voices, with and without a pause after "Hey
Jarvis", through the real loop (wake word, VAD, Whisper), with the pre-roll cut after the wake
phrase and without the cut (the whole pre-roll, as before).

    python -m device.evals.wake_cut [--json F]

A transcript has "junk" when it has words before the request's first word that are not in the
request; WER is against the request alone.
"""

from __future__ import annotations

import argparse
import json
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from device.app.assemble import feed_frames, make_loop
from device.app.engines import Engines, load_all
from device.config.schema import Config
from device.drivers.audio_files import FileEarpiece, FileMicrophone
from device.evals.speech import espeak_speech, join, piper_speech, silence
from device.evals.stt import normalize_words, wer
from device.pipeline.events import Turn

REQUESTS = [
    "What is the capital of France?",
    "Set a timer for ten minutes.",
    "Who wrote the book Frankenstein?",
    "How far away is the moon?",
    "Tell me a story about a dragon.",
    "What time is it in Tokyo?",
]
VOICES = [
    ("piper", None),
    ("espeak en-us", "en-us"),
    ("espeak en-gb-x-rp", "en-gb-x-rp"),
    ("espeak en+f3", "en+f3"),
]


def _speech(text: str, voice: str | None) -> np.ndarray:
    return piper_speech(text) if voice is None else espeak_speech(text, voice, 160)


def _turn(engines: Engines, audio: np.ndarray, cut: bool, out: Path) -> Turn | None:
    """One request through the real loop, fed as fast as it is processed; its first turn."""
    turns: list[Turn] = []
    loop = make_loop(Config(), engines, FileEarpiece(out, realtime=False), turns.append)
    loop.update_settings(replace(loop.settings, cut_wake_phrase=cut, follow_up_s=0, early_reply_ms=0))
    feed_frames(
        loop, FileMicrophone(audio, realtime=False, tail_s=2.0), threading.Event(), wait_for_reply=True
    )
    loop.wait_reply(30)
    return turns[0] if turns else None


def junk(request: str, transcript: str) -> bool:
    """Words before the request's first word that the request does not have."""
    want, heard = normalize_words(request), normalize_words(transcript)
    if not want or not heard:
        return False
    first = heard.index(want[0]) if want[0] in heard else None
    lead = heard[:first] if first is not None else heard[: max(0, len(heard) - len(want))]
    return any(w not in want for w in lead)


def measure(engines: Engines, out: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for voice_name, voice in VOICES:
        wake = _speech("Hey Jarvis.", voice)
        for text in REQUESTS:
            request = _speech(text, voice)
            for pause, gap_s in (("pause", 0.5), ("no pause", 0.08)):
                audio = join(silence(0.4), wake, silence(gap_s), request, silence(0.3))
                for cut in (False, True):
                    turn = _turn(engines, audio, cut, out)
                    heard = turn.transcript if turn is not None else ""
                    score = round(wer(text, heard), 3) if turn is not None else None
                    rows.append({"voice": voice_name, "pause": pause, "cut": cut, "request": text,
                                 "heard": heard, "woke": turn is not None, "junk": junk(text, heard),
                                 "wer": score})  # fmt: skip
    return rows


def report(rows: list[dict[str, object]]) -> str:
    lines = ["pre-roll            woke   junk at the start   WER (woken)"]
    for cut in (False, True):
        mine = [r for r in rows if r["cut"] is cut]
        woke = [r for r in mine if r["woke"]]
        junky = sum(1 for r in woke if r["junk"])
        mean = sum(float(r["wer"]) for r in woke) / max(1, len(woke))  # type: ignore[arg-type]
        name = "cut after the phrase" if cut else "whole (before)"
        lines.append(f"{name:<20}{len(woke):>3}/{len(mine):<4}{junky:>6}/{len(woke):<12}{mean:>8.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m device.evals.wake_cut", description=__doc__.splitlines()[0])
    p.add_argument("--json", type=Path, help="write every request")
    args = p.parse_args(argv)
    engines = load_all(Config())
    out = Path("/tmp") / "os1-wake-cut.wav"
    rows = measure(engines, out)
    print(report(rows))
    for r in rows:
        if r["junk"]:
            print(f"  junk ({r['voice']}, {r['pause']}, cut={r['cut']}): {r['heard']!r}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
