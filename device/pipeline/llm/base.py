"""What the dialogue engines share: the load error, the chat messages as templates take them, and
token-prefix arithmetic for KV reuse."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

from device.pipeline.events import Message
from device.pipeline.guard import ReplyGuard
from device.pipeline.settings import DialogueSettings

FIX = "re-run `os1 models convert`, or delete the folder so it is converted again"


class ModelLoadError(Exception):
    """The model folder is missing or unusable; the message is one line naming the path and the fix."""


def template_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """The messages as the chat template takes them, each recalled context before its message."""
    out = []
    for m in messages:
        if m.context:
            out.append({"role": "system", "content": m.context})
        out.append({"role": m.role, "content": m.content})
    return out


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens a and b share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def reply_guard(messages: Sequence[Message], settings: DialogueSettings) -> ReplyGuard:
    """The guard for one reply to `messages`: it knows their system text, to catch an echo of it."""
    system = "\n".join(m["content"] for m in template_messages(messages) if m["role"] == "system")
    return ReplyGuard(settings, system)


def fit_prompt(
    messages: Sequence[Message], s: DialogueSettings, tokens: Callable[[list[Message]], list[int]]
) -> list[int]:
    """`tokens(messages)`, with the oldest turns dropped until prompt + reply fit context_tokens (the
    system messages and the newest message are kept)."""
    msgs = list(messages)
    budget = s.context_tokens - s.max_new_tokens
    while True:
        ids = tokens(msgs)
        if len(ids) <= budget:
            return ids
        oldest = next((i for i, m in enumerate(msgs[:-1]) if m.role != "system"), None)
        if oldest is None:
            raise ValueError(f"a prompt of {len(ids)} tokens does not fit context_tokens={s.context_tokens}")
        del msgs[oldest]


def next_prompt_start(encode: Callable[[list[Message]], list[int]], messages: Sequence[Message]) -> list[int]:
    """The tokens every next prompt starts with, whatever the template puts around the request: the
    common prefix of two prompts that differ only in the user's words (what `prime` prefills)."""
    a, b = (encode([*messages, Message("user", q)]) for q in ("Hi.", "What?"))
    return a[: common_prefix(a, b)]


class WholeReply:
    """`reply` for an engine that streams: the pieces joined."""

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        raise NotImplementedError

    def reply(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> str:
        return "".join(self.stream(messages, cancel, settings, prefix)).strip()
