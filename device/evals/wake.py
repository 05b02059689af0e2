"""Measure wake-word engines on a small synthesized clip set: recall, false wakes and CPU cost.

    python -m device.evals.wake [--cache DIR] [--details]

Positives are the wake phrase (then, mostly, a request) in the Piper voice at three speeds, in several
espeak-ng voices the models never saw, and the same over white noise at -30 dBFS (about 11 dB SNR).
Negatives are ordinary sentences in the same voices (some chosen to be tricky: "Jarvis Cocker ..."),
noise, silence and babble. A clip for one engine's phrase counts as a negative for the other phrases.
Clips are made on the fly and cached as WAV files in the cache directory; nothing is committed.
Piper samples its speech, so a fresh cache renders differently and near-threshold counts can move by one.

Each clip is fed in 512-sample frames after a reset. A detection is counted, the engine is reset (as the
pipeline does after a wake) and feeding goes on, so one negative clip can produce several false wakes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.drivers.wavfile import read_wav
from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, frames, to_float32, to_int16
from device.pipeline.stages import WakeWord
from device.pipeline.wake.keyphrase import KeyphraseWakeWord
from device.pipeline.wake.micro import MicroWakeWord
from device.pipeline.wake.openwakeword import OpenWakeWord

JARVIS = "hey jarvis"
SAMANTHA = "hey samantha"
LEAD_S = 1.0  # silence (or noise) before the speech: the engines need some history after a reset
TAIL_S = 1.0
NOISE_DBFS = -30.0
CLIP_SET_VERSION = 2  # bump when a recipe changes in a way the clip names do not show

# Piper length_scale (> 1 is slower) and espeak-ng (voice, words per minute, pitch 0-99).
PIPER_SPEEDS = (0.85, 1.0, 1.25)
ESPEAK_VOICES = (
    ("en-us", 160, 50),
    ("en", 150, 40),
    ("en-gb-x-rp", 170, 55),
    ("en+f3", 140, 70),
    ("en+m7", 180, 30),
    ("en-029", 150, 50),
)
REQUESTS = ("What time is it?", "Turn on the lights, please.", None)
# Near misses, said by every voice: they share sounds or words with a wake phrase.
HARD_NEGATIVE_TEXTS = (
    "Jarvis Cocker is a singer.",
    "Hey, Travis, are you coming over tonight?",
    "Samantha called me this morning.",
    "Hey there, how are you doing today?",
)
# Ordinary speech: each voice says about half of these.
NEGATIVE_TEXTS = (
    "I'd like to check the weather.",
    "Harvest season is finally here.",
    "What time is it in Tokyo right now?",
    "Can you hear the jazz from the apartment next door?",
    "The service was nice but the parking was a nightmare.",
    "Remind me to call my sister on Sunday.",
)


@dataclass
class Clip:
    name: str
    audio: np.ndarray  # int16, 16 kHz
    phrase: str | None = None  # the wake phrase it contains, if any
    phrase_end_s: float | None = None  # where that phrase ends in `audio`

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@dataclass
class Result:
    engine: str
    phrase: str
    positives: int = 0
    hits: int = 0
    negatives: int = 0
    negative_s: float = 0.0
    false_wakes: int = 0
    audio_s: float = 0.0
    cpu_s: float = 0.0
    repeats: int = 0  # detections on a positive clip after the first (the reset did not stop a second wake)
    delays_s: list[float] = field(default_factory=list)  # detection time after the end of the phrase
    missed: list[str] = field(default_factory=list)
    false_clips: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.hits / self.positives if self.positives else float("nan")

    @property
    def false_wakes_per_hour(self) -> float:
        return self.false_wakes / (self.negative_s / 3600) if self.negative_s else float("nan")

    @property
    def cpu_per_audio_s(self) -> float:
        return self.cpu_s / self.audio_s if self.audio_s else float("nan")


# --------------------------------------------------------------------------------------------------
# clips


def _trim(audio: np.ndarray, level: int = 200) -> np.ndarray:
    """Cut leading and trailing near-silence, so the end of a phrase is where the speech ends."""
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > level)
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.int16)


def _noise(n: int, dbfs: float, seed: int) -> np.ndarray:
    from device.evals.speech import noise

    return noise(n / SAMPLE_RATE + 0.01, dbfs, seed)[:n]


def _with_noise(audio: np.ndarray, dbfs: float, seed: int) -> np.ndarray:
    from device.evals.speech import mix

    return mix(audio, _noise(len(audio), dbfs, seed))


def _recipes() -> list[tuple[str, str | None, Callable[[], tuple[np.ndarray, float | None]]]]:
    """(name, phrase, make) for every clean clip; make() returns (audio, phrase_end_s)."""
    from device.evals.speech import espeak_speech, piper_speech

    out: list = []

    def speaker(kind: str, args: tuple) -> Callable[[str], np.ndarray]:
        if kind == "piper":
            return lambda text: _trim(piper_speech(text, args[0]))
        return lambda text: _trim(espeak_speech(text, args[0], args[1], args[2]))

    speakers = [(f"piper{s}", speaker("piper", (s,))) for s in PIPER_SPEEDS]
    speakers += [(f"espeak-{v}-{w}-{p}", speaker("espeak", (v, w, p))) for v, w, p in ESPEAK_VOICES]

    def positive(say: Callable[[str], np.ndarray], wake_text: str, request: str | None, lead_s: float):
        def make() -> tuple[np.ndarray, float]:
            wake = say(wake_text)
            end = lead_s + len(wake) / SAMPLE_RATE
            parts = [_silence(lead_s), wake]
            if request:
                parts += [_silence(0.25), say(request)]
            return np.concatenate([*parts, _silence(TAIL_S)]), end

        return make

    def negative(say: Callable[[str], np.ndarray], text: str, lead_s: float):
        return lambda: (np.concatenate([_silence(lead_s), say(text), _silence(TAIL_S)]), None)

    # The engines step in 30-80 ms hops, and scores swing with where the speech falls on that grid:
    # vary the lead-in a little from clip to clip.
    rng = np.random.default_rng(7)

    def lead() -> float:
        return round(LEAD_S + float(rng.uniform(0, 0.5)), 3)

    for i, (sname, say) in enumerate(speakers):
        for j, request in enumerate(REQUESTS):
            if (i + j) % 3 == 2 and request is None and sname != "piper1.0":
                continue  # the bare phrase for a third of the voices is enough
            tag = "alone" if request is None else f"req{j}"
            out.append((f"pos-jarvis-{sname}-{tag}", JARVIS, positive(say, "Hey Jarvis.", request, lead())))
        request = REQUESTS[i % 2]
        out.append((f"pos-samantha-{sname}", SAMANTHA, positive(say, "Hey Samantha.", request, lead())))
        texts = NEGATIVE_TEXTS if sname in ("piper1.0", "espeak-en-us-160-50") else NEGATIVE_TEXTS[i % 2 :: 2]
        for text in HARD_NEGATIVE_TEXTS + texts:
            slug = "".join(c for c in text.lower() if c.isalnum() or c == " ").replace(" ", "_")[:24]
            out.append((f"neg-{slug}-{sname}", None, negative(say, text, lead())))
    return out


def _extra_negatives() -> list[Clip]:
    """Noise, silence and babble: audio with no speech or no single clear talker."""
    from device.evals.speech import espeak_speech, piper_speech

    clips = [
        Clip("neg-noise-30dBFS-60s", _noise(60 * SAMPLE_RATE, -30.0, 1)),
        Clip("neg-noise-40dBFS-60s", _noise(60 * SAMPLE_RATE, -40.0, 2)),
        Clip("neg-noise-20dBFS-30s", _noise(30 * SAMPLE_RATE, -20.0, 3)),
        Clip("neg-silence-30s", _silence(30)),
    ]
    voices = [
        piper_speech(" ".join(NEGATIVE_TEXTS[:4])),
        espeak_speech(" ".join(NEGATIVE_TEXTS[4:]), "en-gb-x-rp", 170, 55),
        espeak_speech(" ".join(NEGATIVE_TEXTS[::-1]), "en+f3", 150, 70),
    ]
    n = max(len(v) for v in voices)
    babble = sum(np.pad(to_float32(v), (0, n - len(v))) * 0.6 for v in voices)
    clips.append(Clip("neg-babble-3voices", to_int16(babble)))
    return clips


def build_clips(cache_dir: Path, noisy: bool = True, log: Callable[[str], None] | None = None) -> list[Clip]:
    """The labelled clip set, synthesized once and cached as WAV files in `cache_dir`."""
    from device.drivers.wavfile import write_wav

    recipes = _recipes()
    recipe_key = repr([(n, p) for n, p, _ in recipes] + [NOISE_DBFS, CLIP_SET_VERSION])
    digest = hashlib.sha256(recipe_key.encode()).hexdigest()[:10]
    folder = Path(cache_dir) / f"wake-clips-{digest}"
    index_path = folder / "index.json"
    if index_path.is_file():
        index = json.loads(index_path.read_text())
        clips = [Clip(e["name"], read_wav(folder / f"{e['name']}.wav"), e["phrase"], e["end"]) for e in index]
        if log:
            log(f"clips: {len(clips)} from cache {folder}")
        return clips

    t0 = time.monotonic()
    clips: list[Clip] = []
    for name, phrase, make in recipes:
        audio, end = make()
        clips.append(Clip(name, audio, phrase, end))
    if noisy:
        for k, c in enumerate(list(clips)):
            noisy_audio = _with_noise(c.audio, NOISE_DBFS, seed=100 + k)
            clips.append(Clip(f"{c.name}-noise{int(NOISE_DBFS)}", noisy_audio, c.phrase, c.phrase_end_s))
    clips += _extra_negatives()
    folder.mkdir(parents=True, exist_ok=True)
    for c in clips:
        write_wav(folder / f"{c.name}.wav", c.audio)
    index = [{"name": c.name, "phrase": c.phrase, "end": c.phrase_end_s} for c in clips]
    index_path.write_text(json.dumps(index, indent=0))
    if log:
        log(f"clips: synthesized {len(clips)} in {time.monotonic() - t0:.1f} s into {folder}")
    return clips


# --------------------------------------------------------------------------------------------------
# evaluation


def run_clip(
    engine: WakeWord, audio: np.ndarray, frame_samples: int = FRAME_SAMPLES
) -> list[tuple[float, float]]:
    """Reset, feed the clip frame by frame; [(seconds at the end of the firing frame, score)].

    After each detection the engine is reset, as the pipeline does after a wake.
    """
    engine.reset()
    fired = []
    for i, frame in enumerate(frames(audio, frame_samples)):
        score = engine.process(frame)
        if score is not None:
            fired.append(((i + 1) * frame_samples / SAMPLE_RATE, score))
            engine.reset()
    return fired


def evaluate(
    engines: dict[str, Callable[[], WakeWord]],
    clips: list[Clip],
    targets: dict[str, str] | None = None,
) -> list[Result]:
    """Run every engine over every clip. `targets` maps engine name -> its phrase (default "hey jarvis");
    clips with that phrase are positives, every other clip is a negative for that engine."""
    results = []
    for name, make in engines.items():
        phrase = (targets or {}).get(name, JARVIS)
        engine = make()
        r = Result(name, phrase)
        for clip in clips:
            t0 = time.process_time()
            fired = run_clip(engine, clip.audio)
            r.cpu_s += time.process_time() - t0
            r.audio_s += clip.seconds
            if clip.phrase == phrase:
                r.positives += 1
                if fired:
                    r.hits += 1
                    r.repeats += len(fired) - 1
                    r.delays_s.append(fired[0][0] - (clip.phrase_end_s or 0.0))
                else:
                    r.missed.append(clip.name)
            else:
                r.negatives += 1
                r.negative_s += clip.seconds
                r.false_wakes += len(fired)
                if fired:
                    r.false_clips.append(clip.name)
        results.append(r)
    return results


def markdown(results: list[Result]) -> str:
    lines = [
        "| engine | phrase | recall (fired on positives) | false wakes (on negatives) "
        "| false wakes per hour of negative audio | CPU s per audio s "
        "| delay after phrase end (median / max) | repeat wakes on positives |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        delay = f"{statistics.median(r.delays_s):.2f} / {max(r.delays_s):.2f} s" if r.delays_s else "-"
        lines.append(
            f"| {r.engine} | {r.phrase} | {r.hits}/{r.positives} ({r.recall:.0%}) "
            f"| {r.false_wakes} on {r.negatives} clips ({r.negative_s / 60:.1f} min) "
            f"| {r.false_wakes_per_hour:.0f} | {r.cpu_per_audio_s:.4f} | {delay} | {r.repeats} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# the engines on offer


def builtin_models() -> dict[str, Path]:
    """The 'hey jarvis' models that ship inside pip packages, resolved by id like the device does."""
    from device.models.catalog import resolve

    ids = ("mww-hey_jarvis", "oww-hey_jarvis", "oww-melspectrogram", "oww-embedding")
    return {i: resolve(i) for i in ids}


def default_engines() -> tuple[dict[str, Callable[[], WakeWord]], dict[str, str]]:
    """Every engine at a few thresholds, and the phrase each one listens for."""
    m = builtin_models()

    def oww(threshold: float) -> Callable[[], WakeWord]:
        return lambda: OpenWakeWord(
            m["oww-hey_jarvis"], m["oww-melspectrogram"], m["oww-embedding"], threshold=threshold
        )

    def mww(cutoff: float | None) -> Callable[[], WakeWord]:
        return lambda: MicroWakeWord(m["mww-hey_jarvis"], probability_cutoff=cutoff)

    def kws(phrase: str, threshold: float) -> Callable[[], WakeWord]:
        return lambda: KeyphraseWakeWord(phrase, kws_threshold=threshold)

    engines: dict[str, Callable[[], WakeWord]] = {
        "openwakeword hey_jarvis @0.5": oww(0.5),
        "openwakeword hey_jarvis @0.7": oww(0.7),
        "openwakeword hey_jarvis @0.9": oww(0.9),
        "microwakeword hey_jarvis @0.97 (model default)": mww(None),
        "microwakeword hey_jarvis @0.8": mww(0.8),
        "microwakeword hey_jarvis @0.5": mww(0.5),
        "pocketsphinx 'hey jarvis' @1e-20": kws(JARVIS, 1e-20),
        "pocketsphinx 'hey samantha' @1e-10": kws(SAMANTHA, 1e-10),
        "pocketsphinx 'hey samantha' @1e-20": kws(SAMANTHA, 1e-20),
        "pocketsphinx 'hey samantha' @1e-30": kws(SAMANTHA, 1e-30),
    }
    targets = {name: (SAMANTHA if "samantha" in name else JARVIS) for name in engines}
    return engines, targets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m device.evals.wake", description=__doc__.split("\n")[0])
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "os1-wake-eval",
        help="where the synthesized clips are cached (default: %(default)s)",
    )
    ap.add_argument("--details", action="store_true", help="list the missed positives and the false wakes")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr)

    clips = build_clips(args.cache, log=log)
    engines, targets = default_engines()
    results = evaluate(engines, clips, targets)
    print(markdown(results))
    if args.details:
        for r in results:
            print(f"\n{r.engine}: missed {r.missed or 'none'}; false wakes on {r.false_clips or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
