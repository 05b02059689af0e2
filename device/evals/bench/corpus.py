"""The bench's requests: "Hey Jarvis. <request>" synthesized in several voices and cached as WAVs, or
the user's own recordings."""

from __future__ import annotations

import hashlib
import multiprocessing
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.drivers.wavfile import read_wav, write_wav
from device.evals.speech import espeak_speech, join, mix, noise, piper_speech, silence
from device.pipeline.audio import SAMPLE_RATE

CACHE_VERSION = 1  # bump when a recipe changes in a way the cache key does not show
NOISE_DBFS = -35.0  # background for the noisy requests
LEAD_S, GAP_S, TRAIL_S = 0.5, 0.3, 0.3  # silence before "Hey Jarvis", after it, and after the request


@dataclass(frozen=True)
class Voice:
    """Who says a synthesized request: the Piper voice or an espeak-ng one, at some speed."""

    engine: str
    """"piper" or "espeak"."""
    name: str = ""
    """The espeak-ng voice."""
    speed: float = 1.0
    """Piper length_scale (> 1 is slower) or espeak-ng words per minute."""
    pitch: int = 50
    """espeak-ng only."""

    @property
    def label(self) -> str:
        if self.engine == "piper":
            return f"piper x{self.speed:g}"
        return f"espeak {self.name} {self.speed:.0f}wpm"

    def speak(self, text: str) -> np.ndarray:
        if self.engine == "piper":
            return piper_speech(text, self.speed)
        return espeak_speech(text, self.name, int(self.speed), self.pitch)


@dataclass(frozen=True)
class Recipe:
    """How to synthesize one request."""

    text: str
    """What is asked, after "Hey Jarvis."."""
    voice: Voice
    """Who says it."""
    noise_dbfs: float | None = None
    """White noise under the clip at this level, or none."""
    barge_in: bool = False
    """Cut the reply off with a tap, to time barge-in."""


@dataclass
class Request:
    """One clip the bench feeds to the microphone."""

    index: int
    """Its place in the set, from 0."""
    name: str
    """The voice (and "+noise"), or the WAV's file name."""
    voice: str
    """The voice's label, or "file"."""
    text: str
    """What is asked ("" for a user's recording)."""
    audio: np.ndarray
    """int16 16 kHz, the whole clip."""
    noise_dbfs: float | None = None
    """The background noise's level, if any."""
    barge_in: bool = False
    """Cut the reply off with a tap, to time barge-in."""
    speech_end_sample: int | None = None
    """Where the speech ends in `audio`, if known."""

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


PIPER = Voice("piper")
RECIPES = (
    Recipe("What is the capital of France?", PIPER),
    Recipe(
        "Tell me a story about a lighthouse keeper and the sea.", Voice("piper", speed=0.9), barge_in=True
    ),
    Recipe("How far away is the moon?", Voice("espeak", "en-us", 160)),
    Recipe("What should I cook for dinner tonight?", Voice("piper", speed=1.15), NOISE_DBFS),
    Recipe("Why is the sky blue?", Voice("espeak", "en-gb-x-rp", 170, 55)),
    Recipe("Tell me about the history of the bicycle.", Voice("espeak", "en+f3", 140, 70), NOISE_DBFS, True),
    Recipe("Give me a tip for sleeping better.", PIPER, NOISE_DBFS),
    Recipe("How do I say thank you in Spanish?", Voice("espeak", "en+m7", 180, 30)),
    Recipe("What is a good name for a grey cat?", Voice("piper", speed=0.85)),
    Recipe("Describe a walk through a forest in autumn.", Voice("espeak", "en-us", 150), NOISE_DBFS, True),
    Recipe("What can I do on a rainy afternoon?", Voice("espeak", "en-029", 150)),
    Recipe("Why is exercise good for me?", Voice("piper", speed=1.25)),
)


def _trim(audio: np.ndarray, level: int = 200) -> np.ndarray:
    """Cut leading and trailing near-silence, so the clip's pauses are the ones set here."""
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > level)
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def render(recipe: Recipe) -> np.ndarray:
    """Say "Hey Jarvis." then the request, in one voice, with natural pauses; over noise if asked."""
    wake, request = _trim(recipe.voice.speak("Hey Jarvis.")), _trim(recipe.voice.speak(recipe.text))
    clip = join(silence(LEAD_S), wake, silence(GAP_S), request, silence(TRAIL_S))
    if recipe.noise_dbfs is not None:
        clip = mix(clip, noise(len(clip) / SAMPLE_RATE + 0.1, recipe.noise_dbfs, seed=len(recipe.text)))
    return clip


def _cache_path(recipe: Recipe, cache_dir: Path) -> Path:
    key = repr((CACHE_VERSION, recipe.text, recipe.voice, recipe.noise_dbfs))
    return cache_dir / f"{_slug(recipe.text)}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.wav"


def render_to_cache(recipes: list[Recipe], cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    for recipe in recipes:
        write_wav(_cache_path(recipe, cache_dir), render(recipe))


def synthesized_requests(count: int | None, cache_dir: Path) -> list[Request]:
    """The first `count` recipes, rendered once into the cache. Rendering runs in a child process, so
    the Piper voices it loads do not count in this process's peak RSS."""
    recipes = list(RECIPES[:count])
    missing = [r for r in recipes if not _cache_path(r, cache_dir).is_file()]
    if missing:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(render_to_cache, missing, cache_dir).result()
    out = []
    for i, r in enumerate(recipes):
        audio = read_wav(_cache_path(r, cache_dir))
        name = r.voice.label + (" +noise" if r.noise_dbfs is not None else "")
        end = len(audio) - int(TRAIL_S * SAMPLE_RATE)
        out.append(Request(i, name, r.voice.label, r.text, audio, r.noise_dbfs, r.barge_in, end))
    return out


def wav_requests(input_dir: Path, count: int | None) -> list[Request]:
    """The user's own recordings; every fourth (from the second) is cut off by a tap to time barge-in."""
    wavs = sorted(p for p in input_dir.iterdir() if p.suffix.lower() == ".wav")[:count]
    return [Request(i, p.stem, "file", "", read_wav(p), barge_in=i % 4 == 1) for i, p in enumerate(wavs)]
