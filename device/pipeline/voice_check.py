"""Is it the owner speaking? Each utterance is scored against the owner's voiceprint while the
end-of-turn silence runs (the endpointer starts the check as the words stop), so the reply never
waits for it.

A score at or over `threshold` is the owner. A borderline one (within `margin` below) gets a second
look: the utterance together with the one before it, if that came within `recent_s` and was itself
borderline or better. A short "yes" after a long sentence, or two sentences in a noisy street, are
judged on more speech that way; a stranger who speaks after the owner is usually far below the
borderline and never gets the second look. A borderline score the second look cannot settle is
UNSURE, not OTHER, and so is any score below the threshold in loud noise (the speech under
`min_snr_db` over the background): what is private asks for a tap rather than saying no.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from device.pipeline.voiceprint import Embedding, normed, similarity

OWNER = "owner"
OTHER = "other"
UNSURE = "unsure"
"""Cannot tell: a borderline score, or speech too little over the background for a low score to mean
a stranger (`os1 eval voice`: at 6-8 dB the owner's and strangers' scores overlap)."""


class Encoder(Protocol):
    def embed(self, audio: np.ndarray) -> Embedding: ...


@dataclass(frozen=True)
class Verdict:
    """Whose voice an utterance was, as far as the voiceprint can tell."""

    speaker: str
    """OWNER, OTHER, UNSURE, or "" (no voiceprint yet: the utterance was only embedded)."""
    score: float
    """Cosine similarity to the voiceprint of this utterance alone (1 = identical)."""
    second_look: bool = False
    """The borderline score was settled together with the previous utterance."""
    took_ms: float = 0.0
    """How long the check took (features, encoder and scoring)."""
    speech_s: float = 0.0
    """Seconds of speech the encoder heard."""
    embedding: Embedding | None = None
    """The utterance as the encoder heard it (to learn a voiceprint from)."""


class OwnerVoice:
    """Judges utterances against one voiceprint; thread-safe (the endpointer's worker calls it). With
    no voiceprint yet (`voiceprint` None) an utterance is only embedded, and only while `learning`
    (the first meeting enrols from its answers); otherwise nothing is computed at all."""

    def __init__(
        self,
        encoder: Encoder,
        voiceprint: np.ndarray | None,
        threshold: float = 0.75,
        margin: float = 0.05,
        recent_s: float = 120.0,
        min_snr_db: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.encoder = encoder
        self.voiceprint = None if voiceprint is None else normed(np.asarray(voiceprint, np.float32))
        self.threshold = threshold
        self.margin = margin
        self.recent_s = recent_s
        self.min_snr_db = min_snr_db
        self.clock = clock
        self._lock = threading.Lock()
        self._previous: tuple[float, np.ndarray] | None = None  # (when, partials) of the last utterance
        self.learning = False
        """Enrolment wants each utterance's embedding, though there is no voiceprint to judge by."""

    @property
    def active(self) -> bool:
        """Whether an utterance is worth embedding: there is a voiceprint, or enrolment listens."""
        return self.voiceprint is not None or self.learning

    def learn(self, voiceprint: np.ndarray | None) -> None:
        """A new voiceprint (enrolment), or none (forgotten): from the next utterance on."""
        with self._lock:
            self.voiceprint = None if voiceprint is None else normed(np.asarray(voiceprint, np.float32))
            self._previous = None

    def score(self, embedding: Embedding) -> float:
        """The cosine between the utterance and the voiceprint (0 with none)."""
        vp = self.voiceprint
        return similarity(embedding.vector, vp) if vp is not None else 0.0

    def judge(self, audio: np.ndarray) -> Verdict:
        t0 = time.monotonic()
        return self.decide(self.encoder.embed(audio), t0)

    def decide(self, emb: Embedding, t0: float | None = None) -> Verdict:
        """The verdict on an utterance already embedded (`t0`: when its check began)."""
        t0 = time.monotonic() if t0 is None else t0
        vp = self.voiceprint
        if vp is None:
            return Verdict(
                "", 0.0, took_ms=(time.monotonic() - t0) * 1000, speech_s=emb.speech_s, embedding=emb
            )
        score = similarity(emb.vector, vp)
        now = self.clock()
        with self._lock:
            previous, second = self._previous, False
            if score >= self.threshold - self.margin:
                self._previous = (now, emb.partials)
            if self.threshold - self.margin <= score < self.threshold and previous is not None:
                if now - previous[0] <= self.recent_s:
                    both = np.concatenate([previous[1], emb.partials]).mean(axis=0)
                    second = similarity(both, vp) >= self.threshold
        owner = score >= self.threshold or second
        unsure = score >= self.threshold - self.margin or emb.snr_db < self.min_snr_db
        speaker = OWNER if owner else (UNSURE if unsure else OTHER)
        took = (time.monotonic() - t0) * 1000
        return Verdict(speaker, score, second, took, emb.speech_s, emb)

    def forget_previous(self) -> None:
        """A new conversation (or another voice took over): no second look across it."""
        with self._lock:
            self._previous = None
