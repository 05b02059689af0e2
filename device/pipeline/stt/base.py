"""Speech to text: what the three engines share (the contract is `stages.SpeechToText`).

Frames are 16 kHz mono int16, any length. An utterance is `start()`, `accept()` per frame, `finish()`.
Streaming engines (Moonshine, Vosk) decode inside `accept()`, so `finish()` only has to wrap up;
Whisper is a segment engine: it buffers, and transcribes in `finish()` (or earlier, see `speculate()`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from device.pipeline.audio import FRAME_SAMPLES, rms_dbfs, to_int16
from device.pipeline.stages import SpeechToText


class SttModelError(Exception):
    """A speech model that is missing or cannot be loaded. The message is one line: the path and the fix."""


def transcribe(stt: SpeechToText, audio: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> str:
    """Run a whole clip through `stt` as a stream would: start, frame by frame, finish."""
    stt.start()
    audio = to_int16(audio)
    for i in range(0, len(audio), frame_samples):
        stt.accept(audio[i : i + frame_samples])
    return stt.finish()


class _TailWatch:
    """Tells whether anything loud arrived since a mark, so a decode made at the mark can be reused.

    A frame is loud if it is within `quiet_db` of the loudest frame so far and above `floor_dbfs`.
    Quiet means silence or steady background noise well under the speech: trailing audio like that
    cannot change the transcript, so engines skip re-decoding it in `finish()`.
    """

    def __init__(self, quiet_db: float = 20.0, floor_dbfs: float = -55.0):
        self.quiet_db = quiet_db
        self.floor_dbfs = floor_dbfs
        self.reset()

    def reset(self) -> None:
        self.peak_dbfs = -120.0
        self.loud_since_mark = False

    def feed(self, samples: np.ndarray) -> None:
        for i in range(0, len(samples), FRAME_SAMPLES):
            db = rms_dbfs(samples[i : i + FRAME_SAMPLES])
            self.peak_dbfs = max(self.peak_dbfs, db)
            if db >= max(self.floor_dbfs, self.peak_dbfs - self.quiet_db):
                self.loud_since_mark = True

    def mark(self) -> None:
        self.loud_since_mark = False


def _require_dir(path: Path, files: tuple[str, ...], what: str, fix: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise SttModelError(f"{what} model not found at {path}: no such folder; {fix}")
    missing = [f for f in files if not (path / f).exists()]
    if missing:
        raise SttModelError(f"{what} model at {path} is incomplete (missing {', '.join(missing)}); {fix}")
    return path


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))
