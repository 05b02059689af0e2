"""Microphone and earpiece: PortAudio/ALSA through pyaudio, or WAV files standing in for them.

Both kinds have the same shape: a microphone is an iterator of (frame, t) where frame is 512 int16
samples at 16 kHz and t the monotonic time it was captured; an earpiece has play(audio, rate),
drain() and close(). Devices run at whatever rate they like (JACK and USB often only do 44.1 or
48 kHz); audio is resampled both ways here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soxr

from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, frames, resample, to_int16
from device.wavfile import read_wav, write_wav

log = logging.getLogger("os1.audio")


class AudioDeviceError(Exception):
    """No usable audio device; the message lists what there is and how to choose."""


# ---------------------------------------------------------------- files
class FileMicrophone:
    """A recording standing in for the microphone, followed by silence until the caller stops.

    realtime=True paces frames at the microphone's speed, so timings match a live conversation.
    """

    def __init__(self, path: str | Path, realtime: bool = True, tail_s: float = 3.0):
        self.audio = read_wav(path)
        self.realtime = realtime
        self.tail_s = tail_s
        self.duration_s = len(self.audio) / SAMPLE_RATE

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        silence = np.zeros(FRAME_SAMPLES, np.int16)
        recording = frames(self.audio)
        tail = [silence] * int(self.tail_s * SAMPLE_RATE / FRAME_SAMPLES)
        start = time.monotonic()
        for i, frame in enumerate(recording + tail):
            due = start + (i + 1) * FRAME_SAMPLES / SAMPLE_RATE  # a frame exists once its last sample is in
            if self.realtime:
                time.sleep(max(0.0, due - time.monotonic()))
            yield frame, time.monotonic()


class FileEarpiece:
    """Collects what would be played and writes it to a WAV on close (atomically)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rate: int | None = None
        self._parts: list[np.ndarray] = []
        self.first_play_t: float | None = None

    def play(self, audio: np.ndarray, rate: int) -> None:
        if self.first_play_t is None:
            self.first_play_t = time.monotonic()
        if self.rate is None:
            self.rate = rate
        self._parts.append(resample(to_int16(audio), rate, self.rate))

    def drain(self) -> None:
        pass

    def close(self) -> Path:
        audio = np.concatenate(self._parts) if self._parts else np.zeros(0, np.int16)
        return write_wav(self.path, audio, self.rate or SAMPLE_RATE)


