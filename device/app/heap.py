"""Keeping the daemon's memory flat over a long day: few malloc arenas, and freed memory handed back to
the system after each turn. glibc keeps what a turn freed (the TTS and the LLM free hundreds of MB of
buffers a reply) in its arenas for reuse, but reuse is imperfect: in the soak, memory malloc had in use
grew 445 -> 518 MB over 2.4 hours while the free memory it kept grew 264 -> 703 MB, and RSS with it.
malloc_trim(0) returns the free pages of every arena (glibc >= 2.8 releases pages inside a heap, not
only at its top). Off glibc (musl) both do nothing."""

from __future__ import annotations

import ctypes


def _libc(name: str, *args: type) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        fn = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = list(args), ctypes.c_int
    return fn


_TRIM = _libc("malloc_trim", ctypes.c_size_t)
_MALLOPT = _libc("mallopt", ctypes.c_int, ctypes.c_int)
M_ARENA_MAX = -8  # malloc.h
ARENAS = 2


def tune() -> None:
    """At start, before the threads: at most ARENAS malloc arenas. glibc makes up to 8 per core, one
    for each thread that allocates, and each keeps its own free memory: in the soak's first 0.7 hours
    the free memory kept went 234 -> 484 MB with the default, and stayed under 150 MB with 2
    (MALLOC_ARENA_MAX=2 does the same from outside)."""
    if _MALLOPT is not None:
        _MALLOPT(M_ARENA_MAX, ARENAS)


def give_back() -> bool:
    """Free heap pages back to the system; True if any were. Costs a few ms, so call it between turns,
    off the microphone's thread."""
    return bool(_TRIM(0)) if _TRIM is not None else False
