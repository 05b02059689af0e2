"""Audio frame conventions shared by every stage: 16 kHz mono int16, 32 ms frames."""

from __future__ import annotations

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
