"""Handing freed memory back to the system after each turn. glibc keeps what a turn freed (the TTS and
the LLM free hundreds of MB of buffers a reply) in its arenas for reuse, but reuse is imperfect: in the
soak, memory malloc had in use grew 445 -> 518 MB over 2.4 hours while the free memory it kept grew
264 -> 703 MB, and RSS with it. malloc_trim(0) returns every free page of every arena (glibc >= 2.8
releases pages inside a heap, not only at its top). Off glibc (musl) it does nothing."""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)


def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_TRIM = _malloc_trim()


def give_back() -> bool:
    """Free heap pages back to the system; True if any were. Costs a few ms, so call it between turns,
    off the microphone's thread."""
    return bool(_TRIM(0)) if _TRIM is not None else False
