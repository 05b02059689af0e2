"""Acoustic echo cancellation with libspeexdsp (Xiph's MDF canceller plus its residual-echo
suppressor), through ctypes. The library comes from Debian/Pi OS (`libspeexdsp1`): no compiler needed.

It takes each microphone frame and the audio the earpiece played over the same moment, and returns
the microphone with the echo of that audio removed, so the wake word, VAD and STT hear the user and
not the companion's own voice.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

_ECHO_SET_SAMPLING_RATE = 24  # speex_echo.h
_PREPROCESS_SET_DENOISE = 0  # speex_preprocess.h
_PREPROCESS_SET_ECHO_STATE = 24


class EchoCancellerUnavailable(Exception):
    """libspeexdsp is not installed."""


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("speexdsp") or "libspeexdsp.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        raise EchoCancellerUnavailable(
            "echo cancellation needs libspeexdsp; install it with: sudo apt-get install libspeexdsp1"
        ) from e
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_cancellation.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_state_reset.argtypes = [ctypes.c_void_p]
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    lib.speex_preprocess_state_init.restype = ctypes.c_void_p
    lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
    return lib


class SpeexEchoCanceller:
    """Frames in, frames out, 16 kHz int16. `tail_ms` is the longest echo path it can learn."""

    def __init__(
        self, frame_samples: int = 256, rate: int = 16000, tail_ms: int = 250, suppress: bool = True
    ):
        self._lib = _library()
        self.frame = frame_samples
        self.suppress = suppress
        self._echo = self._lib.speex_echo_state_init(frame_samples, rate * tail_ms // 1000)
        r = ctypes.c_int(rate)
        self._lib.speex_echo_ctl(self._echo, _ECHO_SET_SAMPLING_RATE, ctypes.byref(r))
        self._pre = self._lib.speex_preprocess_state_init(frame_samples, rate)
        off = ctypes.c_int(0)  # noise suppression would also dull the user's voice: echo only
        self._lib.speex_preprocess_ctl(self._pre, _PREPROCESS_SET_DENOISE, ctypes.byref(off))
        self._lib.speex_preprocess_ctl(self._pre, _PREPROCESS_SET_ECHO_STATE, ctypes.c_void_p(self._echo))

    def process(self, mic: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The microphone with the echo of `reference` (what was played meanwhile) taken out."""
        mic = np.ascontiguousarray(mic, np.int16)
        ref = np.zeros(len(mic), np.int16)
        ref[: min(len(mic), len(reference))] = reference[: len(mic)]
        out = np.empty_like(mic)
        for i in range(0, len(mic) - self.frame + 1, self.frame):
            m, p, o = mic[i : i + self.frame], ref[i : i + self.frame], out[i : i + self.frame]
            self._lib.speex_echo_cancellation(self._echo, m.ctypes.data, p.ctypes.data, o.ctypes.data)
            if self.suppress:  # residual echo the adaptive filter missed
                self._lib.speex_preprocess_run(self._pre, o.ctypes.data)
        return out

    def reset(self) -> None:
        self._lib.speex_echo_state_reset(self._echo)

    def __del__(self) -> None:
        lib = getattr(self, "_lib", None)
        if lib is not None:
            lib.speex_preprocess_state_destroy(self._pre)
            lib.speex_echo_state_destroy(self._echo)
