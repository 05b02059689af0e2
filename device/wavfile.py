"""Read and write WAV files as 16 kHz mono int16, with a clear error for anything that is not audio."""

from __future__ import annotations

import os
import tempfile
import wave
from pathlib import Path

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, resample, to_int16, to_mono


class AudioFileError(Exception):
    """A file that cannot be read as audio. The message names the file and what is wrong."""


def read_wav(path: str | Path, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Any PCM WAV (any rate, any channel count, 8/16/24/32-bit) -> mono int16 at `rate`."""
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, src_rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError, OSError) as e:
        raise AudioFileError(f"{path}: not a readable WAV file ({e}); convert it with: sox IN -r 16000 -c 1 OUT.wav") from e
    if channels < 1 or src_rate <= 0:
        raise AudioFileError(f"{path}: WAV header is corrupt (channels={channels}, rate={src_rate})")
    samples = _decode(raw, width, path)
    usable = len(samples) - len(samples) % channels
    audio = to_mono(samples[:usable].reshape(-1, channels))
    return to_int16(resample(audio, src_rate, rate))


def _decode(raw: bytes, width: int, path: Path) -> np.ndarray:
    if width == 1:  # unsigned 8-bit
        return to_int16((np.frombuffer(raw, np.uint8).astype(np.float32) - 128) / 128)
    if width == 2:
        return np.frombuffer(raw, "<i2").copy()
    if width == 3:
        b = np.frombuffer(raw[: len(raw) - len(raw) % 3], np.uint8).reshape(-1, 3).astype(np.int32)
        v = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8 >> 8  # sign-extend 24-bit
        return to_int16(v.astype(np.float32) / 8388608.0)
    if width == 4:
        return to_int16(np.frombuffer(raw, "<i4").astype(np.float32) / 2147483648.0)
    raise AudioFileError(f"{path}: unsupported sample width of {width} bytes")


def write_wav(path: str | Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write mono audio as 16-bit PCM, atomically: a crash never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(to_int16(audio).tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
