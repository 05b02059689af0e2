"""A server's mind in front, the board's behind it: the reply comes from the server while it keeps
its deadline, and from the board the moment it does not.

Failure is: unreachable, an error, no text within the deadline (first token or any gap after it), or
the stream dropped mid-reply. The board then carries on from the words already given out (they are its
reply's prefix, so none is said twice), and the server is retried in the background with backoff,
never on the owner's turn. With no board engine (a Pi Zero front end) a built-in sentence says so.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from device.pipeline.events import DialogueStats, Message
from device.pipeline.llm.base import WholeReply
from device.pipeline.server_health import ServerHealth
from device.pipeline.settings import DialogueSettings
from device.pipeline.stages import Dialogue, DialogueCapabilities

log = logging.getLogger("os1.llm")

# What a board with no mind of its own says when the server is gone (before, and during, a reply).
NO_SERVER = "I can't reach my home server right now, so I can't answer that. Try again in a minute."
LOST_SERVER = " Sorry, I lost my connection to the home server."


@dataclass
class _Failure:
    why: str


class FallbackDialogue(WholeReply):
    """`stages.Dialogue` over a remote engine with a board engine (or a built-in sentence) behind it."""

    def __init__(
        self,
        remote: Dialogue,
        local: Dialogue | None,
        health: ServerHealth,
        deadline_s: float,
        settings: DialogueSettings | None = None,
    ):
        self.remote = remote
        self.local = local
        self.health = health
        self.deadline_s = deadline_s
        self.settings = settings or (local.settings if local is not None else remote.settings)
        self.last_stats = DialogueStats()
        self.last_mind = ""  # "server" or "board": who said the last reply (or most of it)
        self.takeovers = 0  # replies the board took over from a failing server

    @property
    def capabilities(self) -> DialogueCapabilities:
        return self.local.capabilities if self.local is not None else DialogueCapabilities()

    def prime(self, messages: Sequence[Message]) -> int:
        # The board's KV is kept warm too: a takeover then starts from a primed prompt.
        return self.local.prime(messages) if self.local is not None else 0

    def status(self) -> dict[str, object]:
        """For `os1 status`: who answered last, and the server's health."""
        out: dict[str, object] = {
            "mind": self.last_mind or "none yet",
            "server": "up" if self.health.up else "down",
        }
        if not self.health.up and self.health.last_error:
            out["server_error"] = self.health.last_error
        out["takeovers"] = self.takeovers
        return out

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        s = settings or self.settings
        if not self.health.up:
            self.last_mind = "board"
            yield from self._board(messages, cancel, s, prefix, said="")
            return
        said = ""
        pieces: queue.Queue[str | _Failure | None] = queue.Queue()
        stop_remote = threading.Event()
        threading.Thread(
            target=self._pump, args=(messages, stop_remote, s, prefix, pieces), name="llm-remote", daemon=True
        ).start()
        self.last_mind = "server"
        try:
            while True:
                item = self._next(pieces, cancel)
                if item is None:  # the server's reply is complete
                    return
                if isinstance(item, _Failure):
                    break
                said += item
                yield item
        finally:
            stop_remote.set()  # also on cancel, or when our consumer walks away
            self.last_stats = self.remote.last_stats  # the board's replace them if it takes over
        if cancel is not None and cancel.is_set():
            return
        self.health.failed(item.why)
        self.takeovers += 1
        self.last_mind = "board"
        yield from self._board(messages, cancel, s, prefix, said)

    def _next(
        self, pieces: queue.Queue[str | _Failure | None], cancel: threading.Event | None
    ) -> str | _Failure | None:
        """The server's next piece, or a failure once the deadline passes with nothing (or on cancel)."""
        until = time.monotonic() + self.deadline_s
        while True:
            if cancel is not None and cancel.is_set():
                return _Failure("cancelled")
            left = until - time.monotonic()
            if left <= 0:
                return _Failure(f"no reply within {self.deadline_s * 1000:.0f} ms")
            try:
                return pieces.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue

    def _pump(
        self,
        messages: Sequence[Message],
        stop: threading.Event,
        s: DialogueSettings,
        prefix: str,
        out: queue.Queue[str | _Failure | None],
    ) -> None:
        try:
            for piece in self.remote.stream(messages, stop, s, prefix):
                if stop.is_set():
                    return
                out.put(piece)
            out.put(None if not stop.is_set() else _Failure("stopped"))
        except Exception as e:  # ServerError, or anything else the client raised: the board takes over
            out.put(_Failure(str(e).splitlines()[0] if str(e) else type(e).__name__))

    def _board(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None,
        s: DialogueSettings,
        prefix: str,
        said: str,
    ) -> Iterator[str]:
        """The board's reply, going on from what was already said (or from `prefix` if nothing was)."""
        if self.local is None:
            self.last_stats = DialogueStats(stop_reason="no server")
            yield LOST_SERVER if said.strip() else NO_SERVER
            return
        start = said or prefix
        skip = len(said)  # the board's reply starts with `start`, already given out: don't repeat it
        for piece in self.local.stream(messages, cancel, s, start):
            if skip:
                n = min(skip, len(piece))
                piece, skip = piece[n:], skip - n
            if piece:
                yield piece
        self.last_stats = self.local.last_stats
