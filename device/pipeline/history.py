"""The conversation: what the owner said and what they actually heard back, and the prompt made from it.

Only the words actually played go into the history (a reply cut off by barge-in keeps what was heard,
marked as interrupted). The prompt keeps the system prompt and the history's start stable from turn
to turn, so the LLM's KV cache can reuse them (see `prompt_history_len`).
"""

from __future__ import annotations

import threading

from device.pipeline.events import Message
from device.pipeline.text import tidy_for_history


def prompt_history_len(messages: int, max_turns: int) -> int:
    """How many of the latest history messages go into the prompt: at most `max_turns` exchanges,
    dropped half at a time. Sliding by one exchange every turn would change the prompt right after
    the system prompt each time, and the LLM's KV cache could reuse nothing of the conversation."""
    turns = messages // 2
    if turns <= max_turns:
        return 2 * turns
    keep_min = max(1, max_turns // 2)
    # Drop whole blocks of (max_turns - keep_min) exchanges from the start, as they accumulate.
    step = max_turns - keep_min + 1
    return 2 * (keep_min + (turns - keep_min) % step)


def heard_text(chunks: list[tuple[str, float]], heard_s: float) -> str:
    """The words of a reply that were actually played, given each chunk's audio length."""
    out: list[str] = []
    for text, seconds in chunks:
        if heard_s >= seconds - 0.05:
            out.append(text)
            heard_s -= seconds
            continue
        words = text.split()
        keep = int(len(words) * max(0.0, heard_s) / seconds) if seconds > 0 else 0
        if keep:
            out.append(" ".join(words[:keep]))
        break
    return " ".join(out)


class Conversation:
    """The history of one conversation. Thread-safe: replies write it, the next prompt reads it."""

    def __init__(self, max_turns: int = 6) -> None:
        self.max_turns = max_turns
        self.messages: list[Message] = []
        self.last_reply = ""
        """The last thing said to the owner (a double tap says it again)."""
        self._lock = threading.Lock()

    def window(self) -> list[Message]:
        """The history that goes into the next prompt."""
        with self._lock:
            return self.messages[-prompt_history_len(len(self.messages), self.max_turns) :]

    def prompt(self, system_prompt: str, request: Message | None = None) -> list[Message]:
        """The prompt: persona, the recent history, and (if given) the owner's new words."""
        return [Message("system", system_prompt), *self.window(), *([request] if request else [])]

    def record(self, request: Message, said: str, interrupted: bool) -> None:
        """An exchange as the owner heard it: `said` is only what was played."""
        content = (f"{tidy_for_history(said)} …" if said else "…") if interrupted else tidy_for_history(said)
        with self._lock:
            self.messages += [request, Message("assistant", content, interrupted=interrupted)]
        self.remember_said(said)

    def remember_said(self, said: str) -> None:
        """What was last said out loud (a reply or an announcement)."""
        if said:
            self.last_reply = said

    def drop_cut(self, transcript: str) -> bool:
        """Forget the last exchange if it is `transcript` with a reply cut off at its start: the owner
        had only paused, and the request goes on as one (see LoopSettings.continue_within_s)."""
        with self._lock:
            last = self.messages[-2:]
            if len(last) == 2 and last[0].content == transcript and last[1].interrupted:
                del self.messages[-2:]
                return True
            return False
