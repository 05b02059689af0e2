"""The soak's sound card: a microphone that plays the planned day into the daemon faster than real time,
and an earpiece that listens for the first sound of each reply. They stand in for PortAudio's streams
behind the daemon's own AudioDevices (the MicStream and EarStream protocols), so its supervisor, queue
and reconnects are the ones a worn device runs.

The day is fed as fast as the voice loop takes it (a backlog of a few frames at most), except from the
end of a request until its turn is logged: that stretch goes at the microphone's real pace, so each
response gap is what an owner would wait, not what a flood of frames would make it. The gap is timed
from outside, as blackbox-gap does: from the last frame of speech handed over to the first loud sample
the earpiece gets."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from device.drivers.wavfile import read_wav
from device.evals.reliability.soak_day import Item, Quiet, Say, Unplug
from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, PlaybackLog, to_int16
from device.pipeline.settings import LoopSettings

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
SILENT = np.zeros(FRAME_SAMPLES, np.int16)
LOUD = 300  # int16: a reply's first sound, above the comfort noise of nothing
TURN_WAIT_S = 45.0  # a request with no turn logged by then was not heard (a missed wake word)
# After a reply the loop listens for a follow-up this long, by the clock: the day goes on at the real
# pace until the window has closed, or a minute of street would pass inside a 5-second window.
FOLLOW_UP_S = LoopSettings().follow_up_s + 1.0
SAMPLE_EVERY_S = 60.0  # of audio: RSS, threads and open files


def process_figures() -> dict[str, int]:
    """This process's resident memory (kB), threads and open file descriptors, from /proc."""
    status = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line
    )
    return {
        "rss_kb": int(status["VmRSS"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": len(os.listdir("/proc/self/fd")),
        **heap_figures(),
    }


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost",
    )]  # fmt: skip


def heap_figures() -> dict[str, int]:
    """glibc's heap (kB): in use by malloc, free but kept, and mmapped blocks. RSS growing while "in use"
    stays flat is fragmentation (arenas); "in use" growing is memory really held. {} off glibc."""
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except (OSError, AttributeError):
        return {}
    mallinfo2.restype = _MallInfo2
    m = mallinfo2()
    return {
        "heap_used_kb": m.uordblks // 1024,
        "heap_free_kb": m.fordblks // 1024,
        "mmap_kb": m.hblkhd // 1024,
    }


@dataclass
class Awaiting:
    """A request said, its reply not yet heard or its turn not yet logged."""

    say: Say
    ended: float
    """time.monotonic() when its last frame was handed to the daemon."""
    audio_s: float
    """Audio fed so far, when it ended."""
    first_sound: float | None = None
    """When the earpiece got the first loud sample after it."""
    log: str | None = None
    """The daemon's `turn ...` line for it."""
    unplug: str | None = None
    """The device unplugged during it, if any."""
    done: threading.Event = field(default_factory=threading.Event)


