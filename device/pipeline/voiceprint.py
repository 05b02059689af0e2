"""Whose voice is this? Resemblyzer's GE2E speaker encoder (Apache-2.0), converted to ONNX, on
onnxruntime.

An utterance is cut into 1.6 s partials (160 mel frames, a new one every ~0.77 s); each becomes a
256-d embedding, and the utterance's embedding is their L2-normed mean, as in Resemblyzer's
`embed_utterance`. The owner's voiceprint is the normed mean of their enrolment utterances; a voice is
scored by the cosine between the two. Resemblyzer's preprocessing is followed: volume raised (never
lowered) to -30 dBFS, and long silences cut (here by loudness, where it used webrtcvad).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, block_dbfs, to_float32
from device.pipeline.mel import mel_power
from device.pipeline.onnx_session import open_session

N_MELS = 40
HOP = SAMPLE_RATE // 100  # 10 ms frames
PARTIAL_FRAMES = 160  # 1.6 s
PARTIAL_STEP = round(SAMPLE_RATE / 1.3 / HOP)  # Resemblyzer's 1.3 partials a second
MIN_COVERAGE = 0.75
NORM_DBFS = -30.0
MAX_SPEECH_S = 4.0  # the last 4 s of speech: enough to know a voice, and a check of a few partials
_WINDOW = 480  # 30 ms loudness windows for cutting silences
_KEEP_QUIET_WINDOWS = 6  # as Resemblyzer: a pause of up to 180 ms stays


class VoiceprintError(Exception):
    """The voice encoder model is missing or unreadable; the message names the fix."""


def trim_silences(x: np.ndarray) -> np.ndarray:
    """`x` without the quiet stretches longer than 180 ms: windows within 35 dB of the loudest and
    6 dB over the background are voice, widened by 180 ms. In steady loud noise nothing is cut."""
    n = len(x) // _WINDOW
    if n < 3:
        return x
    db = block_dbfs(x[: n * _WINDOW], _WINDOW)
    background = float(np.percentile(db, 10))
    voiced = db > max(float(db.max()) - 35.0, background + 6.0, -60.0)
    if not voiced.any():
        return x
    wide = np.convolve(voiced.astype(float), np.ones(2 * _KEEP_QUIET_WINDOWS + 1), "same") > 0
    return x[: n * _WINDOW].reshape(n, _WINDOW)[wide].reshape(-1)


def snr_db(audio: np.ndarray) -> float:
    """Roughly how far speech stands over the background: the loudest tenth of 30 ms blocks against
    the quietest tenth. An utterance with no pause at all reads low."""
    db = block_dbfs(to_float32(np.asarray(audio)), _WINDOW)
    if len(db) < 10:
        return 0.0
    return float(np.percentile(db, 90) - np.percentile(db, 10))


def prepare(audio: np.ndarray) -> np.ndarray:
    """16 kHz audio as the encoder was trained on it: float, silences cut, quiet speech raised."""
    x = trim_silences(to_float32(np.asarray(audio)))[-int(MAX_SPEECH_S * SAMPLE_RATE) :]
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0
    if rms > 0:
        gain_db = NORM_DBFS - 20 * np.log10(rms)
        if gain_db > 0:
            x = x * np.float32(10 ** (gain_db / 20))
    return x.astype(np.float32)


def partial_starts(n_samples: int) -> list[int]:
    """The first mel frame of each 1.6 s partial covering `n_samples` (Resemblyzer's slicing: the last
    partial is kept if at least 75% of it is audio, and there is always one)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    steps = max(1, n_frames - PARTIAL_FRAMES + PARTIAL_STEP + 1)
    starts = list(range(0, steps, PARTIAL_STEP))
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


@dataclass
class Embedding:
    """One utterance as the encoder hears it."""

    partials: np.ndarray
    """(n, 256) L2-normed embeddings of its 1.6 s partials."""
    speech_s: float
    """Seconds of audio left after cutting the silences."""
    took_ms: float = 0.0
    """How long the encoder took (features and inference)."""
    snr_db: float = 0.0
    """How far the loudest tenth of the audio stands over its quietest tenth (30 ms blocks)."""

    @property
    def vector(self) -> np.ndarray:
        return normed(self.partials.mean(axis=0))


def normed(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (1 = the same direction)."""
    return float(np.dot(normed(a), normed(b)))


class VoiceEncoder:
    """Embeds an utterance of 16 kHz audio (int16 or float) with the GE2E encoder."""

    def __init__(self, model_path: Path, threads: int = 1):
        self._session = open_session(
            model_path, "voice encoder", VoiceprintError,
            "make it with: os1 models convert ge2e-voice-encoder",
            "make it again with: os1 models convert --force ge2e-voice-encoder", threads,
        )  # fmt: skip

    def embed(self, audio: np.ndarray) -> Embedding:
        t0 = time.monotonic()
        snr = snr_db(audio)
        x = prepare(audio)
        speech_s = len(x) / SAMPLE_RATE
        starts = partial_starts(len(x))
        need = (starts[-1] + PARTIAL_FRAMES) * HOP
        if need > len(x):
            x = np.pad(x, (0, need - len(x)))
        mel = mel_power(x, N_MELS).astype(np.float32)
        mels = np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts])
        partials = self._session.run(None, {"mels": mels})[0]
        return Embedding(partials, speech_s, (time.monotonic() - t0) * 1000, snr)
