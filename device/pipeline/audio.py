"""Audio frame conventions shared by every stage: 16 kHz mono int16, 32 ms frames; and the log of what
the earpiece played, which the drivers write and the echo handling reads."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import soxr

SAMPLE_RATE = 16000
FRAME_SAMPLES = 512  # 32 ms: Silero VAD's native window at 16 kHz
FRAME_MS = 1000 * FRAME_SAMPLES // SAMPLE_RATE


def to_float32(audio: np.ndarray) -> np.ndarray:
    """int16 (or float) samples -> float32 in [-1, 1]."""
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    return audio.astype(np.float32, copy=False)


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float samples in [-1, 1] (or int16) -> int16, rounded and clipped (exact inverse of to_float32)."""
    if audio.dtype == np.int16:
        return audio
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(frames, channels) -> (frames,) by averaging the channels."""
    if audio.ndim == 1:
        return audio
    if audio.dtype == np.int16:
        return audio.astype(np.int32).mean(axis=1).astype(np.int16)
    return audio.mean(axis=1).astype(audio.dtype)


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono audio, keeping its dtype (int16 or float32)."""
    if from_rate == to_rate or len(audio) == 0:
        return audio
    out = soxr.resample(to_float32(audio), from_rate, to_rate, quality="HQ")
    return to_int16(out) if audio.dtype == np.int16 else out.astype(np.float32)


def frames(audio: np.ndarray, size: int = FRAME_SAMPLES) -> list[np.ndarray]:
    """Split audio into frames of `size` samples, zero-padding the last one."""
    pad = (-len(audio)) % size
    if pad:
        audio = np.concatenate([audio, np.zeros(pad, dtype=audio.dtype)])
    return [audio[i : i + size] for i in range(0, len(audio), size)]


def rms_dbfs(audio: np.ndarray) -> float:
    """Loudness of a block in dB relative to full scale (silence -> -120)."""
    x = to_float32(audio)
    if len(x) == 0:
        return -120.0
    return float(20 * np.log10(np.sqrt(np.mean(x * x)) + 1e-6))


def block_dbfs(audio: np.ndarray, block: int) -> np.ndarray:
    """Loudness (dBFS) of each whole `block` of samples, from the start; a partial last block is left out."""
    n = len(audio) // block
    x = to_float32(audio[: n * block]).reshape(n, block)
    return 10 * np.log10(np.mean(x * x, axis=1) + 1e-12)


def trim_leading_quiet(
    audio: np.ndarray, rate: int, floor_dbfs: float = -50.0, keep_ms: int = 10
) -> np.ndarray:
    """Drop the near-silence a synthesized utterance starts with (Piper puts 0-160 ms there), keeping
    `keep_ms` before the first 5 ms block above `floor_dbfs`: the first sound of a reply comes sooner."""
    block = max(1, rate // 200)
    loud = np.flatnonzero(block_dbfs(audio, block) > floor_dbfs)
    if len(loud) == 0:
        return audio
    start = max(0, loud[0] * block - rate * keep_ms // 1000)
    return audio[start:]


class PlaybackLog:
    """What the earpiece played and when (16 kHz, on the monotonic clock). Thread-safe."""

    def __init__(self, keep_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._blocks: deque[tuple[float, np.ndarray]] = deque()
        self._keep_s = keep_s
        self._clock = clock
        self._lock = threading.Lock()
        self.played_s = 0.0  # total seconds played, ever: replies measure what was heard by differences

    def add(self, t_start: float, audio16k: np.ndarray) -> None:
        with self._lock:
            self._blocks.append((t_start, audio16k))
            self.played_s += len(audio16k) / SAMPLE_RATE
            # Forget what finished playing `keep_s` ago. Not by the new block's start: an earpiece
            # that schedules a whole reply ahead would forget the start of a long one while it plays,
            # and its echo would then count as the owner (it interrupted itself).
            horizon = self._clock() - self._keep_s
            while self._blocks and self._blocks[0][0] + len(self._blocks[0][1]) / SAMPLE_RATE < horizon:
                self._blocks.popleft()

    def count(self, seconds: float) -> None:
        """Audio played with no place on the clock (a file written as fast as possible): it counts
        as heard, but is no echo reference."""
        with self._lock:
            self.played_s += seconds

    def truncate(self, t: float) -> None:
        """Forget audio scheduled after `t` (playback was stopped then)."""
        with self._lock:
            kept: deque[tuple[float, np.ndarray]] = deque()
            for start, audio in self._blocks:
                if start >= t:
                    self.played_s -= len(audio) / SAMPLE_RATE
                    continue
                n = int((t - start) * SAMPLE_RATE)
                if n < len(audio):
                    self.played_s -= (len(audio) - n) / SAMPLE_RATE
                    audio = audio[:n]
                kept.append((start, audio))
            self._blocks = kept

    def reference(self, t0: float, t1: float) -> np.ndarray:
        """The played samples between t0 and t1 (zeros where nothing played)."""
        n = max(0, int(round((t1 - t0) * SAMPLE_RATE)))
        out = np.zeros(n, np.int16)
        with self._lock:
            for start, audio in self._blocks:
                a = int(round((start - t0) * SAMPLE_RATE))
                if a >= n or a + len(audio) <= 0:
                    continue
                lo, hi = max(0, a), min(n, a + len(audio))
                out[lo:hi] = audio[lo - a : hi - a]
        return out

    def last_end(self) -> float:
        """When the last scheduled sample finishes playing."""
        with self._lock:
            if not self._blocks:
                return 0.0
            start, audio = self._blocks[-1]
            return start + len(audio) / SAMPLE_RATE
