"""The owner's voiceprint: stored 0600 in the state dir, made from a few utterances (the first
meeting's answers, or `os1 voice enroll`), with a spoken request for more when they are too short or
too noisy to know a voice by."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.atomic import write_text_atomic
from device.pipeline.audio import FRAME_MS
from device.pipeline.voiceprint import Embedding, normed

FILE = "voiceprint.json"
MIN_UTTERANCE_S = 1.0
"""Shorter than this ("yes", "Sam") says too little about a voice to count."""
MIN_TOTAL_S = 8.0
"""Speech, in all, that a voiceprint is made from."""
MIN_UTTERANCES = 3
MIN_SNR_DB = 12.0
"""Speech this far over the background, or it is too noisy to learn a voice from."""


class VoiceprintCorrupt(Exception):
    """The voiceprint file cannot be read; the message says how to make a new one."""


@dataclass
class Voiceprint:
    """What the owner's voice is like, to the speaker encoder."""

    vector: np.ndarray
    """The L2-normed mean of the enrolment utterances' embeddings (256 floats)."""
    utterances: int
    """How many utterances it was made from."""
    speech_s: float
    """Seconds of speech it was made from."""
    model: str
    """The encoder's model id: a voiceprint from another encoder means nothing to this one."""
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def path(state_dir: Path) -> Path:
    return Path(state_dir) / FILE


def load(state_dir: Path, model: str | None = None) -> Voiceprint | None:
    """The stored voiceprint, None if there is none, or VoiceprintCorrupt (one line, with the fix).
    With `model`, one made by another encoder is VoiceprintCorrupt too: its numbers mean nothing to
    this one."""
    p = path(state_dir)
    if not p.exists():
        return None
    fix = f"make a new one with: os1 voice forget && os1 voice enroll ({p})"
    vp = _read(p, fix)
    if model is not None and vp.model != model:
        raise VoiceprintCorrupt(f"the voiceprint was made with {vp.model}, not {model}; {fix}")
    return vp


def _read(p: Path, fix: str) -> Voiceprint:
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        vector = np.asarray(data["vector"], dtype=np.float32)
        if vector.shape != (256,) or not np.isfinite(vector).all() or not np.linalg.norm(vector) > 0:
            raise ValueError("not a 256-number voiceprint")
        return Voiceprint(
            normed(vector), int(data["utterances"]), float(data["speech_s"]), str(data["model"]),
            str(data.get("created", "")),
        )  # fmt: skip
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise VoiceprintCorrupt(f"the voiceprint is unreadable ({type(e).__name__}: {e}); {fix}") from e


def save(state_dir: Path, vp: Voiceprint) -> Path:
    """Atomically, readable by the owner alone."""
    data = {
        "vector": [round(float(x), 6) for x in vp.vector],
        "utterances": vp.utterances,
        "speech_s": round(vp.speech_s, 2),
        "model": vp.model,
        "created": vp.created,
    }
    p = path(state_dir)
    write_text_atomic(p, json.dumps(data) + "\n", mode=0o600, keep_mode=False)
    return p


def forget(state_dir: Path) -> bool:
    p = path(state_dir)
    if not p.exists():
        return False
    p.unlink()
    return True


@dataclass
class Enrolment:
    """Utterances in, a voiceprint out once there is enough clean speech."""

    model: str
    embeddings: list[Embedding] = field(default_factory=list)

    @property
    def speech_s(self) -> float:
        return sum(e.speech_s for e in self.embeddings)

    @property
    def ready(self) -> bool:
        return len(self.embeddings) >= MIN_UTTERANCES and self.speech_s >= MIN_TOTAL_S

    def add(self, embedding: Embedding) -> str | None:
        """Take one utterance; a spoken line when it cannot be used (too short, too noisy), else None."""
        if embedding.speech_s < MIN_UTTERANCE_S:
            return "That was a bit short for me to learn your voice. Could you say a whole sentence?"
        if embedding.snr_db < MIN_SNR_DB:
            return "It's too noisy for me to learn your voice here. Could we try somewhere quieter?"
        self.embeddings.append(embedding)
        return None

    def still_needed(self) -> str:
        """What to ask for next, while not ready."""
        left = max(MIN_UTTERANCES - len(self.embeddings), 1)
        return f"Say {left} more {'sentence' if left == 1 else 'sentences'}, in your own words."

    def voiceprint(self) -> Voiceprint:
        vector = normed(np.mean([e.vector for e in self.embeddings], axis=0))
        return Voiceprint(vector, len(self.embeddings), self.speech_s, self.model)


def one_utterance(
    frames: Iterable[np.ndarray],
    speech_probability: Callable[[np.ndarray], float],
    wait_s: float = 8.0,
    quiet_s: float = 1.0,
    max_s: float = 12.0,
) -> np.ndarray | None:
    """The next thing said into `frames` (a live microphone's): from 0.3 s before the first speech to
    `quiet_s` of quiet after it, at most `max_s`. None if nobody speaks within `wait_s`. Time is
    counted in frames, so a recording fed fast decides the same."""
    before, taken = [], []
    speech_ms = quiet_ms = waited_ms = 0
    for frame in frames:
        speaking = speech_probability(frame) >= 0.5
        if not taken and not speaking:
            before = [*before[-9:], frame]  # ~0.3 s of what came before the first word
            waited_ms += FRAME_MS
            if waited_ms >= wait_s * 1000:
                return None
            continue
        if not taken:
            taken = list(before)
        taken.append(frame)
        speech_ms += FRAME_MS if speaking else 0
        quiet_ms = 0 if speaking else quiet_ms + FRAME_MS
        if (speech_ms >= 300 and quiet_ms >= quiet_s * 1000) or len(taken) * FRAME_MS >= max_s * 1000:
            break
    return np.concatenate(taken) if taken else None
