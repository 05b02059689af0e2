"""Microphone and earpiece: PortAudio/ALSA through pyaudio (file stand-ins: device.drivers.audio_files).

A microphone is an iterator of (frame, t) where frame is 512 int16 samples at 16 kHz and t the
monotonic time it was captured; an earpiece has play(audio, rate), drain(), stop() and close().
Devices run at whatever rate they like (JACK and USB often only do 44.1 or 48 kHz); audio is
resampled both ways here.
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

import numpy as np
import soxr

from device.drivers.jack_watch import JackWatch
from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, PlaybackLog, resample, to_int16

log = logging.getLogger("os1.audio")


class AudioDeviceError(Exception):
    """No usable audio device; the message lists what there is and how to choose."""


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
    """(pyaudio, a PyAudio, a JackWatch if that PyAudio has a JACK host API, else None)."""
    pyaudio = _pyaudio()
    with _quiet_stderr():
        pa = pyaudio.PyAudio()
        try:
            pa.get_host_api_info_by_type(pyaudio.paJACK)
        except OSError:  # no JACK server ran at Pa_Initialize: nothing to watch
            return pyaudio, pa, None
        return pyaudio, pa, JackWatch()


_KEPT: list[object] = []  # PyAudio instances never terminated: their JACK server stopped under them


def _terminate(pa: object, watch: JackWatch | None) -> None:
    """pa.terminate(), unless the JACK server PortAudio holds a client on has stopped: terminating it
    then aborts the process (see device/drivers/jack_watch.py), so it is kept. PortAudio counts its
    initialisations, so with one kept the device list is no longer scanned afresh: a device plugged in
    later is seen after a restart."""
    if watch is not None and watch.stopped:
        if not _KEPT:
            log.warning(
                "the sound server (JACK) stopped under PortAudio; PortAudio is kept open (closing it "
                "now would abort), so newly plugged devices are seen after a restart of os1"
            )
        _KEPT.append(pa)
    else:
        with _quiet_stderr():
            pa.terminate()  # type: ignore[attr-defined]
    if watch is not None:
        with _quiet_stderr():
            watch.close()


def list_devices() -> list[dict[str, object]]:
    """Every PortAudio device: index, name, input/output channel counts and default rate.
    PortAudio scans devices once per PyAudio(), so this is a fresh look each call."""
    _, pa, watch = _open_portaudio()
    try:
        return _rows(pa)
    finally:
        _terminate(pa, watch)


def match_device(devices: list[dict[str, object]], name: str, want_input: bool) -> dict[str, object]:
    """The device `name` means, from list_devices() rows: case-insensitive, an exact name first, then
    a name starting with it, then one containing it; only devices that can record (or play)."""
    key = "inputs" if want_input else "outputs"
    kind = "input" if want_input else "output"
    usable = [d for d in devices if int(d[key]) > 0]  # type: ignore[call-overload]
    want = name.strip().lower()
    for fits in (str.__eq__, str.startswith, str.__contains__):
        hits = [d for d in usable if fits(str(d["name"]).lower(), want)]
        if hits:
            if len(hits) > 1:
                log.info("'%s' matches %d %s devices; using '%s'", name, len(hits), kind, hits[0]["name"])
            return hits[0]
    wrong_way = [str(d["name"]) for d in devices if want in str(d["name"]).lower()]
    why = f"'{wrong_way[0]}' cannot {'record' if want_input else 'play'}; " if wrong_way else ""
    have = ", ".join(f"'{d['name']}'" for d in usable) or "none"
    raise AudioDeviceError(
        f"no audio {kind} device matching '{name}' ({why}{kind} devices: {have}); "
        "set audio.device in the config or pass --audio-device"
    )


def _rows(pa: object) -> list[dict[str, object]]:
    rows = []
    for i in range(pa.get_device_count()):  # type: ignore[attr-defined]
        d = pa.get_device_info_by_index(i)  # type: ignore[attr-defined]
        rows.append(
            {
                "index": i,
                "name": d["name"],
                "inputs": int(d["maxInputChannels"]),
                "outputs": int(d["maxOutputChannels"]),
                "rate": int(d["defaultSampleRate"]),
            }
        )
    return rows


def find_device(pa: object, name: str, want_input: bool) -> tuple[int | None, int]:
    """(device index, default rate) on an open PyAudio for `name` (see match_device); "" = system default."""
    if not name.strip():
        try:
            info = pa.get_default_input_device_info() if want_input else pa.get_default_output_device_info()  # type: ignore[attr-defined]
        except OSError as e:  # PortAudio: -9996 "No Default Input Device Available"
            kind = "input" if want_input else "output"
            have = ", ".join(f"'{d['name']}'" for d in _rows(pa) if int(d[kind + "s"]) > 0) or "none"  # type: ignore[call-overload]
            raise AudioDeviceError(
                f"no default audio {kind} device ({kind} devices: {have}); set audio.device in the config"
            ) from e
        return None, int(info["defaultSampleRate"])
    d = match_device(_rows(pa), name, want_input)
    return int(d["index"]), int(d["rate"])  # type: ignore[call-overload]


class AudioStalled(OSError):
    """The device stopped moving audio without an error: a Bluetooth link or sound server that went
    quiet. Treated like a read/write error: the device is gone."""


class _PortAudioStream:
    """One open PortAudio stream, input or output, on the device `device` names (see match_device).

    Each stream has its own PyAudio instance: PortAudio scans the devices once, at Pa_Initialize, and
    counts initialisations, so a re-plugged device is only seen after every instance is terminated.
    """

    def __init__(self, device: str, rate: int, period_ms: int, is_input: bool, stall_s: float = 2.0):
        pyaudio, self._pa, self._watch = _open_portaudio()
        self.what = "microphone" if is_input else "earpiece"
        self.stall_s = stall_s
        try:
            index, default_rate = find_device(self._pa, device, want_input=is_input)
            self.rate = rate or default_rate
            self.device = device or "default"
            if index is not None:
                self.device = str(self._pa.get_device_info_by_index(index)["name"])
            # At least 64 frames (ALSA rejects tiny periods on many cards), and one period of audio.
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
            _terminate(self._pa, self._watch)
            raise
        except (OSError, ValueError) as e:
            _terminate(self._pa, self._watch)
            raise AudioDeviceError(
                f"cannot open the {self.what} '{device or 'default'}' ({e}); "
                "check `os1 doctor` and audio.device in the config"
            ) from e
        latency = self._stream.get_input_latency() if is_input else self._stream.get_output_latency()
        log.info(
            "%s open: %s at %d Hz, %d-frame periods, %.0f ms device latency",
            self.what,
            self.device,
            self.rate,
            self._period,
            latency * 1000,
        )

    def _close_stream(self) -> None:
        # A device that is gone fails stop/close too; the PyAudio instance must go regardless.
        try:
            self._stream.stop_stream()
            self._stream.close()
        except OSError as e:
            log.debug("%s close: %s", self.what, e)
        finally:
            _terminate(self._pa, self._watch)


class PyAudioMicrophone(_PortAudioStream):
    """Live capture, resampled to 16 kHz and cut into 512-sample frames.

    Reads only what the device says it has: a blocking Pa_ReadStream on a device that went away can
    hang for good (PortAudio 19.6 over the ALSA jack plugin does, measured), and then nothing could
    notice. No audio for `stall_s` raises AudioStalled; a PortAudio failure raises OSError.
    """

    def __init__(self, device: str = "", rate: int = 0, period_ms: int = 32, stall_s: float = 2.0):
        super().__init__(device, rate, period_ms, is_input=True, stall_s=stall_s)
        self._resampler = soxr.ResampleStream(self.rate, SAMPLE_RATE, 1, dtype="int16")
        # A block reaches us this long after its last sample was captured: timestamps say when it was.
        self._latency_s = self._stream.get_input_latency()
        self._buf = np.zeros(0, np.int16)
        self._last_audio = time.monotonic()

    def read_frames(self) -> list[tuple[np.ndarray, float]]:
        """The frames captured since the last call, without blocking (often none)."""
        avail = self._stream.get_read_available()
        now = time.monotonic()
        if avail < self._period:
            if now - self._last_audio > self.stall_s:
                raise AudioStalled(f"no audio from the microphone for {now - self._last_audio:.1f} s")
            return []
        self._last_audio = now
        raw = self._stream.read(self._period, exception_on_overflow=False)
        t = now - self._latency_s - (avail - self._period) / self.rate  # older if we were behind
        x = np.frombuffer(raw, np.int16)
        if self.rate != SAMPLE_RATE:
            x = self._resampler.resample_chunk(x)
        self._buf = np.concatenate([self._buf, x])
        out = []
        while len(self._buf) >= FRAME_SAMPLES:
            frame, self._buf = self._buf[:FRAME_SAMPLES], self._buf[FRAME_SAMPLES:]
            out.append((frame, t))
        return out

    def idle_s(self) -> float:
        """How long to sleep when read_frames had nothing: a quarter period keeps latency low."""
        return self._period / self.rate / 4

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        while True:
            frames = self.read_frames()
            if not frames:
                time.sleep(self.idle_s())
            yield from frames

    def close(self) -> None:
        self._close_stream()


class PyAudioEarpiece(_PortAudioStream):
    """Live playback on its own thread.

    The stream stays open and is fed silence between replies, so the first words are never clipped by
    a device waking up; but only a couple of periods are ever queued in the device, so a reply starts
    (and a barge-in stops it) within about two periods instead of a whole ALSA buffer.

    If the device fails (OSError, or it stops taking audio for `stall_s`), the writer stops, `failed`
    holds the error, and play/drain/stop return at once: the voice loop never waits on a dead device.
    """

    LEAD_PERIODS = 2  # how much audio sits in the device buffer ahead of the speaker

    def __init__(
        self,
        device: str = "",
        rate: int = 0,
        period_ms: int = 32,
        volume: float = 1.0,
        playback: PlaybackLog | None = None,
        stall_s: float = 2.0,
    ):
        # Short writes: the reply starts (and a barge-in stops it) within a couple of these.
        super().__init__(device, rate, min(period_ms, 10), is_input=False, stall_s=stall_s)
        self.volume = volume
        self.playback = playback or PlaybackLog()
        self.failed: OSError | None = None
        self._queue: queue.Queue[tuple[np.ndarray, np.ndarray]] = queue.Queue()
        self._pending = 0  # chunks queued but not yet written
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._stop_count = 0  # bumped by stop(): the writer drops the chunk it is on
        self._running = True
        self._buffer_frames = max(self._period, self._stream.get_write_available())
        self._thread = threading.Thread(target=self._run, name="os1-earpiece", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """A reply is queued or playing."""
        return self._pending > 0

    def play(self, audio: np.ndarray, rate: int) -> None:
        if self.failed or not self._running:
            return  # the device is gone: the audio is dropped, not queued for nobody
        x = to_int16(audio)
        x16 = resample(x, rate, SAMPLE_RATE)
        dev = resample(x, rate, self.rate)
        if self.volume != 1.0:
            dev = to_int16(dev.astype(np.float32) * self.volume / 32768.0)
        with self._lock:
            self._pending += 1
        self._queue.put((dev, x16))

    def drain(self) -> None:
        with self._done:
            self._done.wait_for(lambda: self._pending == 0)

    def stop(self) -> None:
        with self._done:
            self._stop_count += 1
            while not self._queue.empty():
                self._queue.get_nowait()
                self._pending -= 1
            self._done.wait_for(lambda: self._pending == 0, timeout=0.5)
            self._done.notify_all()
        self.playback.truncate(time.monotonic() + (0.0 if self.failed else self._queued_s()))

    def _queued_s(self) -> float:
        """Audio already in the device buffer, ahead of what is written next."""
        try:
            return max(0, self._buffer_frames - self._stream.get_write_available()) / self.rate
        except OSError:
            return 0.0

    def _write(self, block: np.ndarray) -> float:
        """Write one period once the device buffer is down to LEAD_PERIODS and has room for it; returns
        when it will sound. Never a write that would block: on a device that stopped taking audio (a hung
        sound server) Pa_WriteStream never returns, and the stall could not be noticed."""
        waited_since = time.monotonic()
        lead_s = self.LEAD_PERIODS * self._period / self.rate
        while self._queued_s() > lead_s or self._stream.get_write_available() < len(block):
            if time.monotonic() - waited_since > self.stall_s:
                raise AudioStalled(f"the earpiece took no audio for {self.stall_s:.1f} s")
            time.sleep(self._period / self.rate / 4)
        when = time.monotonic() + self._queued_s()
        self._stream.write(block.tobytes())
        return when

    def _run(self) -> None:
        try:
            self._play_loop()
        except OSError as e:  # PortAudio: -9999 Unanticipated host error when a USB card is pulled
            log.warning("earpiece %s failed: %s", self.device, e)
            self.failed = e
        finally:
            self._release()

    def _release(self) -> None:
        """Nothing more will be written: drop the queue and wake anyone waiting in drain()."""
        with self._done:
            while not self._queue.empty():
                self._queue.get_nowait()
            self._pending = 0
            self._done.notify_all()

    def _play_loop(self) -> None:
        silence = np.zeros(self._period, np.int16)
        p16 = max(1, self._period * SAMPLE_RATE // self.rate)
        while self._running:
            try:
                dev, x16 = self._queue.get(timeout=0.001)
            except queue.Empty:
                self._write(silence)  # keeps the stream warm
                continue
            generation = self._stop_count
            for k, i in enumerate(range(0, len(dev), self._period)):
                if self._stop_count != generation or not self._running:
                    break
                when = self._write(dev[i : i + self._period])
                self.playback.add(when, x16[k * p16 : (k + 1) * p16])
            with self._done:
                self._pending = max(0, self._pending - 1)
                self._done.notify_all()

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2 + self.stall_s)
        self._close_stream()
