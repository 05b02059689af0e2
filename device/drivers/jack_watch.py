"""Whether the JACK server under a PortAudio instance has stopped, so that instance is never terminated.

PortAudio 19.6 opens a JACK client of its own at Pa_Initialize whenever a JACK server is running (its
JACK host API, used or not), and its Pa_Terminate asserts that deactivating that client worked. Once
the server has stopped, terminating PortAudio aborts the whole process (pa_jack.c, Terminate: measured,
SIGABRT and exit 134 in `pyaudio.PyAudio.terminate`). A client of our own, opened on the same server
just after PortAudio's, is told when the server goes (`jack_on_shutdown`), so the driver knows.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from typing import Any

JACK_NO_START_SERVER = 0x01  # jack/types.h JackOptions
_SHUTDOWN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _libjack() -> Any:
    name = ctypes.util.find_library("jack")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.jack_client_open.restype = ctypes.c_void_p
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.jack_on_shutdown.argtypes = [ctypes.c_void_p, _SHUTDOWN, ctypes.c_void_p]
    lib.jack_client_close.argtypes = [ctypes.c_void_p]
    return lib


class JackWatch:
    """A JACK client that only listens for the server stopping. Open it right after a PortAudio that
    has a JACK host API: `stopped` is then True once that server has gone (or was gone already)."""

    def __init__(self) -> None:
        self._gone = threading.Event()
        self._on_shutdown = _SHUTDOWN(lambda _arg: self._gone.set())  # kept: libjack calls it later
        self._lib = _libjack()
        self._client: int | None = None
        if self._lib is not None:
            status = ctypes.c_int(0)
            self._client = self._lib.jack_client_open(
                b"os1-watch", JACK_NO_START_SERVER, ctypes.byref(status)
            )
        if self._client:
            self._lib.jack_on_shutdown(self._client, self._on_shutdown, None)
        else:
            self._gone.set()  # PortAudio saw a server a moment ago, and now there is none

    @property
    def stopped(self) -> bool:
        return self._gone.is_set()

    def close(self) -> None:
        """Let the client go (on a stopped server this fails quietly, without harm)."""
        client, self._client = self._client, None
        if client and self._lib is not None:
            self._lib.jack_client_close(client)