# ---------------------------------------------------------------- PortAudio
def _pyaudio():  # type: ignore[no-untyped-def]
    try:
        import pyaudio
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise AudioDeviceError(
            "pyaudio is not installed; run: sudo apt-get install portaudio19-dev && pip install pyaudio"
        ) from e
    return pyaudio


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """ALSA and JACK print dozens of lines to fd 2 while PortAudio probes every PCM; hide them."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _open_portaudio():  # type: ignore[no-untyped-def]
    pyaudio = _pyaudio()
    with _quiet_stderr():
        return pyaudio, pyaudio.PyAudio()


def list_devices() -> list[dict[str, object]]:
    """Every PortAudio device: index, name, input/output channel counts and default rate."""
    _, pa = _open_portaudio()
    try:
        out = []
        for i in range(pa.get_device_count()):
            d = pa.get_device_info_by_index(i)
            out.append(
                {
                    "index": i,
                    "name": d["name"],
                    "inputs": int(d["maxInputChannels"]),
                    "outputs": int(d["maxOutputChannels"]),
                    "rate": int(d["defaultSampleRate"]),
                }
            )
        return out
    finally:
        pa.terminate()


def find_device(pa: object, name: str, want_input: bool) -> tuple[int | None, int]:
    """(device index, default rate) for the first device whose name contains `name`; "" = system default."""
    key = "maxInputChannels" if want_input else "maxOutputChannels"
    if not name:
        info = pa.get_default_input_device_info() if want_input else pa.get_default_output_device_info()  # type: ignore[attr-defined]
        return None, int(info["defaultSampleRate"])
    names = []
    for i in range(pa.get_device_count()):  # type: ignore[attr-defined]
        d = pa.get_device_info_by_index(i)  # type: ignore[attr-defined]
        if d[key] > 0:
            names.append(d["name"])
            if name.lower() in d["name"].lower():
                return i, int(d["defaultSampleRate"])
    kind = "input" if want_input else "output"
    raise AudioDeviceError(
        f"no audio {kind} device matching '{name}' (have: {', '.join(names) or 'none'}); "
        "set audio.device in the config or pass --audio-device"
    )


class _PortAudioStream:
    """One open PortAudio stream, input or output, on the device whose name contains `device`."""

    def __init__(self, device: str, rate: int, period_ms: int, is_input: bool):
        pyaudio, self._pa = _open_portaudio()
        what = "microphone" if is_input else "earpiece"
        try:
            index, default_rate = find_device(self._pa, device, want_input=is_input)
            self.rate = rate or default_rate
            self._period = max(64, self.rate * period_ms // 1000)
            with _quiet_stderr():
                self._stream = self._pa.open(
                    format=pyaudio.paInt16,
                    channels=1,
                    rate=self.rate,
                    input=is_input,
                    output=not is_input,
                    frames_per_buffer=self._period,
                    input_device_index=index if is_input else None,
                    output_device_index=None if is_input else index,
                )
        except AudioDeviceError:
            self._pa.terminate()
            raise
        except (OSError, ValueError) as e:
            self._pa.terminate()
            raise AudioDeviceError(
                f"cannot open the {what} '{device or 'default'}' ({e}); "
                "check `os1 doctor` and audio.device in the config"
            ) from e
        log.info("%s open: %s at %d Hz", what, device or "default", self.rate)

    def _close_stream(self) -> None:
        try:
            self._stream.stop_stream()
            self._stream.close()
        finally:
            self._pa.terminate()


class PyAudioMicrophone(_PortAudioStream):
    """Live capture, resampled to 16 kHz and cut into 512-sample frames."""

    def __init__(self, device: str = "", rate: int = 0, period_ms: int = 32):
        super().__init__(device, rate, period_ms, is_input=True)
        self._resampler = soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="int16")

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        buf = np.zeros(0, np.int16)
        while True:
            raw = self._stream.read(self._period, exception_on_overflow=False)
            t = time.monotonic()
            x = np.frombuffer(raw, np.int16)
            if self.rate != SAMPLE_RATE:
                x = self._resampler.resample_chunk(x)
            buf = np.concatenate([buf, x])
            while len(buf) >= FRAME_SAMPLES:
                frame, buf = buf[:FRAME_SAMPLES], buf[FRAME_SAMPLES:]
                yield frame, t

    def close(self) -> None:
        self._close_stream()


class PyAudioEarpiece(_PortAudioStream):
    """Live playback on its own thread. The stream stays open and is fed silence between replies,
    so the first words of a reply are never clipped by a device waking up."""

    def __init__(self, device: str = "", rate: int = 0, period_ms: int = 32, volume: float = 1.0):
        super().__init__(device, rate, period_ms, is_input=False)
        self.volume = volume
        self._queue: queue.Queue[np.ndarray] = queue.Queue()
        self._pending = 0  # chunks queued but not yet written
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._running = True
        self._thread = threading.Thread(target=self._run, name="os1-earpiece", daemon=True)
        self._thread.start()

    def play(self, audio: np.ndarray, rate: int) -> None:
        x = resample(to_int16(audio), rate, self.rate)
        if self.volume != 1.0:
            x = to_int16(x.astype(np.float32) * self.volume / 32768.0)
        with self._lock:
            self._pending += 1
        self._queue.put(x)

    def drain(self) -> None:
        with self._done:
            self._done.wait_for(lambda: self._pending == 0)

    def _run(self) -> None:
        silence = np.zeros(self._period, np.int16).tobytes()
        while self._running:
            try:
                x = self._queue.get(timeout=0.001)
            except queue.Empty:
                self._stream.write(silence)  # paced by the device: keeps the stream warm
                continue
            for i in range(0, len(x), self._period):  # period-sized writes keep the latency low
                self._stream.write(x[i : i + self._period].tobytes())
            with self._done:
                self._pending -= 1
                self._done.notify_all()

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2)
        self._close_stream()
