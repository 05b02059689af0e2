"""Memory by voice: "forget what I told you about …", "forget that", "what do you remember about me?",
"remember that …". Anything else is None, so the LLM answers it."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from device.memory.database import MemoryFull, MemoryReadOnly, StoreError
from device.memory.speech import join_spoken, second_person

if TYPE_CHECKING:
    from device.memory.core import Memory

log = logging.getLogger(__name__)

_LEAD = (
    r"^(?:(?:please|okay|ok|hey|so|and|now|samantha|can you|could you|would you|will you|"
    r"i want you to|i'd like you to|i need you to)[,\s]+)*"
)
_END = r"[\s,]*(?:please)?[.?!]*$"
_FORGET = re.compile(
    _LEAD + r"(?:forget|delete|erase|remove)\s+(?:(?:everything|anything|all|what|whatever|the things?|"
    r"stuff|all the stuff)\s+)?(?:(?:that\s+)?(?:i|i've)\s+(?:have\s+)?(?:told|tell|said to|said)\s+"
    r"(?:you\s+)?)?(?:about|regarding|on)\s+(.+?)" + _END,
    re.I,
)
_FORGET_THAT = re.compile(_LEAD + r"forget (?:that|it|what i just said|what i just told you)" + _END, re.I)
_FORGET_ALL = re.compile(
    _LEAD + r"(?:forget|delete|erase)\s+(?:everything|all|it all|all of it|all your memories|your memory)"
    r"(?:\s+(?:you know|you remember|i told you|i've told you))?(?:\s+about\s+me)?" + _END,
    re.I,
)
_FORGET_STATEMENT = re.compile(_LEAD + r"forget that\s+(.+?)" + _END, re.I)
_RECALL = re.compile(
    _LEAD + r"(?:what|what else|tell me what)\s+(?:do|did|can)\s+you\s+(?:remember|know|recall)"
    r"(?:\s+about\s+(.+?))?"
    + _END
    + r"|"
    + _LEAD
    + r"what\s+(?:have|did)\s+i\s+told?\s+you(?:\s+about\s+(.+?))?"
    + _END
    + r"|"
    + _LEAD
    + r"do\s+you\s+remember\s+anything\s+about\s+(.+?)"
    + _END,
    re.I,
)
_REMEMBER = re.compile(_LEAD + r"(?:please\s+)?remember\s+(?:that\s+)(.+?)[.!]*$", re.I)
_ME = {"me", "myself", "me and my life", "my life", "us"}
_EVERYTHING = {"everything", "all", "me", "myself", "everything about me", "it all"}


def is_command(text: str) -> bool:
    """Whether `text` asks to forget or recall (so the turn is not mined or summarised). "Remember
    that ..." is not listed: if no intent handler took it, extraction should still store it."""
    t = text.strip()
    return any(p.match(t) for p in (_FORGET_THAT, _FORGET_ALL, _FORGET, _FORGET_STATEMENT, _RECALL))


def claims(text: str) -> bool:
    """Whether `text` is a memory command this module answers (forget, recall or "remember that")."""
    return is_command(text) or bool(_REMEMBER.match(text.strip()))


def handle(memory: Memory, text: str) -> str | None:
    t = text.strip()
    try:
        return _handle(memory, t)
    except MemoryFull:
        from device.memory.core import FULL_NOTICE

        return FULL_NOTICE
    except MemoryReadOnly:
        return "I couldn't save that — my storage has turned read-only."
    except StoreError as e:
        log.warning("memory: voice request failed: %s", e)
        return "Sorry, I couldn't reach my memory just now."


def _handle(memory: Memory, t: str) -> str | None:
    if _FORGET_THAT.match(t):
        n = memory.forget_last()
        return "Okay, I've forgotten that." if n else "There was nothing to forget from just now."
    m = _FORGET.match(t) or _FORGET_STATEMENT.match(t)
    if _FORGET_ALL.match(t) or m:
        topic = m.group(1).strip() if m else "everything"
        if topic.lower() in _EVERYTHING:
            # One misheard word must not erase everything; this takes a deliberate command.
            return (
                "I can forget one topic at a time by voice. "
                "To erase everything, run: os1 memory forget --all."
            )
        n = memory.forget_about(topic)
        about = second_person(topic)
        if n == 0:
            return f"I don't have anything about {about} to forget."
        things = "one thing" if n == 1 else f"{n} things"
        return f"Okay, I've forgotten {things} about {about}."
    m = _RECALL.match(t)
    if m:
        topic = next((g for g in m.groups() if g), "me").strip()
        if topic.lower() in _ME:
            return _about_me(memory)
        return _about(memory, topic)
    m = _REMEMBER.match(t)
    if m and not re.match(r"^to\b", m.group(1), re.I):
        stored = memory.add_text(m.group(1))
        return "Okay, I'll remember that." if stored else None
    return None


def _about_me(memory: Memory) -> str:
    records = [r for r in memory.list() if r.kind in ("fact", "preference")]
    if not records:
        return "Nothing yet. You haven't told me much about yourself."
    records.sort(key=lambda r: r.updated, reverse=True)
    said = [second_person(r.text) for r in records[:3]]
    more = len(records) - len(said)
    tail = f", and {more} other thing{'s' if more > 1 else ''}" if more else ""
    return f"I remember that {join_spoken(said)}{tail}."


def _about(memory: Memory, topic: str) -> str:
    hits = [r for r, _ in memory.search(topic, limit=3)]
    about = second_person(topic)
    if not hits:
        return f"I don't remember anything about {about}."
    return f"About {about}, I remember that {join_spoken([second_person(r.text) for r in hits])}."
