"""Whether a home server is usable, and the background retry that finds out when it is back: one
for each server the board uses (the mind, the ears, the voice)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("os1.server")


class ServerHealth:
    """Whether the server is usable, as the last turn or the background check found it.

    A failure marks it down (logged once per outage) and starts a checker thread that calls `check`
    after `first_retry_s`, doubling up to `max_retry_s`, until it passes; then the server is used again.
    `check` raises on failure. At start one check runs in the background, so a board that starts with
    no network answers from its own mind from the first turn.
    """

    def __init__(
        self,
        check: Callable[[], None],
        first_retry_s: float = 1.0,
        max_retry_s: float = 60.0,
        start_check: bool = True,
        what: str = "the home server",
    ):
        """`what` names the server in the log: "the home server", "the home server's speech"."""
        self.check = check
        self.what = what
        self.first_retry_s = first_retry_s
        self.max_retry_s = max_retry_s
        self._lock = threading.Lock()
        self._up = True
        self._checking = False
        self._stop = threading.Event()
        self.last_error = ""
        self.outages = 0
        if start_check:
            self._start_checker(initial=True)

    @property
    def up(self) -> bool:
        with self._lock:
            return self._up

    @property
    def checking(self) -> bool:
        """A check is running (at start, or retrying a server that is down)."""
        with self._lock:
            return self._checking

    def failed(self, why: str) -> None:
        self._down(why, f"{self.what} failed (%s); the board takes over until it is back")
        self._start_checker(initial=False)

    def _down(self, why: str, message: str) -> None:
        """Mark it down; the first failure of an outage is counted and logged, the rest only noted."""
        with self._lock:
            was_up, self._up, self.last_error = self._up, False, why
        if was_up:
            self.outages += 1
            log.warning(message, why)

    def close(self) -> None:
        self._stop.set()

    def _start_checker(self, initial: bool) -> None:
        with self._lock:
            if self._checking:
                return
            self._checking = True
        threading.Thread(target=self._run, args=(initial,), name="llm-server-health", daemon=True).start()

    def _run(self, initial: bool) -> None:
        wait = 0.0 if initial else self.first_retry_s
        try:
            while not self._stop.wait(wait):
                try:
                    self.check()
                except Exception as e:  # any failure: still down; say why in status
                    self._down(
                        str(e) or type(e).__name__, f"{self.what} is not usable (%s); the board takes over"
                    )
                    wait = min(self.max_retry_s, max(wait * 2, self.first_retry_s))
                    continue
                with self._lock:
                    was_up, self._up = self._up, True
                if not was_up:
                    log.info("%s is back; it is used again", self.what)
                return
        finally:
            with self._lock:
                self._checking = False
