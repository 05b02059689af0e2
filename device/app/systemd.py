"""Talking to systemd (Type=notify): readiness, status and the watchdog, over $NOTIFY_SOCKET.

The sd_notify protocol is one datagram of newline-separated KEY=VALUE lines to an AF_UNIX socket, so
this needs no library. Outside systemd (no $NOTIFY_SOCKET) every call is a cheap no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

log = logging.getLogger("os1.service")


def _address(raw: str) -> str | bytes | None:
    if raw.startswith("/"):
        return raw
    if raw.startswith("@"):  # abstract namespace: a leading NUL byte instead of '@'
        return b"\0" + raw[1:].encode()
    return None  # e.g. systemd's vsock: addresses, which a Pi never hands us


def notify(state: str) -> bool:
    """Send `state` (e.g. "READY=1\\nSTATUS=listening") to systemd. False when not under systemd
    or the send failed: the daemon must never stop because its supervisor is unreachable."""
    raw = os.environ.get("NOTIFY_SOCKET", "")
    address = _address(raw) if raw else None
    if address is None:
        if raw:
            log.debug("NOTIFY_SOCKET %r is not a unix socket address; not notifying", raw)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never wait: a supervisor that stopped reading (its queue of ~10 datagrams full) would
            # block the send, and with it the daemon's shutdown (seen in a test that read no more).
            sock.setblocking(False)
            sock.sendto(state.encode(), address)
    except OSError as e:
        log.debug("sd_notify %r failed: %s", state, e)
        return False
    return True


def ready(status: str | None = None) -> bool:
    """The models are loaded and the devices are open: systemd marks the unit started."""
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def stopping() -> bool:
    return notify("STOPPING=1")


def status(text: str) -> bool:
    """A one-line status shown by `systemctl status os1`."""
    return notify("STATUS=" + text.replace("\n", " "))


def watchdog_ping() -> bool:
    return notify("WATCHDOG=1")


def watchdog_interval_s() -> float | None:
    """The watchdog timeout systemd set for this process (WatchdogSec=), or None when it is off or
    meant for another process ($WATCHDOG_PID)."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000


class Watchdog:
    """Pings systemd's watchdog at half its interval. Call `tick()` from the loop that must not get
    stuck (the microphone loop): if that loop stops, the pings stop and systemd restarts the daemon."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        interval = watchdog_interval_s()
        self.period_s = interval / 2 if interval else None
        self._clock = clock
        self._next = clock()

    @property
    def enabled(self) -> bool:
        return self.period_s is not None

    def tick(self) -> bool:
        """Ping if one is due; True when a ping was sent. Cheap enough to call on every frame."""
        if self.period_s is None:
            return False
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + self.period_s
        return watchdog_ping()
