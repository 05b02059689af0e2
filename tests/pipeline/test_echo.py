"""The playback log that the echo gate and the echo canceller read their reference from."""

from __future__ import annotations

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, PlaybackLog
from device.pipeline.echo import EchoGate


class Clock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def _tone(seconds: float, value: int) -> np.ndarray:
    return np.full(int(seconds * SAMPLE_RATE), value, np.int16)


def test_a_long_reply_scheduled_ahead_keeps_its_start_while_it_plays() -> None:
    """An earpiece may queue a whole 15 s reply at once. The start of it is still the echo reference
    while it plays; it used to be forgotten as soon as a block 10 s later was queued."""
    clock = Clock()
    log = PlaybackLog(keep_s=10.0, clock=clock)
    for i in range(15):  # fifteen 1 s chunks, all queued now
        log.add(clock.t + i, _tone(1.0, 1000 + i))
    ref = log.reference(clock.t + 0.5, clock.t + 0.6)
    assert (ref == 1000).all(), "the first chunk was dropped while it was playing"
    gate = EchoGate(log)
    assert gate.active(clock.t + 14.9)


def test_what_finished_long_ago_is_forgotten() -> None:
    clock = Clock()
    log = PlaybackLog(keep_s=10.0, clock=clock)
    log.add(clock.t, _tone(1.0, 1000))
    clock.t += 12.0
    log.add(clock.t, _tone(1.0, 2000))
    assert not log.reference(clock.t - 12.0, clock.t - 11.5).any()
    assert (log.reference(clock.t, clock.t + 0.5) == 2000).all()
    assert log.played_s == 2.0  # what was heard is counted, whatever the reference keeps
