"""What the microphone heard while the models loaded is dropped when the loop starts listening
(device/app/daemon.py): held to a Pi 4's CPU, the loop started 3 s behind, never caught up before the
queue overflowed, and the first "hey jarvis" after READY=1 was lost."""

from __future__ import annotations

import threading
import time

import numpy as np

from device.drivers.audio_devices import AudioDevices, Backoff
from device.pipeline.audio import FRAME_SAMPLES
from tests.drivers.test_stall import QuietEarpiece


class CountingMicrophone:
    """A MicStream that hands over numbered frames at once (the frame's first sample is its number)."""

    device = "counting"

    def __init__(self) -> None:
        self.n = 0

    def read_frames(self) -> list[tuple[np.ndarray, float]]:
        time.sleep(0.001)
        self.n += 1
        return [(np.full(FRAME_SAMPLES, self.n % 30000, np.int16), time.monotonic())]

    def idle_s(self) -> float:
        return 0.001

    def close(self) -> None: ...


def test_frames_queued_before_listening_are_dropped_and_the_next_ones_are_new() -> None:
    mic = CountingMicrophone()
    stop = threading.Event()
    devices = AudioDevices(lambda: mic, lambda _p: QuietEarpiece(), backoff=Backoff(0.1, 0.4), stop=stop)
    try:
        deadline = time.monotonic() + 10
        while devices.backlog() < AudioDevices.QUEUE_FRAMES and time.monotonic() < deadline:
            time.sleep(0.01)
        heard_before = mic.n
        assert devices.drop_backlog() >= AudioDevices.QUEUE_FRAMES - 1
        frame, _t = next(iter(devices.microphone))
        assert int(frame[0]) >= heard_before  # heard after the drop, not a queue's length behind
    finally:
        stop.set()
        devices.close()
