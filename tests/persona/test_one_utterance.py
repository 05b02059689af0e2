"""Cutting one answer out of a live microphone's frames, for enrolment (time counted in frames)."""

from __future__ import annotations

import numpy as np

from device.persona.voiceprint import one_utterance


def _frames(pattern: str) -> list[np.ndarray]:
    """One 32 ms frame per character: 's' speech (its samples 1), '.' quiet (0)."""
    return [np.full(512, 1 if c == "s" else 0, np.int16) for c in pattern]


def _p(frame: np.ndarray) -> float:
    return float(frame[0])


def test_it_keeps_the_words_and_a_little_before_them_and_ends_after_a_pause() -> None:
    frames = _frames("." * 20 + "s" * 40 + "." * 40 + "s" * 10)
    got = one_utterance(frames, _p, quiet_s=1.0)
    assert got is not None
    n = len(got) // 512
    assert n == 10 + 40 + 32  # 0.3 s before, the words, then 1 s of quiet (32 frames) ends it
    assert got[: 10 * 512].max() == 0 and got[10 * 512 :].max() == 1


def test_nobody_speaking_is_none_after_the_wait() -> None:
    assert one_utterance(_frames("." * 300), _p, wait_s=8.0) is None


def test_a_click_does_not_end_it_and_a_long_talk_is_cut() -> None:
    got = one_utterance(_frames("s" + "." * 40 + "s" * 500), _p, quiet_s=1.0, max_s=4.0)
    assert got is not None and len(got) // 512 == 125  # 4 s: a single frame of speech is not 300 ms
