"""Voice activity with the Silero VAD ONNX model through onnxruntime (no torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, to_float32
from device.pipeline.onnx_session import open_session

_CONTEXT = 64  # Silero v5+ expects the last 64 samples of the previous window before each 512 new ones


class VadModelError(Exception):
    """The VAD model is missing or unreadable."""


class SileroVad:
    """Speech probability for each 512-sample (32 ms) frame at 16 kHz."""

    def __init__(self, model_path: Path, threads: int = 1):
        self._session = open_session(
            model_path, "VAD model", VadModelError,
            "install it with: pip install --no-deps silero-vad",
            "reinstall it with: pip install --force-reinstall --no-deps silero-vad", threads,
        )  # fmt: skip
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(_CONTEXT, np.float32)

    def probability(self, frame: np.ndarray) -> float:
        """Speech probability of one 512-sample frame."""
        x = to_float32(frame)
        if len(x) != FRAME_SAMPLES:
            x = np.pad(x[:FRAME_SAMPLES], (0, max(0, FRAME_SAMPLES - len(x))))
        window = np.concatenate([self._context, x])[None, :]
        out, self._state = self._session.run(None, {"input": window, "state": self._state, "sr": self._sr})
        self._context = x[-_CONTEXT:]
        return float(out[0, 0])
