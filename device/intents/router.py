"""The intent router: handlers tried in order before the LLM; the first that answers wins."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("os1.intents")

Handler = Callable[[str], "str | None"]


class IntentRouter:
    """`router(text)` is the reply of the first handler that returns a string, or None (the LLM answers).

    A handler that raises is logged and skipped: a bug in one intent must never end the conversation.

    `router.claims(text)` asks, without acting, whether any handler might take `text`. The voice loop
    starts an early reply before it is sure the owner has finished, and must not set a reminder or
    forget a memory on half a sentence: it waits for the end of the turn when a handler claims the
    words. A handler with no `claims(text)` method is taken to claim everything.
    """

    def __init__(self, handlers: Sequence[Handler]):
        self.handlers = list(handlers)

    def claims(self, text: str) -> bool:
        if not text or not text.strip():
            return False
        for handler in self.handlers:
            claims = getattr(handler, "claims", None)
            try:
                if claims is None or claims(text):
                    return True
            except Exception:
                log.exception("intent handler %s failed to say whether it claims %r", _name(handler), text)
                return True
        return False

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


@dataclass
class Claimed:
    """A handler function (a bound method) with its `claims` test, for the router."""

    handle: Handler
    test: Callable[[str], bool]

    def __call__(self, text: str) -> str | None:
        return self.handle(text)

    def claims(self, text: str) -> bool:
        return self.test(text)


def _name(handler: Handler) -> str:
    return getattr(handler, "__qualname__", None) or type(handler).__name__
