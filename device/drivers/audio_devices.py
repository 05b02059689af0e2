"""Microphone and earpiece that survive being unplugged: a USB headset pulled out, a Bluetooth link
dropped, a sound server restarted.

AudioDevices owns both. One supervisor thread reads the microphone, watches the earpiece, and while
either is gone retries opening it with exponential backoff, logging every attempt. The voice loop sees
two stable objects: `microphone` (an iterator of (frame, t) that never ends while the device is gone,
and ends when `stop` is set) and `earpiece` (play/drain/stop that drop audio while it is gone, never
raise). `on_lost` is called when one goes (the runner drops a request half heard), and when what was
lost is back, `on_reconnect` (the runner says "I'm back.").

PortAudio scans devices once, when the first PyAudio() initialises it, and counts initialisations:
a re-plugged device shows up only once every PyAudio instance is terminated. So each retry closes the
healthy device too (when it is idle), then opens both: a fraction of a second of deafness on the other
device at each retry, only while one is missing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from device.drivers.audio import AudioDeviceError, PyAudioEarpiece, PyAudioMicrophone
from device.pipeline.audio import PlaybackLog

log = logging.getLogger("os1.audio")

Frame = tuple[np.ndarray, float]


class MicStream(Protocol):
    device: str

    def read_frames(self) -> list[Frame]: ...
    def idle_s(self) -> float: ...
    def close(self) -> None: ...


class EarStream(Protocol):
    device: str
    failed: OSError | None

    @property
    def busy(self) -> bool: ...
    def play(self, audio: np.ndarray, rate: int) -> None: ...
    def drain(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """Retry delays: first_s, doubling, never more than max_s."""

    first_s: float = 0.5
    max_s: float = 10.0

    def delay(self, failures: int) -> float:
        """The wait before the next try, after `failures` failed tries (0 = just lost)."""
        return min(self.max_s, self.first_s * 2 ** min(failures, 30))


@dataclass
class _Slot:
    kind: str  # "microphone" | "earpiece"
    wanted: str  # the configured name ("" = system default)
    dev: object | None = None
    connected: bool = False  # False from a loss (or a failed start) until it opens again
    failed_attempts: int = 0  # since it was lost
    reconnects: int = 0
    opened_once: bool = False
    error: str | None = None

    def status(self, next_try_s: float | None) -> dict[str, object]:
        return {
            "device": self.wanted or "default",
            "open": getattr(self.dev, "device", None),
            "connected": self.connected,
            "failed_attempts": self.failed_attempts,
            "reconnects": self.reconnects,
            "error": self.error,
            "next_try_s": None if self.connected else next_try_s,
        }


def _close_quietly(dev: object) -> None:
    try:
        dev.close()  # type: ignore[attr-defined]
    except Exception as e:  # a device that is gone may fail to close too; the instance is gone anyway
        log.debug("close: %s", e)


class AudioDevices:
    """A microphone and an earpiece that come back by themselves. See the module docstring."""

    QUEUE_FRAMES = 100  # 3.2 s of frames waiting for a slow consumer before the oldest are dropped

    def __init__(
        self,
        open_mic: Callable[[], MicStream],
        open_ear: Callable[[PlaybackLog], EarStream],
        mic_name: str = "",
        ear_name: str = "",
        backoff: Backoff = Backoff(),
        stop: threading.Event | None = None,
        on_reconnect: Callable[[str], None] | None = None,
        volume: float = 1.0,
    ):
        self._open = {"microphone": open_mic, "earpiece": open_ear}
        self.volume = volume  # the earpiece's, kept here so a reopened device gets the latest
        self.backoff = backoff
        self.stop = stop or threading.Event()
        self.on_reconnect = on_reconnect
        self.on_lost: Callable[[str], None] | None = None  # called with "microphone" or "earpiece"
        self.playback = PlaybackLog()  # one for the daemon's life: the voice loop holds on to it
        self._mic = _Slot("microphone", mic_name)
        self._ear = _Slot("earpiece", ear_name)
        self._ear_lock = threading.Lock()  # the earpiece is swapped under it, used under it
        self._frames: queue.Queue[Frame] = queue.Queue(self.QUEUE_FRAMES)
        self._failures = 0  # failed tries since something was lost
        self._returned: list[str] = []  # came back since the last on_reconnect
        self._next_try = 0.0
        self.microphone = Microphone(self)
        self.earpiece = Earpiece(self)
        # Open now, so a normal start logs its devices before the models warm up; a missing device
        # is not fatal: a worn device boots before its Bluetooth headset connects.
        self._started = False
        self._try_open()
        self._started = True  # from now on, a device that opens is news worth saying
        self._thread = threading.Thread(target=self._run, name="os1-audio", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ state
    @property
    def connected(self) -> bool:
        return self._mic.connected and self._ear.connected

    def status(self) -> dict[str, object]:
        """For `os1 status`: per device the wanted and open names, connected, attempts and last error."""
        wait = max(0.0, self._next_try - time.monotonic())
        return {"microphone": self._mic.status(wait), "earpiece": self._ear.status(wait)}

    def backlog(self) -> int:
        """Frames read from the microphone that the voice loop has not taken yet."""
        return self._frames.qsize()

    def drop_backlog(self) -> int:
        """Forget the frames waiting (heard while the models loaded, before anyone was listening); how
        many. The loop then starts level with the microphone, not seconds behind it."""
        dropped = 0
        while True:
            try:
                self._frames.get_nowait()
            except queue.Empty:
                return dropped
            dropped += 1

    def close(self) -> None:
        self.stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        self._close_all()

    # ------------------------------------------------------------ the supervisor thread
    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self._watch_earpiece()
                if not self.connected and time.monotonic() >= self._next_try:
                    self._try_open()
                mic = self._mic.dev
                if mic is None:
                    self.stop.wait(0.05)
                    continue
                try:
                    frames = mic.read_frames()  # type: ignore[attr-defined]
                except OSError as e:  # PortAudio errors, AudioStalled
                    self._lose(self._mic, e)
                    continue
                if not frames:
                    self.stop.wait(mic.idle_s())  # type: ignore[attr-defined]
                for frame in frames:
                    self._put(frame)
        except Exception:  # a bug here must not leave the daemon deaf in silence
            log.exception("audio supervisor failed")
            self.stop.set()
        finally:
            self._close_all()

    def _put(self, frame: Frame) -> None:
        try:
            self._frames.put_nowait(frame)
        except queue.Full:  # the consumer is stuck: keep the newest audio
            self._frames.get_nowait()
            self._frames.put_nowait(frame)

    def _watch_earpiece(self) -> None:
        ear = self._ear.dev
        if ear is not None and ear.failed is not None:  # type: ignore[attr-defined]
            self._lose(self._ear, ear.failed)  # type: ignore[attr-defined]

    def _lose(self, slot: _Slot, error: BaseException) -> None:
        if self.on_lost is not None:  # first: closing a device on a hung sound server can take long
            try:
                self.on_lost(slot.kind)
            except Exception:
                log.exception("on_lost failed")
        if slot.dev is not None:
            self._set_dev(slot, None)
        if self.connected:  # nothing else was missing: the backoff starts over
            self._failures = 0
        slot.connected = False
        slot.failed_attempts = 0
        slot.error = str(error)
        self._next_try = time.monotonic() + self.backoff.delay(self._failures)
        log.warning(
            "%s '%s' lost (%s); retrying in %.1f s",
            slot.kind,
            slot.wanted or "default",
            error,
            self._next_try - time.monotonic(),
        )

    def _try_open(self) -> None:
        """Open whatever is missing. The healthy device is closed first so PortAudio rescans."""
        ear = self._ear.dev
        if ear is not None and ear.busy:  # type: ignore[attr-defined]
            self._next_try = time.monotonic() + 0.25  # not in the middle of a reply
            return
        for slot in (self._mic, self._ear):
            if slot.dev is not None:
                self._set_dev(slot, None)
        back = []
        for slot in (self._mic, self._ear):
            try:
                dev = self._open_one(slot)
            except (AudioDeviceError, OSError) as e:
                self._failed(slot, e)
                continue
            self._set_dev(slot, dev)
            if not slot.connected:
                log.info("%s %s: %s", slot.kind, "is back" if slot.opened_once else "found", dev.device)  # type: ignore[attr-defined]
                slot.connected = True
                slot.reconnects += slot.opened_once
                slot.opened_once = True
                slot.failed_attempts = 0
                slot.error = None
                back.append(slot.kind)
        # Said once, when everything is back: a headset's microphone and earpiece may return on
        # different tries.
        self._returned += [k for k in back if k not in self._returned]
        if self.connected:
            self._failures = 0
            returned, self._returned = self._returned, []
            if returned and self._started and self.on_reconnect is not None:
                self._announce(" and ".join(k for k in ("microphone", "earpiece") if k in returned))
        else:
            self._failures += 1
            self._next_try = time.monotonic() + self.backoff.delay(self._failures)

    def _open_one(self, slot: _Slot) -> object:
        if slot.kind == "microphone":
            return self._open["microphone"]()
        ear = self._open["earpiece"](self.playback)  # type: ignore[call-arg]
        ear.volume = self.volume  # the latest volume, also for a device that came back
        return ear

    def _failed(self, slot: _Slot, error: BaseException) -> None:
        slot.connected = False
        slot.failed_attempts += 1
        changed = str(error) != slot.error
        slot.error = str(error)
        delay = self.backoff.delay(self._failures + 1)
        # The full message (it lists the devices there are) when it changes; a short line otherwise.
        if changed:
            log.warning("%s '%s': attempt %d failed: %s", slot.kind, slot.wanted, slot.failed_attempts, error)
        log.info(
            "%s '%s': attempt %d failed; next try in %.1f s",
            slot.kind,
            slot.wanted or "default",
            slot.failed_attempts,
            delay,
        )

    def _announce(self, what: str) -> None:
        try:
            self.on_reconnect(what)  # type: ignore[misc]
        except Exception:
            log.exception("on_reconnect failed")

    def _set_dev(self, slot: _Slot, dev: object | None) -> None:
        old = slot.dev
        if slot is self._ear:
            with self._ear_lock:
                slot.dev = dev
                if old is not None:
                    _close_quietly(old)
            return
        slot.dev = dev
        if old is not None:
            _close_quietly(old)

    def _close_all(self) -> None:
        for slot in (self._mic, self._ear):
            if slot.dev is not None:
                self._set_dev(slot, None)


class Microphone:
    """Frames from whichever microphone is open; waits (does not end) while none is. Ends on stop."""

    def __init__(self, devices: AudioDevices):
        self._devices = devices

    def __iter__(self) -> Iterator[Frame]:
        stop, frames = self._devices.stop, self._devices._frames
        while not stop.is_set():
            try:
                yield frames.get(timeout=0.1)
            except queue.Empty:
                continue

    def close(self) -> None:
        self._devices.close()


class Earpiece:
    """The voice loop's sink. While the device is gone, audio is dropped and nothing waits."""

    def __init__(self, devices: AudioDevices):
        self._devices = devices
        self.playback = devices.playback

    def _dev(self) -> EarStream | None:
        return self._devices._ear.dev  # type: ignore[return-value]

    def play(self, audio: np.ndarray, rate: int) -> None:
        with self._devices._ear_lock:
            dev = self._dev()
            if dev is not None:
                dev.play(audio, rate)

    def drain(self) -> None:
        dev = self._dev()  # not under the lock: a reply takes seconds; close() wakes drain()
        if dev is not None:
            dev.drain()

    def stop(self) -> None:
        with self._devices._ear_lock:
            dev = self._dev()
            if dev is not None:
                dev.stop()

    def close(self) -> None:
        self._devices.close()

    @property
    def volume(self) -> float:
        return self._devices.volume

    @volume.setter
    def volume(self, value: float) -> None:
        """A new volume (a config reload): now, and for the device when it is reopened."""
        self._devices.volume = value
        with self._devices._ear_lock:
            dev = self._dev()
            if dev is not None:
                dev.volume = value  # type: ignore[attr-defined]


def live_audio(
    input_device: str,
    output_device: str,
    rate: int = 0,
    period_ms: int = 32,
    volume: float = 1.0,
    backoff: Backoff = Backoff(),
    stall_s: float = 2.0,
    stop: threading.Event | None = None,
) -> AudioDevices:
    """AudioDevices on PortAudio: the daemon's microphone and earpiece."""
    return AudioDevices(
        open_mic=lambda: PyAudioMicrophone(input_device, rate, period_ms, stall_s=stall_s),
        open_ear=lambda playback: PyAudioEarpiece(
            output_device, rate, period_ms, volume, playback=playback, stall_s=stall_s
        ),
        mic_name=input_device,
        ear_name=output_device,
        backoff=backoff,
        stop=stop,
        volume=volume,
    )
