"""What the end-of-turn silence window costs: `python -m device.evals.end_of_turn`.

A shorter window answers sooner but cuts people off when they pause mid-sentence. This runs the real
Silero VAD and end-of-turn rule over requests with natural pauses (commas, a hesitation before the
last words) in several voices, and counts, for each window, how many requests would be cut off.
Then the same for the Smart Turn audio model (ask it after a short pause; end the turn when it says
the speaker is done, else wait for the window), and how long it waits after complete requests.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from device.evals.speech import espeak_speech, join, mix, noise, piper_speech, piper_split, silence
from device.models.catalog import resolve
from device.pipeline.audio import FRAME_MS, block_dbfs, frames
from device.pipeline.end_of_turn import EndOfTurn, speech_end_time
from device.pipeline.stt.whisper import WhisperSTT
from device.pipeline.text import looks_complete
from device.pipeline.turn import SmartTurn
from device.pipeline.vad import SileroVad

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
# Finished requests without a pause: how soon does each rule answer them?
COMPLETE = [
    "What time is it?",
    "Tell me a joke.",
    "Turn the volume down a little.",
    "What's the weather like tomorrow?",
    "Who wrote Pride and Prejudice?",
    "Set a timer for ten minutes.",
    "How far away is the moon?",
    "Thank you, that's all.",
]
SMART_TURN_MS = (150, 200, 300)


@dataclass
class Clip:
    audio: np.ndarray
    speech_end_s: float  # where the last word ends
    voice: str = ""
    text: str = ""
    # (end of the first frame of the model's silence run, smart_turn_ms) -> (probability, ms taken)
    verdicts: dict[int, tuple[float, float]] = field(default_factory=dict)


def voices() -> list[tuple[str, object]]:
    return [
        ("piper", lambda t: piper_speech(t)),
        ("espeak-us", lambda t: espeak_speech(t, "en-us", 160)),
        ("espeak-gb-slow", lambda t: espeak_speech(t, "en-gb-x-rp", 130)),
    ]


def trim(audio: np.ndarray, block: int = 160, floor_dbfs: float = -45.0) -> np.ndarray:
    """Cut the silence a TTS puts around an utterance, so a pause is exactly as long as we say."""
    loud = np.flatnonzero(block_dbfs(audio, block) > floor_dbfs)
    return audio[loud[0] * block : (loud[-1] + 1) * block] if len(loud) else audio


def _clean_and_noisy(clips: list[Clip], speech: np.ndarray, voice: str, text: str) -> None:
    clips.append(Clip(join(speech, silence(1.5)), len(speech) / 16000, voice, text))
    noisy = mix(join(speech, silence(1.5)), noise(1.0, dbfs=-40, seed=len(clips)))
    clips.append(Clip(noisy, len(speech) / 16000, voice, text))


def build_clips() -> list[Clip]:
    """Requests with a pause, each part synthesized on its own (so the words before the pause sound
    finished: the hard case for an audio model), plus Piper saying each sentence in one go with the
    pause cut in at the word boundary (the words before it sound unfinished, as a person's would)."""
    clips: list[Clip] = []
    for name, say in voices():
        for first, pause, rest in REQUESTS:
            a, b = trim(say(first)), trim(say(rest))  # type: ignore[operator]
            _clean_and_noisy(clips, join(silence(0.3), a, silence(pause), b), name, f"{first} {rest}")
    for first, pause, rest in REQUESTS:
        a, b = piper_split(f"{first} {rest}", len(first.split()))
        speech = join(silence(0.3), trim(a), silence(pause), trim(b))
        _clean_and_noisy(clips, speech, "piper-one-breath", f"{first} {rest}")
    return clips


def build_complete() -> list[Clip]:
    clips: list[Clip] = []
    for name, say in voices():
        for text in COMPLETE:
            _clean_and_noisy(clips, join(silence(0.3), trim(say(text))), name, text)  # type: ignore[operator]
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


def smart_end_of_turn(
    vad: SileroVad, model: SmartTurn, clip: Clip, window_ms: int, smart_ms: int, threshold: float
) -> float:
    """When the turn ends with the loop's model rule: `smart_ms` after the words stop (as the loop
    times it), the model hears the utterance so far; its verdict counts once it is in (after the
    inference time measured here), unless the speaker has started again. Else the window ends it."""
    vad.reset()
    eot = EndOfTurn(silence_ms=window_ms)
    recent: deque[np.ndarray] = deque(maxlen=10)
    heard: list[np.ndarray] = []
    speech_end, asked, pending = 0.0, False, None  # pending: (verdict time, probability)
    for i, f in enumerate(frames(clip.audio)):
        t = (i + 1) * FRAME_MS / 1000
        recent.append(f)
        heard.append(f)
        was = eot.in_speech
        if eot.update(vad.probability(f)):
            return t
        if eot.in_speech:
            asked, pending = False, None
            continue
        if was:
            speech_end = speech_end_time(list(recent), t)
        if not eot.heard_speech:
            continue
        if not asked and (t - speech_end) * 1000 >= smart_ms:
            asked = True
            key = i * 10_000 + smart_ms
            if key not in clip.verdicts:
                p = model.probability(np.concatenate(heard))
                clip.verdicts[key] = (p, model.last_ms)
            p, ms = clip.verdicts[key]
            pending = (t + ms / 1000, p)
        if pending is not None and t >= pending[0]:
            if pending[1] >= threshold:
                return t
            pending = None
    return len(clip.audio) / 16000


def _wait_partial(stt: WhisperSTT) -> str:
    for _ in range(500):
        text = stt.partial()
        if text:
            return text
        time.sleep(0.01)
    return ""


def _row(name: str, clips: list[Clip], ends: list[float], complete: list[Clip], c_ends: list[float]) -> str:
    cut = sum(e < c.speech_end_s - 0.05 for e, c in zip(ends, clips, strict=True))
    delay = statistics.median(1000 * (e - c.speech_end_s) for e, c in zip(ends, clips, strict=True))
    c_delays = [1000 * (e - c.speech_end_s) for e, c in zip(c_ends, complete, strict=True)]
    return (
        f"| {name} | {cut}/{len(clips)} ({100 * cut / len(clips):.0f}%) | {delay:.0f} ms "
        f"| {statistics.median(c_delays):.0f} ms | {statistics.mean(c_delays):.0f} ms |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-stt", action="store_true", help="skip the rows that need Whisper")
    args = parser.parse_args(argv)
    vad = SileroVad(resolve("silero-vad"))
    model = SmartTurn(resolve("smart-turn-v3"))
    clips, complete = build_clips(), build_complete()
    print(
        f"{len(clips)} requests with a mid-sentence pause of 0.25–0.6 s (4 voices, clean and noisy); "
        f"{len(complete)} finished requests without a pause\n"
    )
    print(
        "| rule | cut off | end of speech → end of turn (median) | after a finished request (median) "
        "| (mean) |\n|---|---|---|---|---|"
    )
    rules = [(f"silence {w} ms", w, None, 0) for w in WINDOWS_MS]
    if not args.no_stt:
        stt = WhisperSTT(resolve("whisper-tiny.en"))
        for quick in (250, 400):
            rules.append((f"silence 600 ms, or {quick} ms after a finished sentence", 600, stt, quick))
    for name, window, engine, quick in rules:
        ends = [end_of_turn(vad, c, window, engine, quick) for c in clips]
        c_ends = [end_of_turn(vad, c, window, engine, quick) for c in complete]
        print(_row(name, clips, ends, complete, c_ends), flush=True)
    smart_rules = [(ms, w, 0.5) for ms in SMART_TURN_MS for w in (600, 800)]
    smart_rules += [(200, 600, th) for th in (0.7, 0.9)]
    for ms, window, th in smart_rules:
        ends = [smart_end_of_turn(vad, model, c, window, ms, th) for c in clips]
        c_ends = [smart_end_of_turn(vad, model, c, window, ms, th) for c in complete]
        name = f"Smart Turn after {ms} ms (p ≥ {th}), else silence {window} ms"
        print(_row(name, clips, ends, complete, c_ends), flush=True)
    print("\nSmart Turn cut-offs by voice (after 200 ms, p ≥ 0.5, else 600 ms):")
    for voice in dict.fromkeys(c.voice for c in clips):
        mine = [c for c in clips if c.voice == voice]
        ends = [smart_end_of_turn(vad, model, c, 600, 200, 0.5) for c in mine]
        cut = sum(e < c.speech_end_s - 0.05 for e, c in zip(ends, mine, strict=True))
        print(f"  {voice}: {cut}/{len(mine)}")
    ms = [v[1] for c in clips + complete for v in c.verdicts.values()]
    print(
        f"\nSmart Turn inference: median {statistics.median(ms):.0f} ms, "
        f"max {max(ms):.0f} ms ({len(ms)} calls)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
