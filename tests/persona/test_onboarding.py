"""The first-meeting setup: answers as text, then spoken (Piper and espeak voices through the real
Whisper STT), resuming after an interruption, skipping by config, and the persona following it."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from device.app.assemble import feed_frames, make_loop
from device.app.companion import build_companion
from device.app.engines import Engines, build_stt, build_tts, load_all
from device.config.load import parse
from device.config.schema import Config, PersonaConfig, SttConfig, TtsConfig
from device.drivers.audio_files import FileEarpiece, FileMicrophone
from device.drivers.wavfile import read_wav
from device.evals.speech import espeak_speech, join, piper_speech, silence
from device.persona.changes import PersonaLog
from device.persona.onboarding import (
    Onboarding,
    parse_companion_name,
    parse_owner_name,
    parse_pronunciation,
    parse_style,
    parse_wishes,
)
from device.persona.profile import ProfileStore
from device.persona.runtime import PersonaRuntime
from device.persona.tone import VOICES
from device.pipeline.events import Turn
from device.pipeline.loop import VoiceLoop
from device.pipeline.stt.base import transcribe

pytestmark = pytest.mark.models

ANSWERS = [
    "My name is Theodore.",
    "No, it's Tay oh door.",
    "Call yourself Ava.",
    "I'd like someone to talk to, and help remembering things.",
    "Shorter answers, and a bit calmer please.",
]


def store() -> ProfileStore:
    return ProfileStore(Path(os.environ["OS1_STATE_DIR"]))


def run_through(ob: Onboarding, answers: list[str]) -> list[str]:
    return [reply for a in answers if (reply := ob.handle(a)) is not None]


def test_full_pass_as_text() -> None:
    ob = Onboarding(store(), PersonaConfig())
    opening = ob.opening()
    assert opening is not None and "I'm Samantha" in opening and opening.endswith("What's your name?")
    replies = run_through(ob, ANSWERS)
    assert len(replies) == 5
    assert replies[0].startswith("Nice to meet you, Theodore.") and "say your name right" in replies[0]
    assert replies[2].startswith("Ava it is.")
    assert "Thank you, Theodore. I'm Ava" in replies[4]
    assert ob.handle("What's the weather like?") is None  # over: the LLM answers from now on
    assert ob.opening() is None
    p = store().load()
    assert (p.owner_name, p.owner_pronunciation, p.companion_name) == ("Theodore", "Tay oh door", "Ava")
    assert p.wishes == "someone to talk to, and help remembering things"
    assert (p.length, p.energy, p.done) == ("short", "low", True)


def test_resumes_at_the_same_question_after_a_restart() -> None:
    ob = Onboarding(store(), PersonaConfig())
    ob.opening()
    run_through(ob, ANSWERS[:3])
    # The power goes: a new process, a new handler, the same state dir.
    again = Onboarding(store(), PersonaConfig())
    opening = again.opening()
    assert opening is not None and opening.startswith("Hi again")
    assert "What would you like from me?" in opening
    replies = run_through(again, ANSWERS[3:])
    assert "Thank you, Theodore. I'm Ava" in replies[-1]
    assert store().load().answered == ["owner_name", "pronunciation", "companion_name", "wishes", "style"]


def test_off_by_config_and_config_answers_are_not_asked() -> None:
    off = Onboarding(store(), parse("persona:\n  onboarding: false\n").persona)
    assert off.opening() is None and off.handle("My name is Theodore.") is None
    assert not store().exists()  # a headless install writes nothing

    cfg = parse("persona:\n  name: Joi\n  owner_name: Theo\n").persona
    ob = Onboarding(store(), cfg)
    opening = ob.opening() or ""
    assert "I'm Joi" in opening and "Did I say your name right, Theo?" in opening
    replies = run_through(ob, ["Yes.", "Mostly company.", "Longer ones, and livelier."])
    assert "call me" not in " ".join(replies)  # the name question is skipped: config set it
    assert replies[-1].startswith("Longer answers and a livelier voice, then.")


def test_you_choose_keeps_the_name_and_says_so() -> None:
    ob = Onboarding(store(), PersonaConfig())
    ob.opening()
    ob.handle("Theodore")
    ob.handle("Yes, that's right.")
    reply = ob.handle("I don't know, you choose.") or ""
    assert reply.startswith("Then I'll choose: I'll stay Samantha.")
    assert store().load().companion_name == ""


def test_unclear_answer_is_asked_once_more_then_left() -> None:
    ob = Onboarding(store(), PersonaConfig())
    ob.opening()
    assert (ob.handle("Hello there") or "").startswith("Sorry, I didn't catch that. What's your name?")
    reply = ob.handle("Well, that is a long story, let me think about it for a while") or ""
    assert reply.startswith("Let's leave that for now.")
    assert "what would you like to call me" in reply.lower()  # no name: the pronunciation is skipped
    assert store().load().owner_name == ""


def test_stop_the_setup_part_way() -> None:
    ob = Onboarding(store(), PersonaConfig())
    ob.opening()
    ob.handle("I'm Theodore.")
    assert "skip the rest" in (ob.handle("Not now, skip the setup.") or "")
    assert ob.handle("Hello?") is None
    assert Onboarding(store(), PersonaConfig()).opening() is None  # and it stays skipped after a restart


@pytest.mark.parametrize(
    "text, name",
    [("My name is Theodore.", "Theodore"), ("Theodore", "Theodore"), ("It's Theo.", "Theo"),
     ("Um, I'm Theodore Twombly, nice to meet you.", "Theodore Twombly"), ("call me theo please", "Theo"),
     ("I don't know.", None), ("Hello there.", None)],
)  # fmt: skip
def test_parse_owner_name(text: str, name: str | None) -> None:
    assert parse_owner_name(text) == name


@pytest.mark.parametrize(
    "text, expected",
    [("Call yourself Samantha.", ("Samantha", "kept")), ("Samantha", ("Samantha", "kept")),
     ("I don't know, you choose.", ("Samantha", "chose")), ("Samantha is fine.", ("Samantha", "kept")),
     ("I'll call you Ava.", ("Ava", "new")), ("How about Luna?", ("Luna", "new")),
     ("Call yourself Ava, that's fine.", ("Ava", "new")),
     # How Whisper writes a spoken "Sophie" or a pause: kept as heard, never the filler dropped.
     ("Call yourself so fear.", ("So Fear", "new")), ("Call yourself, um, Luna.", ("Luna", "new")),
     ("Call yourself so, Sophie.", ("Sophie", "new"))],
)  # fmt: skip
def test_parse_companion_name(text: str, expected: tuple[str, str]) -> None:
    assert parse_companion_name(text, "Samantha") == expected


def test_parse_pronunciation_wishes_style() -> None:
    assert parse_pronunciation("Yes, perfect.", "Siobhan") == ""
    assert parse_pronunciation("No, it's pronounced Shiv-awn.", "Siobhan") == "Shiv-awn"
    assert parse_pronunciation("Siobhan.", "Siobhan") == ""
    assert parse_wishes("I'd like you to remind me of things.") == "remind me of things"
    assert parse_wishes("I don't know.") == ""
    assert parse_style("Not too long. Lively!") == ("short", "high")
    assert parse_style("Longer answers, calmer.") == ("medium", "low")
    assert parse_style("whatever you like") == (None, None)


def test_runtime_follows_the_onboarding() -> None:
    """The persona, the voice's respelling and the loop's prompt change as the answers come in,
    and each change is in the persona log."""
    sd = Path(os.environ["OS1_STATE_DIR"])

    runtime = PersonaRuntime(Config(), sd, build_tts(TtsConfig()))
    prompts: list[str] = []  # what the loop's prompt would be set to (app/assemble.py wires it so)
    runtime.on_change = lambda persona: prompts.append(persona.system_prompt())
    assert runtime.opening() is not None
    for answer in ANSWERS:
        assert runtime.intent(answer) is not None
    assert runtime.intent("Tell me a joke.") is None
    assert runtime.persona.name == "Ava" and runtime.tts.persona is runtime.persona
    assert prompts[-1].startswith("You are Ava, ")
    assert "Theodore wants: someone to talk to" in prompts[-1]
    runtime.tts.synthesize_all("Goodnight, Theodore.")
    assert runtime.tts.last_tones[0][1] == "Goodnight, Tay oh door."
    sources = [e["source"] for e in PersonaLog(sd).entries()]
    assert sources[0] == "start" and sources.count("onboarding") >= 4


def test_spoken_pass_through_the_real_stt() -> None:
    """Each answer spoken (the Piper voice, and espeak voices the STT never trained on), heard by the
    real Whisper tiny model, and answered by the onboarding."""
    stt = build_stt(SttConfig())
    # Whisper tiny hears Piper's "Theodore" as "Teahbor" and every voice's "Ava" as "Abba" (names are
    # its weak spot, which is why the setup asks how to say the name); these voices are heard right.
    voices = [
        lambda t: espeak_speech(t, "en-gb", 150),
        lambda t: espeak_speech(t, "en-us", 150),
        lambda t: piper_speech(t),
        lambda t: espeak_speech(t, "en-gb", 150),
        lambda t: piper_speech(t),
    ]
    ob = Onboarding(store(), PersonaConfig())
    ob.opening()
    heard = []
    answers = [*ANSWERS[:2], "Call yourself Sophie.", *ANSWERS[3:]]
    for speak, answer in zip(voices, answers, strict=True):
        text = transcribe(stt, join(silence(0.3), speak(answer), silence(0.5)))
        heard.append(text)
        assert ob.handle(text) is not None, heard
    assert ob.handle("anything") is None, heard
    p = store().load()
    assert p.owner_name == "Theodore", heard
    assert p.owner_pronunciation, heard  # however Whisper spelled what it heard
    assert p.companion_name == "Sophie", heard
    assert "talk" in p.wishes and "remember" in p.wishes, heard
    assert (p.length, p.energy) == ("short", "low"), heard


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_all(Config())


def spoken_session(
    engines: Engines, out: Path, onboarding: bool = True
) -> tuple[VoiceLoop, PersonaRuntime, list[Turn], FileEarpiece]:
    """The real loop on file stand-ins for mic and earpiece, with the companion as the daemon builds
    it (with the first meeting, or without it as a recording is answered)."""
    cfg = Config()
    companion = build_companion(cfg, engines.dialogue, engines.tts, onboarding=onboarding)
    turns: list[Turn] = []
    ear = FileEarpiece(out, realtime=False)
    loop = make_loop(cfg, engines, ear, turns.append, companion)
    return loop, companion.persona, turns, ear


def say(loop: VoiceLoop, text: str) -> None:
    loop.addressed()
    mic = FileMicrophone(join(silence(0.3), espeak_speech(text, "en-gb", 150), silence(1.2)), realtime=False)
    feed_frames(loop, mic, threading.Event(), wait_for_reply=True)
    loop.wait_reply(timeout_s=60)


def test_toned_voice_in_the_real_loop(engines: Engines, tmp_path: Path) -> None:
    """TonedTTS stands in for Piper without any change to the loop: a spoken request gets a spoken
    reply, with each sentence's pause in the earpiece."""
    loop, runtime, turns, ear = spoken_session(engines, tmp_path / "reply.wav", onboarding=False)
    say(loop, "What is the capital of France?")
    assert turns and "paris" in turns[0].reply.lower()
    assert runtime.tts.last_tones  # the reply went through the toned voice
    audio = read_wav(ear.close())
    pause = int(min(v.pause_s for v in VOICES.values()) * 16000)
    assert not audio[-pause:].any()  # the reply ends with its sentence pause


