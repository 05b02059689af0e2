"""Compare the English STT engines on synthesized requests: `python -m device.evals.stt`.

Each request is spoken by the Piper voice, several espeak-ng voices and the Piper voice over noise, then fed
to each engine in 512-sample frames as the microphone would. The trailing silence (the end-of-turn window)
is fed in real time, so background work such as Whisper's `speculate()` gets the time it would really get.
Latency is the wall time of `finish()`, i.e. from the end of the audio to the final transcript.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, frames
from device.pipeline.stages import SpeechToText
from device.pipeline.stt.moonshine import MoonshineSTT
from device.pipeline.stt.whisper import WhisperSTT

SENTENCES = [
    "What is the capital of France?",
    "Remind me to call my sister tomorrow.",
    "Set a timer for ten minutes.",
    "What's the weather like today?",
    "Tell me a joke about penguins.",
    "Turn off the lights in the kitchen.",
    "How do you say thank you in Japanese?",
    "Read me the last message from my brother.",
    "What time is my meeting on Friday?",
    "Play some quiet music while I read.",
    "I had a rough day at work and I need to talk.",
    "Take a picture of what I am holding and tell me what it says.",
]

LEAD_S = 0.3  # silence before the speech
TAIL_S = 0.5  # silence after it: the end-of-turn window the pipeline waits before calling finish()
SPECULATE_AFTER_FRAMES = 5  # speculate() when a VAD would call silence: ~160 ms after the last word
NOISE_DBFS = -32.0  # white noise about 12 dB under the Piper voice's loudest frames


# --------------------------------------------------------------------------- word error rate

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split()
)
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORDS = set(_ONES) | set(_TENS[2:]) | {"hundred", "thousand", "million"}


def number_words(n: int) -> str:
    """0 <= n < 10**9 in words: 25 -> 'twenty five', 1905 -> 'one thousand nine hundred five'."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = n % size
            return f"{number_words(n // size)} {name}" + (f" {number_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _digits(m: re.Match[str]) -> str:
    text = m.group(0)
    if ":" in text:  # 5:30 -> five thirty, 5:00 -> five
        h, mins = text.split(":")
        return number_words(int(h)) + ("" if int(mins) == 0 else " " + number_words(int(mins)))
    return number_words(int(text.replace(",", "")))


def _hyphen(m: re.Match[str]) -> str:
    a, b = m.group(1), m.group(2)
    return f"{a} {b}" if a in _NUMBER_WORDS or b in _NUMBER_WORDS else a + b  # twenty-five, to-morrow


def normalize_words(text: str) -> list[str]:
    """Lowercase words without punctuation, numbers spelled out: what WER is computed on."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"\d+:\d\d|\d{1,3}(?:,\d{3})+|\d+", _digits, text)
    text = re.sub(r"([a-z]+)-([a-z]+)", _hyphen, text)
    text = text.replace("'", "")
    text = re.sub(r"[^a-z0-9 ]+", " ", text)
    return text.split()


def align(ref: list[str], hyp: list[str]) -> tuple[int, int, int, int]:
    """(hits, substitutions, deletions, insertions) of the best alignment of hyp to ref."""
    # Each cell: (errors, hits, subs, dels, ins); fewest errors wins, then most hits.
    prev = [(j, 0, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        cur = [(i, 0, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            e, h, s, d, n = prev[j - 1]
            same = ref[i - 1] == hyp[j - 1]
            diag = (e, h + 1, s, d, n) if same else (e + 1, h, s + 1, d, n)
            e, h, s, d, n = prev[j]
            up = (e + 1, h, s, d + 1, n)
            e, h, s, d, n = cur[j - 1]
            left = (e + 1, h, s, d, n + 1)
            cur.append(min(diag, up, left, key=lambda c: (c[0], -c[1])))
        prev = cur
    _, h, s, d, n = prev[-1]
    return h, s, d, n


def wer(ref: str, hyp: str) -> float:
    """Word error rate of hyp against ref, after `normalize_words`."""
    r = normalize_words(ref)
    _, s, d, n = align(r, normalize_words(hyp))
    return (s + d + n) / max(1, len(r))


def letter_error_rate(ref: str, hyp: str) -> float:
    """Errors per letter of hyp against ref, spaces and punctuation ignored (after `normalize_words`):
    a homophone split differently ("France is" / "Francis") costs a letter, not two words."""
    r, h = list("".join(normalize_words(ref))), list("".join(normalize_words(hyp)))
    _, s, d, n = align(r, h)
    return (s + d + n) / max(1, len(r))


# --------------------------------------------------------------------------- test speech


@dataclass
class Request:
    text: str
    voice: str
    speech: np.ndarray  # int16, 16 kHz, no padding


def voices() -> dict[str, Callable[[str], np.ndarray]]:
    from device.evals.speech import espeak_speech, mix, noise, piper_speech

    return {
        "piper": piper_speech,
        "espeak en-us": lambda t: espeak_speech(t, "en-us", 160),
        "espeak en-gb+m3": lambda t: espeak_speech(t, "en-gb+m3", 150),
        "espeak en-us+f3": lambda t: espeak_speech(t, "en-us+f3", 170, pitch=60),
        "piper+noise": lambda t: mix(piper_speech(t), noise(10.0, NOISE_DBFS, seed=len(t))),
    }


def make_requests(sentences: list[str], voice_names: list[str] | None = None) -> list[Request]:
    makers = voices()
    names = voice_names or list(makers)
    return [Request(s, v, makers[v](s)) for v in names for s in sentences]


# --------------------------------------------------------------------------- running an engine


@dataclass
class Result:
    request: Request
    hypothesis: str
    latency_s: float  # finish(): end of audio -> final transcript
    compute_s: float  # wall time of all the engine's work for the request
    cpu_s: float  # process CPU time (all threads) for the request
    audio_s: float


@dataclass
class Engine:
    name: str
    make: Callable[[], SpeechToText]
    speculate: bool = False
    stt: SpeechToText | None = field(default=None, repr=False)


def run_request(stt: SpeechToText, req: Request, speculate: bool = False, pace: bool = True) -> Result:
    lead = np.zeros(int(LEAD_S * SAMPLE_RATE), np.int16)
    tail = np.zeros(int(TAIL_S * SAMPLE_RATE), np.int16)
    speech = np.concatenate([lead, req.speech])
    cpu0 = time.process_time()
    in_calls = 0.0
    t = time.monotonic()
    stt.start()
    for f in frames(speech):
        stt.accept(f)
    in_calls += time.monotonic() - t
    for i, f in enumerate(frames(tail)):
        t = time.monotonic()
        if speculate and i == SPECULATE_AFTER_FRAMES:
            stt.speculate()  # type: ignore[attr-defined]
        stt.accept(f)
        spent = time.monotonic() - t
        in_calls += spent
        if pace:
            time.sleep(max(0.0, FRAME_SAMPLES / SAMPLE_RATE - spent))
    t = time.monotonic()
    hyp = stt.finish()
    latency = time.monotonic() - t
    in_calls += latency
    cpu = time.process_time() - cpu0
    compute = in_calls
    if isinstance(stt, WhisperSTT) and speculate:
        # The speculative transcription ran on its own thread: count it, not the time finish() waited.
        compute = in_calls - latency + max(latency, stt.transcribe_s)
    audio_s = (len(speech) + len(tail)) / SAMPLE_RATE
    return Result(req, hyp, latency, compute, cpu, audio_s)


def engines() -> list[Engine]:
    from device.models.catalog import resolve

    whisper_dir = resolve("whisper-tiny.en")
    moonshine_dir = resolve("moonshine-tiny-en")
    return [
        Engine("whisper tiny.en", lambda: WhisperSTT(whisper_dir)),
        Engine("whisper tiny.en + speculate", lambda: WhisperSTT(whisper_dir), speculate=True),
        Engine("whisper tiny.en, 30 s window", lambda: WhisperSTT(whisper_dir, window_pad_s=None)),
        Engine("moonshine tiny-en", lambda: MoonshineSTT(moonshine_dir)),
        Engine("moonshine tiny-en, 1 s updates", lambda: MoonshineSTT(moonshine_dir, update_interval_s=1.0)),
    ]


# --------------------------------------------------------------------------- report


def _score(results: list[Result]) -> tuple[float, float]:
    errors = hits = words = 0
    for r in results:
        ref = normalize_words(r.request.text)
        h, s, d, n = align(ref, normalize_words(r.hypothesis))
        errors += s + d + n
        hits += h
        words += len(ref)
    return errors / max(1, words), hits / max(1, words)


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


def table(by_engine: dict[str, list[Result]]) -> str:
    rows = [
        "| engine | WER | words right | latency p50 (finish) | compute p50 / request | CPU p50 / request "
        "| RTF |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, results in by_engine.items():
        w, right = _score(results)
        lat = statistics.median(r.latency_s for r in results)
        comp = statistics.median(r.compute_s for r in results)
        cpu = statistics.median(r.cpu_s for r in results)
        rtf = sum(r.compute_s for r in results) / sum(r.audio_s for r in results)
        rows.append(f"| {name} | {w:.1%} | {right:.1%} | {_ms(lat)} | {_ms(comp)} | {_ms(cpu)} | {rtf:.2f} |")
    return "\n".join(rows)


def voice_table(by_engine: dict[str, list[Result]]) -> str:
    voice_names = list(dict.fromkeys(r.request.voice for rs in by_engine.values() for r in rs))
    rows = ["| engine | " + " | ".join(voice_names) + " |", "|---" * (len(voice_names) + 1) + "|"]
    for name, results in by_engine.items():
        cells = [f"{_score([r for r in results if r.request.voice == v])[0]:.1%}" for v in voice_names]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m device.evals.stt", description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=len(SENTENCES), help="use the first N sentences")
    ap.add_argument("--voices", help="comma-separated voice names (default: all): " + ", ".join(voices()))
    ap.add_argument("--engines", help="comma-separated substrings of engine names to run (default: all)")
    ap.add_argument("--no-pace", action="store_true", help="feed the trailing silence as fast as possible")
    ap.add_argument("--show", action="store_true", help="print every transcript that has an error")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    voice_names = args.voices.split(",") if args.voices else None
    requests = make_requests(SENTENCES[: args.sentences], voice_names)
    audio_s = sum(len(r.speech) for r in requests) / SAMPLE_RATE
    made_s = time.monotonic() - t0
    print(f"{len(requests)} requests ({audio_s:.0f} s of speech) made in {made_s:.1f} s", file=sys.stderr)

    chosen = [e for e in engines() if not args.engines or any(k in e.name for k in args.engines.split(","))]
    by_engine: dict[str, list[Result]] = {}
    for eng in chosen:
        t0 = time.monotonic()
        stt = eng.make()
        load_s = time.monotonic() - t0
        run_request(stt, requests[0], eng.speculate, pace=False)  # warm-up, not counted
        results = [run_request(stt, r, eng.speculate, pace=not args.no_pace) for r in requests]
        by_engine[eng.name] = results
        w, right = _score(results)
        print(f"{eng.name}: loaded in {load_s:.1f} s; WER {w:.1%}", file=sys.stderr)
        if args.show:
            for r in results:
                if wer(r.request.text, r.hypothesis) > 0:
                    print(f"    [{r.request.voice}] {r.request.text!r} -> {r.hypothesis!r}", file=sys.stderr)
        close = getattr(stt, "close", None)
        if close:
            close()

    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores; 1-minute load average at the end: {load:.1f}")
    print()
    print(table(by_engine))
    print()
    print("WER by voice:")
    print()
    print(voice_table(by_engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
