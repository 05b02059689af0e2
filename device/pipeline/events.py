"""Small dataclasses that travel between the stages and out to the CLI and the logs."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from device.pipeline.voice_check import Verdict


class State(StrEnum):
    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    MUTED = "muted"


# The marks a turn carries (monotonic seconds), in the order they usually happen.
LISTEN = "listen"  # listening began (wake word, tap, follow-up window)
WAKE = "wake"  # the wake word fired
SPEECH_START = "speech_start"  # the owner's words began
SPEECH_END = "speech_end"  # the owner's words ended (by loudness, not the VAD's late release)
END_OF_TURN = "end_of_turn"  # the reply began to be made
AUDIBLE = "audible"  # an early reply was allowed to be heard (early_reply_ms of quiet)
TURN_SURE = "turn_sure"  # the full silence window passed with an early reply in hand
TRANSCRIPT = "transcript"  # the final transcript was in
LLM_START = "llm_start"
LLM_FIRST_TOKEN = "llm_first_token"
LLM_DONE = "llm_done"
TTS_START = "tts_start"
FIRST_AUDIO_READY = "first_audio_ready"  # the first sound was synthesized
FIRST_AUDIO = "first_audio"  # the first sound went to the earpiece
PLAYBACK_DONE = "playback_done"
INTERRUPT = "interrupt"
PLAYBACK_STOPPED = "playback_stopped"


@dataclass
class Message:
    """One message of a conversation, as the dialogue engine reads it."""

    role: str
    """"system", "user" or "assistant"."""
    content: str
    interrupted: bool = False
    """An assistant turn cut off by barge-in: content is only what was heard."""
    context: str = ""
    """What was recalled for this user message (memories): sent as a system message just before it.
    It stays with the message in the history, so the next turn's prompt repeats this one's exactly
    and the KV cache is reused through it (a note only in the newest turn broke the match each turn)."""


@dataclass
class DialogueStats:
    """How the last reply was generated."""

    prompt_tokens: int = 0
    new_tokens: int = 0
    reused_tokens: int = 0
    """Prompt tokens whose KV came from the cache of earlier turns (not prefilled)."""
    first_token_s: float | None = None
    """Request -> first generated token (includes prefill)."""
    first_text_s: float | None = None
    """Request -> first text handed out (what the TTS waits for)."""
    tokens_per_s: float = 0.0
    """Decode rate after the first token."""
    stop_reason: str = ""
    """eos, budget, sentences, repeat, echo, cancel, closed."""


@dataclass(frozen=True)
class Steer:
    """How the companion wants one reply to go, from the owner's mood (persona/steer.py). The
    pipeline applies it; what it says is the persona's."""

    hint: str = ""
    """System text for this request, just before the owner's words."""
    opening: str = ""
    """Said first; the LLM goes on from it (it is the start of the assistant's reply)."""
    avoid: tuple[str, ...] = ()
    """Patterns (regex, case-insensitive) a chunk must not have: one that does is not said, the LLM
    is stopped, and `fallback` is said instead (cheer at sad news)."""
    fallback: str = ""
    """Said instead of what `avoid` stopped, or when the LLM gave nothing worth saying."""
    mood: str = ""
    """The owner's mood it answers ("sad", "anxious", "angry", "happy"; "" = none read)."""


SPEAKER: ContextVar[str] = ContextVar("os1_speaker", default="")
"""Whose turn the reply thread is answering (Turn.speaker), for the intent layer to read: a command
that reaches what is stored refuses a voice that is not the owner's."""


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
    typed: bool = False  # the owner's words came typed (os1 ask / os1 chat), not spoken
    mood: str = ""  # the owner's mood as read from their words ("sad", …), when the persona reads it
    tapped: bool = False  # listening began with a tap on the button
    speaker: str = ""  # whose turn: "owner", "other" (by voice), or "" (not checked: no voiceprint)
    verdict: Verdict | None = None  # the voice check of the request (its embedding feeds enrolment)

    def restart(self) -> Turn:
        """A fresh turn for the same utterance, after an early reply to it was dropped (the owner went
        on): it keeps when listening began, the wake and the Smart Turn verdicts, and counts the drop."""
        turn = Turn(wake=self.wake, transcript="", wake_score=self.wake_score, follow_up=self.follow_up)
        turn.tapped = self.tapped
        turn.marks.update({k: v for k, v in self.marks.items() if k in (LISTEN, WAKE, SPEECH_START)})
        turn.timings_ms.update({k: v for k, v in self.timings_ms.items() if k in ("wake", "smart_turn")})
        turn.stats.update({k: v for k, v in self.stats.items() if k.startswith("smart_turn")})
        turn.stats["early_replies_dropped"] = self.stats.get("early_replies_dropped", 0) + 1
        return turn

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
            "typed": self.typed,
            "mood": self.mood,
            "speaker": self.speaker,
        }