# "Sophie" as Whisper tiny may write what it heard of espeak's en-gb voice: written here, not parsed.
SOPHIE_AS_HEARD = ("Sophie", "Sofie", "Sophy", "Sofi", "Sophia", "Sofia", "So Fear", "So Fee", "Soffy")


def test_onboarding_spoken_through_the_real_loop(engines: Engines, tmp_path: Path) -> None:
    loop, runtime, turns, ear = spoken_session(engines, tmp_path / "reply.wav")
    opening = runtime.opening()
    assert opening is not None
    loop.announce(opening)  # type: ignore[attr-defined]
    for answer in ("My name is Theodore.", "Yes, that's right.", "Call yourself Sophie."):
        say(loop, answer)
    # Whisper tiny hears espeak's names loosely ("Theodore" as "Thea Dor", "Sophie" as "so fear",
    # depending on the window): the new name is one of these spellings of Sophie, and it is the
    # one the reply says, the profile keeps and the prompt uses.
    heard, reply = turns[-1].transcript, turns[-1].reply
    m = re.match(r"(.+?) it is\. I like it\.", reply)
    assert m is not None, (heard, reply)
    name = m.group(1)
    profile = store().load()
    assert profile.companion_name == name, (heard, reply)
    assert loop.parts.system_prompt.startswith(f"You are {name}, ")
    assert profile.answered == ["owner_name", "pronunciation", "companion_name"]
    assert name in SOPHIE_AS_HEARD, (heard, reply)
