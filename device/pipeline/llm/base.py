"""What the dialogue engines share: the load error, the chat messages as templates take them, and
token-prefix arithmetic for KV reuse."""

from __future__ import annotations

from collections.abc import Sequence

from device.pipeline.events import Message

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