class SoakFeed:
    """The day, frame by frame, shared by every microphone and earpiece the daemon opens."""

    BACKLOG = 6  # frames waiting in the daemon's queue before the feed holds back

    def __init__(self, plan: list[Item], clips: Path, events: TextIO, press: Callable[[bool], None]):
        self._frames = self._day(plan, clips)
        self._events, self._press = events, press
        self._lock = threading.Lock()
        self.backlog: Callable[[], int] = lambda: self.BACKLOG
        """The daemon's queue length (AudioDevices.backlog), set once the devices exist (until then
        the feed holds)."""
        self.audio_s = 0.0
        self.paced = False
        self._paced_until = 0.0
        self._next_due = 0.0
        self._next_sample = 0.0
        self.awaiting: Awaiting | None = None
        self.unplug: str | None = None
        """The device to fail now: 'microphone' (its next read) or 'earpiece' (its `failed`)."""
        self._unplug_next: str | None = None
        """The device the day unplugs during the next request: the microphone halfway through what
        the owner says, the earpiece at the first sound of the reply."""
        self.done = threading.Event()
        self.street = _street_bed()
        self.announced_s = 0.0
        """Seconds of audio the earpiece got with no request waiting: reminders, "I'm back"."""

    # ------------------------------------------------------------ what the microphone reads
    def read(self) -> list[tuple[np.ndarray, float]]:
        if self.unplug == "microphone":
            self.unplug = None
            self.record("unplug", device="microphone")
            raise OSError("soak: the microphone was unplugged")
        if self.done.is_set() or self.backlog() >= self.BACKLOG:
            return []
        if self.audio_s >= self._next_sample:
            self._next_sample += SAMPLE_EVERY_S
            self.record("sample", **process_figures())
        now = time.monotonic()
        paced = self.paced or now < self._paced_until
        if paced:
            if now < self._next_due:
                return []
            self._next_due = max(self._next_due + FRAME_S, now - 0.1)
        out = []
        for _ in range(1 if paced else 8):
            frame = next(self._frames, None)
            if frame is None:
                self.done.set()
                break
            self.audio_s += FRAME_S
            out.append((frame, time.monotonic()))
            if self.paced:
                break
        return out

    def _day(self, plan: list[Item], clips: Path) -> Iterator[np.ndarray]:
        for item in plan:
            if isinstance(item, Quiet):
                yield from self._quiet(item)
            elif isinstance(item, Unplug):
                self._unplug_next = item.device
            else:
                yield from self._say(item, read_wav(clips / item.clip))

    def _quiet(self, q: Quiet) -> Iterator[np.ndarray]:
        for i in range(int(q.seconds / FRAME_S)):
            yield self.street[i % len(self.street)] if q.street else SILENT

    def _say(self, say: Say, clip: np.ndarray) -> Iterator[np.ndarray]:
        if say.tap:  # a finger's 0.1 s on the button, then the double-tap window runs out, in real time
            self._pace(True)
            self._press(True)
            for i in range(int(0.7 / FRAME_S)):
                if i == 3:
                    self._press(False)
                yield SILENT
            self._pace(False)
        frames = len(clip) // FRAME_SAMPLES + 1
        clip = np.concatenate([clip, np.zeros(frames * FRAME_SAMPLES - len(clip), np.int16)])
        unplug, self._unplug_next = self._unplug_next, None
        for i in range(frames):
            if unplug == "microphone" and i == frames // 2:
                self.unplug = "microphone"  # pulled mid-sentence: the rest of it is never heard
                break
            frame = clip[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            if say.street:
                frame = np.clip(frame.astype(np.int32) + self.street[i % len(self.street)], -32768, 32767)
            yield frame.astype(np.int16)
        with self._lock:
            self.awaiting = wait = Awaiting(say, time.monotonic(), self.audio_s, unplug=unplug)
        self._pace(True)
        deadline = time.monotonic() + TURN_WAIT_S
        while not wait.done.is_set() and time.monotonic() < deadline:
            yield SILENT
        with self._lock:
            self.awaiting = None
        self._pace(False)
        self._paced_until = time.monotonic() + FOLLOW_UP_S
        gap = None if wait.first_sound is None else round((wait.first_sound - wait.ended) * 1000)
        self.record(
            "turn", say=say.kind, text=say.text, voice=say.voice, tap=say.tap, street=say.street,
            code=say.code, task=say.task, gap_ms=gap, log=wait.log, unplugged=unplug,
        )  # fmt: skip

    def _pace(self, on: bool) -> None:
        self.paced = on
        self._next_due = max(self._next_due, time.monotonic())

    # ------------------------------------------------------------ what the daemon does
    def heard(self, audio: np.ndarray, rate: int) -> None:
        """The earpiece got this."""
        with self._lock:
            wait = self.awaiting
            if wait is not None and wait.first_sound is None and np.abs(audio).max(initial=0) > LOUD:
                wait.first_sound = time.monotonic()
                if wait.unplug == "earpiece":
                    self.unplug = "earpiece"  # pulled as the reply begins: the rest goes nowhere
            elif wait is None:
                self.announced_s += len(audio) / rate

    def logged(self, line: str) -> None:
        """A `turn ...` line of the daemon's log: the reply to the request waiting, or a turn of its own
        (street noise heard as speech, a follow-up that heard nothing, a reply cut off)."""
        with self._lock:
            wait = self.awaiting
            if wait is not None and wait.log is None and " reply='' " not in line:
                wait.log = line
                wait.done.set()
                return
        self.record("other-turn", log=line)

    def record(self, kind: str, **fields: object) -> None:
        head = {"kind": kind, "audio_s": round(self.audio_s, 1), "wall": time.monotonic()}
        line = json.dumps(head | fields)
        with self._lock:
            self._events.write(line + "\n")
            self._events.flush()


def _street_bed(seconds: float = 20.0) -> list[np.ndarray]:
    """A street, frame by frame: pink rumble at -38 dBFS with a car passing (+14 dB, 4 s) every 20 s."""
    from device.evals.speech import pink_noise

    bed = pink_noise(seconds, dbfs=-38.0, seed=11).astype(np.float32)
    t = np.arange(len(bed)) / SAMPLE_RATE
    swell = 1.0 + 4.0 * np.exp(-(((t - seconds / 2) / 1.5) ** 2))  # +14 dB at the car's nearest
    bed = to_int16(bed * swell / 32768.0)
    return [bed[i : i + FRAME_SAMPLES] for i in range(0, len(bed) - FRAME_SAMPLES + 1, FRAME_SAMPLES)]


class SoakMicrophone:
    """A MicStream: the day's frames, as PortAudio's microphone would hand them over."""

    def __init__(self, feed: SoakFeed):
        self.feed, self.device = feed, "soak microphone"

    def read_frames(self) -> list[tuple[np.ndarray, float]]:
        return self.feed.read()

    def idle_s(self) -> float:
        return FRAME_S / 16

    def close(self) -> None:
        pass


class SoakEarpiece:
    """An EarStream that plays nothing: it tells the feed what it got, and fails when the day unplugs it.
    Like `os1 run --fast`'s earpiece, a reply takes no time to play."""

    def __init__(self, feed: SoakFeed, playback: PlaybackLog):
        self.feed, self.playback, self.device, self.volume = feed, playback, "soak earpiece", 1.0
        self._failed: OSError | None = None

    @property
    def failed(self) -> OSError | None:
        if self._failed is None and self.feed.unplug == "earpiece":
            self.feed.unplug = None
            self.feed.record("unplug", device="earpiece")
            self._failed = OSError("soak: the earpiece was unplugged")
        return self._failed

    @property
    def busy(self) -> bool:
        return False

    def play(self, audio: np.ndarray, rate: int) -> None:
        if self._failed is None:
            x = to_int16(audio)
            self.playback.count(len(x) / rate)
            self.feed.heard(x, rate)

    def drain(self) -> None:
        pass

    def stop(self) -> None:
        self.playback.truncate(time.monotonic())

    def close(self) -> None:
        pass


class TurnLines(logging.Handler):
    """The daemon's `turn ...` log lines, handed to the feed."""

    def __init__(self, feed: SoakFeed):
        super().__init__(logging.INFO)
        self.feed = feed

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("turn "):
            self.feed.logged(message)
