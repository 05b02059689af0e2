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

WINDOW_S = 8  # the model sees the last 8 s, zero-padded at the start
WINDOW_SAMPLES = WINDOW_S * SAMPLE_RATE
_N_FFT = 400
_HOP = 160
_N_MELS = 80


class TurnModelError(Exception):
    """The end-of-turn model is missing or unreadable."""


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.atleast_1d(np.asarray(f, dtype=np.float64))
    mels = 3.0 * f / 200.0
    high = f >= 1000.0
    mels[high] = 15.0 + np.log(f[high] / 1000.0) * (27.0 / np.log(6.4))
    return mels


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.atleast_1d(np.asarray(m, dtype=np.float64))
    f = 200.0 * m / 3.0
    high = m >= 15.0
    f[high] = 1000.0 * np.exp(np.log(6.4) / 27.0 * (m[high] - 15.0))
    return f


def _mel_filters() -> np.ndarray:
    """(201 FFT bins, 80 mels) triangular filters with Slaney area normalisation, 0–8 kHz."""
    edges = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array(0.0))[0], _hz_to_mel(np.array(8000.0))[0], _N_MELS + 2)
    )
    bins = np.linspace(0, SAMPLE_RATE // 2, _N_FFT // 2 + 1)
    slopes = edges[None, :] - bins[:, None]
    width = np.diff(edges)
    down = -slopes[:, :-2] / width[:-1]
    up = slopes[:, 2:] / width[1:]
    filters = np.maximum(0.0, np.minimum(down, up))
    return filters * (2.0 / (edges[2:] - edges[:-2]))[None, :]


_FILTERS_T = _mel_filters().T
_HANN = np.hanning(_N_FFT + 1)[:-1]  # periodic, as torch.hann_window


def last_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s as float32 in [-1, 1], zero-padded at the start when shorter."""
    x = to_float32(np.asarray(audio))[-WINDOW_SAMPLES:]
    return np.pad(x, (WINDOW_SAMPLES - len(x), 0)) if len(x) < WINDOW_SAMPLES else x


def features(audio: np.ndarray) -> np.ndarray:
    """(80, 800) log-mel features of the last 8 s of 16 kHz audio, as the model was trained on."""
    x = last_window(audio)
    # Zero-mean, unit-variance over the padded window (padding included), in float32 like the reference.
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), (_N_FFT // 2, _N_FFT // 2), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, _N_FFT)[::_HOP]
    power = np.abs(np.fft.rfft(windows * _HANN, axis=-1)) ** 2
    log_spec = np.log10(np.maximum(1e-10, _FILTERS_T @ power.T))[:, :-1]
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


class SmartTurn:
    """The probability that the speaker has finished, from the audio of their turn so far."""

    def __init__(self, model_path: Path, threads: int = 1):
        import onnxruntime as ort

        if not Path(model_path).is_file():
            raise TurnModelError(
                f"end-of-turn model not found at {model_path}; install it with: "
                "pip install --no-deps pipecat-ai==1.14.0"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self._session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise TurnModelError(
                f"end-of-turn model at {model_path} is unreadable ({type(e).__name__}); "
                "reinstall it with: pip install --force-reinstall --no-deps pipecat-ai==1.14.0"
            ) from e
        self.last_ms = 0.0  # how long the last call took (features + inference)

    def probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for 16 kHz mono audio (int16 or float) ending now; > 0.5 means done."""
        t0 = time.monotonic()
        x = features(audio)[None, :, :]
        out = self._session.run(None, {"input_features": x})[0]
        self.last_ms = (time.monotonic() - t0) * 1000
        return float(np.asarray(out).reshape(-1)[0])
