"""Small dataclasses that travel between the stages and out to the CLI and the logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"


@dataclass
class Turn:
    """One exchange: what woke it, what was heard, what was said back, and how long each stage took."""

    wake: str | None
    transcript: str
    reply: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    wake_score: float | None = None
    marks: dict[str, float] = field(default_factory=dict)  # when each stage started/ended (monotonic s)
    interrupted: str | None = None  # what cut the reply off: "tap", "voice", …
    follow_up: bool = False  # heard in the follow-up window, without the wake word
    answered_by: str = "llm"  # "llm", "intent" (answered before the LLM) or "announce" (unprompted)

    def as_json(self) -> dict[str, object]:
        return {
            "wake": self.wake,
            "transcript": self.transcript,
            "reply": self.reply,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "stats": {k: round(v, 2) for k, v in self.stats.items()},
            "interrupted": self.interrupted,
            "follow_up": self.follow_up,
            "answered_by": self.answered_by,
        }
