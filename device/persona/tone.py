"""Tone of voice: each spoken sentence gets a tone (calm, warm, excited, sad), and the tone sets
Piper's pace and variation and the pause after the sentence.

The tone comes from the model's own tag at the start of a sentence ("[warm] ...", never spoken) or
from a small keyword/punctuation classifier; otherwise it is the persona's default. `TonedTTS` wraps
the Piper engine behind the same `TextToSpeech` protocol, so the voice loop does not change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from device.persona.persona import Persona
from device.pipeline.text import split_sentences
from device.pipeline.tts import Prosody, VoiceTTS


class Tone(StrEnum):
    CALM = "calm"
    WARM = "warm"
    EXCITED = "excited"
    SAD = "sad"


@dataclass(frozen=True)
class ToneVoice:
    length: float  # times the configured length_scale: > 1 is slower
    noise_scale: float  # Piper's voice variation (0.667 is the voices' default)
    noise_w: float  # Piper's timing variation (0.8 is the voices' default)
    pause_s: float  # silence after the sentence


# Piper's pace is not proportional to length_scale (0.85 -> 1.22 is only ~1.2x longer), hence the spread.
VOICES: dict[Tone, ToneVoice] = {
    Tone.CALM: ToneVoice(1.22, 0.55, 0.6, 0.45),
    Tone.WARM: ToneVoice(1.05, 0.667, 0.8, 0.35),
    Tone.EXCITED: ToneVoice(0.85, 0.8, 0.9, 0.2),
    Tone.SAD: ToneVoice(1.3, 0.5, 0.5, 0.6),
}

# Energy nudges the pace of every tone: a calmer or livelier persona.
ENERGY_PACE = {"low": 1.07, "medium": 1.0, "high": 0.94}

# Tags the model may write, including a few synonyms a small model tends to pick.
_TAGS = {t.value: t for t in Tone} | {
    "happy": Tone.EXCITED,
    "cheerful": Tone.EXCITED,
    "gentle": Tone.CALM,
    "soft": Tone.CALM,
    "serious": Tone.CALM,
    "sorry": Tone.SAD,
    "sympathetic": Tone.SAD,
}
_TAG = re.compile(r"^\s*[\[(*<]\s*([a-z]+)\s*[\])*>]\s*[:,-]?\s*", re.IGNORECASE)

_SAD = re.compile(
    r"\b(sorry|loss|lost|died|death|passed away|grief|griev\w*|sad|sadly|unfortunately|condolences"
    r"|miss (him|her|them|you)|lonely|hurts?|painful|funeral|sick)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(great|amazing|wonderful|congratulations|congrats|awesome|fantastic|yay|love|exciting|excited"
    r"|brilliant|wow|hooray|perfect|fun|happy|delighted|well done)\b",
    re.IGNORECASE,
)
_CALM = re.compile(
    r"\b(breathe|relax|rest|sleep|slowly|gently|calm|quiet|easy|take your time)\b", re.IGNORECASE
)


def take_tag(sentence: str) -> tuple[Tone | None, str]:
    """A leading tone tag ("[warm] Hello" -> WARM, "Hello"). Unknown tags are left alone (and the
    voice loop's speakable() drops short bracketed asides anyway)."""
    m = _TAG.match(sentence)
    if m and m.group(1).lower() in _TAGS:
        return _TAGS[m.group(1).lower()], sentence[m.end() :]
    return None, sentence


def default_tone(persona: Persona) -> Tone:
    if persona.energy == "low" or persona.warmth == "low":
        return Tone.CALM
    return Tone.WARM


def classify(sentence: str, default: Tone = Tone.WARM, energy: str = "medium") -> Tone:
    """Sad words win (a sympathetic "sorry!" is still sad); then an exclamation with a positive word
    (a lively persona needs only the "!"); then calming words; else the default."""
    if _SAD.search(sentence):
        return Tone.SAD
    exclaims = "!" in sentence
    if exclaims and (_POSITIVE.search(sentence) or energy == "high"):
        return Tone.EXCITED
    if _CALM.search(sentence):
        return Tone.CALM
    return default


def respell(text: str, spellings: Mapping[str, str]) -> str:
    """Replace whole words (case-insensitive) with how they are said, e.g. Siobhan -> Shiv-awn."""
    for written, said in spellings.items():
        if written and said and written.lower() != said.lower():
            text = re.sub(rf"\b{re.escape(written)}\b", said, text, flags=re.IGNORECASE)
    return text


CLAUSE_PAUSE_S = 0.12  # after a first chunk cut at a comma: the breath Piper would have put there


def pause_after(body: str, sentence_pause_s: float) -> float:
    """The silence after a piece of a reply: the tone's pause after a sentence, a breath after a
    clause, and none after a first chunk cut between words (the sentence goes on in the next)."""
    end = body.rstrip(" \"')]")
    if end.endswith((".", "!", "?", "…")):
        return sentence_pause_s
    return CLAUSE_PAUSE_S if end.endswith((",", ";", ":", "—", "–")) else 0.0


class TonedTTS:
    """A `TextToSpeech` that speaks each sentence in its tone and pauses after it."""

    def __init__(self, inner: VoiceTTS | None, persona: Persona):
        self.inner = inner  # replaced when the voice changes (a live reload of tts.voice)
        self.persona = persona  # replaced when the persona changes (onboarding, reload)
        self.last_tones: list[tuple[Tone, str]] = []  # the last call's (tone, text sent to Piper)
        self.mood_tone: Tone | None = None  # the owner's mood sets the reply's tone (persona/steer.py)

    @property
    def sample_rate(self) -> int:
        assert self.inner is not None, "a text-only companion has no voice"
        return self.inner.sample_rate

    def prosody(self, tone: Tone) -> Prosody:
        v = VOICES[tone]
        base = self.inner.prosody.length_scale or 1.0
        return Prosody(
            length_scale=base * v.length * ENERGY_PACE.get(self.persona.energy, 1.0),
            noise_scale=v.noise_scale,
            noise_w_scale=v.noise_w,
            volume=self.inner.prosody.volume,
        )

    def sentences(self, text: str) -> list[tuple[Tone, str]]:
        """(tone, what Piper is given) per sentence: tags taken off, the owner's name respelled."""
        persona = self.persona
        spellings = {persona.owner_name: persona.owner_pronunciation}
        fallback = default_tone(persona)
        out = []
        for sentence in split_sentences(text):
            tagged, body = take_tag(sentence)
            body = body.strip()
            if not body:
                continue
            tone = tagged or self.mood_tone or classify(body, fallback, persona.energy)
            out.append((tone, respell(body, spellings)))
        return out

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """One int16 array per sentence, its pause appended (the loop times what was heard by the
        audio's length, so one array per sentence keeps that right)."""
        self.last_tones = []
        for tone, body in self.sentences(text):
            self.last_tones.append((tone, body))
            parts = list(self.inner.synthesize(body, self.prosody(tone)))
            if not parts:
                continue
            pause = np.zeros(int(pause_after(body, VOICES[tone].pause_s) * self.sample_rate), np.int16)
            yield np.concatenate([*parts, pause])

    def synthesize_all(self, text: str) -> np.ndarray:
        parts = list(self.synthesize(text))
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)
