"""Timing a turn: how long each stage took, from the marks a turn collects (`events` names them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from device.pipeline import events as ev
from device.pipeline.events import DialogueStats, Turn


@contextmanager
def timed(turn: Turn, key: str, clock: Callable[[], float]) -> Iterator[None]:
    """Time the block into `turn.timings_ms[key]`, even when it raises."""
    t0 = clock()
    try:
        yield
    finally:
        turn.timings_ms[key] = (clock() - t0) * 1000


def add_audio(turn: Turn, seconds: float, busy_s: float) -> None:
    """A piece of the reply was synthesized: `seconds` of audio in `busy_s` of synthesis."""
    turn.stats["tts_busy_s"] = turn.stats.get("tts_busy_s", 0.0) + busy_s
    turn.stats["reply_audio_s"] = turn.stats.get("reply_audio_s", 0.0) + seconds


def first_audio_ready(turn: Turn, now: float) -> None:
    turn.marks[ev.FIRST_AUDIO_READY] = now
    turn.timings_ms["tts_first_audio"] = (now - turn.marks[ev.TTS_START]) * 1000


def first_audio(turn: Turn, now: float) -> None:
    """The reply's first sound went to the earpiece: the response gap is measured to here."""
    turn.marks[ev.FIRST_AUDIO] = now
    turn.timings_ms["response_gap"] = (now - turn.marks[ev.SPEECH_END]) * 1000


def reply_began(turn: Turn, speech_end_t: float, t: float, early: bool) -> None:
    turn.marks[ev.SPEECH_END] = speech_end_t
    turn.marks[ev.END_OF_TURN] = t
    turn.timings_ms["end_of_turn"] = (t - speech_end_t) * 1000
    if early:
        turn.stats["early_reply"] = 1


def reply_done(turn: Turn, now: float, llm_stats: DialogueStats | None) -> None:
    """The reply has been spoken (or cut off): the stage timings and rates that follow from the marks."""
    turn.marks[ev.PLAYBACK_DONE] = now
    tm, stats = turn.timings_ms, turn.stats
    if ev.LLM_FIRST_TOKEN in turn.marks:
        tm["llm_first_token"] = (turn.marks[ev.LLM_FIRST_TOKEN] - turn.marks[ev.LLM_START]) * 1000
    if stats.get("reply_audio_s"):
        stats["tts_real_time_factor"] = stats["tts_busy_s"] / stats["reply_audio_s"]
    if llm_stats is not None:
        stats["llm_tokens_per_s"] = float(llm_stats.tokens_per_s)
        stats["llm_new_tokens"] = float(llm_stats.new_tokens)
        stats["llm_prompt_tokens"] = float(llm_stats.prompt_tokens)
        stats["llm_reused_tokens"] = float(llm_stats.reused_tokens)  # from the KV cache


def smart_turn_verdict(turn: Turn, p: float, took_ms: float) -> None:
    turn.stats["smart_turn_p"] = p  # the last verdict; one per pause
    turn.stats["smart_turn_checks"] = turn.stats.get("smart_turn_checks", 0) + 1
    turn.timings_ms["smart_turn"] = took_ms
