"""The companion must not hear itself: a gate that tells the user's voice from the echo of the reply in
the microphone (what the earpiece played is in device.pipeline.audio.PlaybackLog).

The gate compares each microphone frame with the reference (what was played just before it, over a
window that covers the acoustic and buffer delay). It learns the echo return loss (how much quieter
the echo is than the reference) while the reply plays, and counts a frame as the user only when it is
clearly louder than the echo would be.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, PlaybackLog, rms_dbfs


@dataclass
class EchoGate:
    """Is this speech-like microphone frame the user, or the companion's own voice coming back?"""

    log: PlaybackLog
    max_delay_ms: int = 250  # acoustic path plus device buffers
    margin_db: float = 6.0  # the user must be this much louder than the expected echo
    tail_ms: int = 300  # room reverberation after the reply ends
    erl_db: float = field(default=0.0)  # echo return loss; starts pessimistic (echo as loud as the reply)
    min_erl_samples: int = 25  # frames of playback (~0.8 s) before the learned level is trusted
    # ~10 s of playback: the owner talking over a reply is a small part of it, so the 10th
    # percentile stays on the echo. It carries over from reply to reply (the hardware's echo path).
    _erl_samples: deque[float] = field(default_factory=lambda: deque(maxlen=300), init=False)

    def reference_db(self, t: float, frame_s: float) -> float:
        ref = self.log.reference(t - frame_s - self.max_delay_ms / 1000, t)
        if len(ref) == 0:
            return -120.0
        # The loudest 32 ms of the window: the echo can come from anywhere in it.
        n = max(1, int(frame_s * SAMPLE_RATE))
        blocks = [ref[i : i + n] for i in range(0, max(1, len(ref) - n + 1), n // 2)]
        return max(rms_dbfs(b) for b in blocks)

    def active(self, t: float) -> bool:
        """Whether the companion's voice may be in the microphone now."""
        return t <= self.log.last_end() + (self.tail_ms + self.max_delay_ms) / 1000

    def hears_user(self, frame: np.ndarray, t: float, speechlike: bool) -> bool:
        """Whether a microphone frame heard while the earpiece may play is the user: speech-like (the
        VAD says so) and clearly louder than the echo of what was just played.

        Every other frame teaches the gate the echo return loss, quiet ones too, not only those the
        VAD calls speech: an earpiece whose echo is too quiet for the VAD taught nothing before, so
        the gate stayed at its pessimistic start (0 dB: echo as loud as the reply) and the owner had to
        be 6 dB louder than the reply itself to interrupt it."""
        ref_db = self.reference_db(t, len(frame) / SAMPLE_RATE)
        mic_db = rms_dbfs(frame)
        if speechlike and (ref_db < -60 or mic_db > ref_db - self.erl_db + self.margin_db):
            return True  # nothing was played just now, or it is clearly louder than the echo
        if ref_db >= -50:  # enough was played to say how loud its echo comes back
            self._erl_samples.append(ref_db - mic_db)
            # Not from a handful: while the canceller converges its output swings by 10 dB or more,
            # and a level learned in the first 0.2 s let a loud swing through as the owner.
            if len(self._erl_samples) >= self.min_erl_samples:
                # The loudest the echo came back relative to what was played (the smallest difference).
                self.erl_db = max(0.0, float(np.percentile(self._erl_samples, 10)))
        return False
