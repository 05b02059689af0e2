"""The first meeting's spoken answers become the owner's voiceprint: the real encoder on real
speech, the real onboarding stepping through its questions, and the after-turn step the daemon runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.app.owner import build_owner_voice, learn_from_first_meeting
from device.config.schema import Config
from device.evals.speech import espeak_speech, join, piper_speech, silence
from device.persona import voiceprint
from device.persona.runtime import PersonaRuntime
from device.pipeline.events import Turn
from device.pipeline.voice_check import OTHER, OWNER

pytestmark = pytest.mark.models

ANSWERS = (
    "My name is Sam, and I have lived by the river for years.",
    "You say it like the word ham, but with an S at the start.",
    "I would like to call you Juno, if that is all right with you.",
    "I want someone to talk to on my long walks in the morning.",
    "Shorter answers are better for me, and calm rather than lively.",
    "That sounds good to me, thank you for asking all of that.",
)


def _answer(owner, persona: PersonaRuntime, text: str, learn) -> None:  # type: ignore[no-untyped-def]
    turn = Turn(wake=None, transcript=text)
    turn.verdict = owner.judge(join(silence(0.4), piper_speech(text, noise_scale=0.667), silence(0.3)))
    reply = persona.intent(text)
    turn.answered_by = "intent" if reply else "llm"
    learn(turn)


def test_the_first_meetings_answers_become_the_voiceprint(tmp_path: Path) -> None:
    cfg = Config()
    cfg.persona.onboarding = True
    state = tmp_path / "state"
    persona = PersonaRuntime(cfg, state, None)
    assert persona.opening() is not None
    owner = build_owner_voice(cfg, state, Path(__import__("os").environ["OS1_MODELS_DIR"]))
    assert owner is not None and owner.voiceprint is None  # it only listens, for now
    said: list[str] = []
    learn = learn_from_first_meeting(owner, persona, state, cfg.owner.voice_model, said.append)
    for text in ANSWERS:
        _answer(owner, persona, text, learn)
        if owner.voiceprint is not None:
            break
    stored = voiceprint.load(state)
    assert stored is not None and stored.utterances >= 3 and stored.speech_s >= 8, stored
    assert (state / voiceprint.FILE).stat().st_mode & 0o777 == 0o600
    assert said == []  # enough was heard: nothing to ask for
    assert owner.judge(piper_speech("What time is it in Lisbon now?")).speaker == OWNER
    assert owner.judge(espeak_speech("What time is it in Lisbon now?", voice="en-gb")).speaker == OTHER
