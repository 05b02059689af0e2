"""File stand-ins for the microphone and earpiece: WAV files, and a microphone that hears the earpiece.

They have the shape of the PortAudio drivers in device.drivers.audio: a microphone is an iterator of
(frame, t) where frame is 512 int16 samples at 16 kHz and t the monotonic time it was captured; an
earpiece has play(audio, rate), drain(), stop() and close().
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from device.drivers.wavfile import read_wav, write_wav
from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, PlaybackLog, resample, to_int16


class FileMicrophone:
    """A recording standing in for the microphone, followed by silence until the caller stops.

    realtime=True paces frames at the microphone's speed, so timings match a live conversation.
    """

    def __init__(self, path: str | Path | np.ndarray, realtime: bool = True, tail_s: float = 3.0):
        self.audio = path if isinstance(path, np.ndarray) else read_wav(path)
        self.realtime = realtime
        self.tail_s = tail_s
        self.duration_s = len(self.audio) / SAMPLE_RATE
        self.started_at: float | None = None

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        # Frames are cut from self.audio as they come due, so a test can mix a voice in while it runs.
        self.started_at = start = time.monotonic()
        tail = int(self.tail_s * SAMPLE_RATE)
        i = 0
        while i * FRAME_SAMPLES < len(self.audio) + tail:
            frame = self.audio[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            if len(frame) < FRAME_SAMPLES:
                frame = np.concatenate([frame, np.zeros(FRAME_SAMPLES - len(frame), np.int16)])
            i += 1
            due = start + i * FRAME_SAMPLES / SAMPLE_RATE  # a frame exists once its last sample is in
            if self.realtime:
                time.sleep(max(0.0, due - time.monotonic()))
            yield frame, time.monotonic()


class FileEarpiece:
    """Plays into a WAV file (written atomically on close).

    realtime=True plays at the speed of a real earpiece: audio is scheduled back to back on the clock,
    drain() waits for it, and stop() cuts it where it is, so barge-in and echo behave as on a device.
    """

    def __init__(self, path: str | Path, realtime: bool = True):
        self.path = Path(path)
        self.realtime = realtime
        self.playback = PlaybackLog()
        self.rate: int | None = None
        self._items: list[tuple[float, np.ndarray]] = []  # (start time, audio at self.rate)
        self._end = 0.0
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def play(self, audio: np.ndarray, rate: int) -> None:
        x = to_int16(audio)
        with self._lock:
            self.rate = self.rate or rate
            now = time.monotonic()
            start = max(now, self._end) if self.realtime else now
            self._end = start + len(x) / rate if self.realtime else now
            self._items.append((start, resample(x, rate, self.rate)))
            if self.realtime:
                self.playback.add(start, resample(x, rate, SAMPLE_RATE))
            else:
                self.playback.count(len(x) / rate)
            self._stopped.clear()

    def drain(self) -> None:
        while (left := self._end - time.monotonic()) > 0:
            if self._stopped.wait(min(left, 0.05)):
                return

    def stop(self) -> None:
        now = time.monotonic()
        with self._lock:
            rate = self.rate or SAMPLE_RATE
            kept = []
            for start, audio in self._items:
                if start < now:
                    kept.append((start, audio[: int((now - start) * rate)]))
            self._items = kept
            self.playback.truncate(now)
            self._end = min(self._end, now)
            self._stopped.set()

    def close(self) -> Path:
        parts = [audio for _, audio in self._items]
        audio = np.concatenate(parts) if parts else np.zeros(0, np.int16)
        return write_wav(self.path, audio, self.rate or SAMPLE_RATE)


class EchoMicrophone:
    """A microphone that also hears the earpiece: the reply, delayed and attenuated, mixed into the
    frames, as bone conduction and small speakers leak into a lapel mic. For testing echo handling."""

    def __init__(
        self,
        mic: Iterable[tuple[np.ndarray, float]],
        earpiece_log: PlaybackLog,
        gain_db: float = -12.0,
        delay_ms: float = 40.0,
    ):
        self.mic, self.log = mic, earpiece_log
        self.gain = 10 ** (gain_db / 20)
        self.delay_s = delay_ms / 1000

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        frame_s = FRAME_SAMPLES / SAMPLE_RATE
        for frame, t in self.mic:
            echo = self.log.reference(t - frame_s - self.delay_s, t - self.delay_s)[:FRAME_SAMPLES]
            mixed = frame.astype(np.float32) + self.gain * echo.astype(np.float32)
            yield np.clip(mixed, -32768, 32767).astype(np.int16), t
