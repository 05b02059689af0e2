"""Unprompted speech (a reminder, "I'm back.", a confirmation): queued, and said at the next pause."""

from __future__ import annotations

import threading
from collections import deque

ANNOUNCE_QUIET_MS = 800  # the owner has been quiet this long: a pause to speak into
MUTED = "Muted. I'm not listening."
UNMUTED = "I'm listening again."


class Announcements:
    """What is waiting to be said, in order. Thread-safe: anyone queues, the mic thread takes."""

    def __init__(self) -> None:
        self._queue: deque[tuple[str, bool]] = deque()  # (text, say it even when muted)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._queue)

    def add(self, text: str, even_if_muted: bool = False) -> None:
        """Queue `text`. A confirmation of what the owner just did (`even_if_muted`) goes first."""
        text = text.strip()
        if not text:
            return
        with self._lock:
            if even_if_muted:
                self._queue.appendleft((text, True))
            else:
                self._queue.append((text, False))

    def take(self, free: bool, muted: bool, quiet_ms: int) -> str | None:
        """The next text to say now, if it may be said: the companion is `free` (idle, no reply in
        flight), not muted (unless the text is a confirmation), and the owner has paused (while they
        talk, to us or to someone else, it waits)."""
        with self._lock:
            if not self._queue or not free:
                return None
            text, even_if_muted = self._queue[0]
            if muted and not even_if_muted:
                return None
            if not muted and quiet_ms < ANNOUNCE_QUIET_MS:
                return None
            self._queue.popleft()
            return text
