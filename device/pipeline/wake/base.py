"""What the wake-word engines share: the error type and input checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class WakeModelError(Exception):
    """A wake-word model that is missing, corrupt or of the wrong kind. The message says which and why."""


def _as_int16(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.int16:
        raise TypeError(f"wake word expects int16 samples, got {frame.dtype}")
    return frame.reshape(-1)


def _need_file(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise WakeModelError(f"{path}: {what} not found")
    if path.stat().st_size == 0:
        raise WakeModelError(f"{path}: {what} is empty")
    return path
