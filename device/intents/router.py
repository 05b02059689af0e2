"""The intent router: handlers tried in order before the LLM; the first that answers wins."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

log = logging.getLogger("os1.intents")

Handler = Callable[[str], "str | None"]


class IntentRouter:
    """`router(text)` is the reply of the first handler that returns a string, or None (the LLM answers).

    A handler that raises is logged and skipped: a bug in one intent must never end the conversation.
    """

    def __init__(self, handlers: Sequence[Handler]):
        self.handlers = list(handlers)

    def __call__(self, text: str) -> str | None:
        if not text or not text.strip():
            return None
        for handler in self.handlers:
            try:
                reply = handler(text)
            except Exception:
                log.exception("intent handler %s failed on %r; skipped", _name(handler), text)
                continue
            if isinstance(reply, str) and reply.strip():
                return reply.strip()
        return None


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__name__
