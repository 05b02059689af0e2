"""One background thread that runs a sync now and then every so often, until stopped. A failed round
is one logged line and the next round tries again: the thread never dies of it, since a copy that
stops refreshing without a word is worse than one that says why."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable


class Periodic:
    def __init__(self, name: str, work: Callable[[], object], log: logging.Logger, label: str):
        self.name, self.work, self.log, self.label = name, work, log, label
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, every_s: float) -> None:
        def run() -> None:
            while not self._stop.is_set():
                run_logged(self.work, self.log, self.label)
                self._stop.wait(every_s)

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 20.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)


def run_logged(work: Callable[[], object], log: logging.Logger, label: str) -> bool:
    """One round of `work`; False, with one logged line, if it failed. Never raises."""
    try:
        work()
    except (OSError, sqlite3.Error) as e:  # a full disk or a read-only state dir: the last copy stays
        log.warning("%s: cannot save the copy (%s); fix: free space in the state dir", label, e)
        return False
    except Exception as e:  # noqa: BLE001 (a server's one-line error, or a bug: logged, tried again)
        log.warning("%s: %s", label, (str(e).splitlines() or [type(e).__name__])[0])
        return False
    return True
