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
    """Any audio file libsndfile reads (WAV of any width incl. float and extensible, FLAC, OGG),
    any rate and channel count -> mono int16 at `rate`."""
    import soundfile

    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        audio, src_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        raise AudioFileError(
            f"{path}: not a readable WAV file ({e}); convert it with: sox IN -r 16000 -c 1 -b 16 OUT.wav"
        ) from e
    if src_rate <= 0:
        raise AudioFileError(f"{path}: WAV header is corrupt (rate={src_rate})")
    if len(audio) == 0:  # before the models load, and not "nothing was heard after the wake"
        raise AudioFileError(f"{path}: has no audio in it (0 samples); record it again")
    return to_int16(resample(to_mono(audio), src_rate, rate))


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
