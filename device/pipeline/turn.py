"""Has the speaker finished? Smart Turn v3 (Daily/pipecat, BSD-2-Clause) judges it from the audio.

The model hears intonation and rhythm: a falling "...to my mother?" reads as done, a level "What is
the capital of" as a pause. It takes the last 8 s of 16 kHz audio as Whisper-style features and
returns the probability that the turn is complete.

The features follow pipecat's numpy copy of transformers' WhisperFeatureExtractor
(`pipecat/audio/turn/smart_turn/_whisper_features.py`, itself derived from Apache-2.0 code); the
pipecat package is not imported (its __init__ pulls in its own dependencies), only the ONNX file is used.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, to_float32
from device.pipeline.mel import mel_filters, power_frames
from device.pipeline.onnx_session import open_session

WINDOW_S = 8  # the model sees the last 8 s, zero-padded at the start
WINDOW_SAMPLES = WINDOW_S * SAMPLE_RATE
_N_FFT = 400
_HOP = 160
_N_MELS = 80


class TurnModelError(Exception):
    """The end-of-turn model is missing or unreadable."""


def last_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s as float32 in [-1, 1], zero-padded at the start when shorter."""
    x = to_float32(np.asarray(audio))[-WINDOW_SAMPLES:]
    return np.pad(x, (WINDOW_SAMPLES - len(x), 0)) if len(x) < WINDOW_SAMPLES else x


def features(audio: np.ndarray) -> np.ndarray:
    """(80, 800) log-mel features of the last 8 s of 16 kHz audio, as the model was trained on."""
    x = last_window(audio)
    # Zero-mean, unit-variance over the padded window (padding included), in float32 like the reference.
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    power = power_frames(x, _N_FFT, _HOP)
    log_spec = np.log10(np.maximum(1e-10, mel_filters(_N_MELS, _N_FFT).T @ power.T))[:, :-1]
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """The probability that the speaker has finished, from the audio of their turn so far."""

    def __init__(self, model_path: Path, threads: int = 1):
        self._session = open_session(
            model_path, "end-of-turn model", TurnModelError,
            "install it with: pip install --no-deps pipecat-ai==1.14.0",
            "reinstall it with: pip install --force-reinstall --no-deps pipecat-ai==1.14.0", threads,
        )  # fmt: skip
        self.last_ms = 0.0  # how long the last call took (features + inference)

    def probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for 16 kHz mono audio (int16 or float) ending now; > 0.5 means done."""
        t0 = time.monotonic()
        x = features(audio)[None, :, :]
        out = self._session.run(None, {"input_features": x})[0]
        self.last_ms = (time.monotonic() - t0) * 1000
        return float(np.asarray(out).reshape(-1)[0])
