"""The whole voice loop on real models: a spoken request in, a spoken reply out, interruptions, the
follow-up window and the companion's own echo. The earpiece and microphone are the drivers' file
backends, which play and record at the real pace; timings are not asserted (that is `os1 bench`)."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from device.app.assemble import feed_frames, make_loop, repeat_last
from device.app.engines import Engines, load_all
from device.config.schema import Config
from device.drivers.audio_files import EchoMicrophone, FileEarpiece, FileMicrophone
from device.drivers.button import SimulatedButton
from device.drivers.wavfile import read_wav, write_wav
from device.evals.speech import espeak_speech, join, noise, piper_speech, silence
from device.intents.router import Claimed, IntentRouter
from device.pipeline import events as ev
from device.pipeline.audio import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE
from device.pipeline.events import Message, State, Turn
from device.pipeline.history import heard_text, prompt_history_len
from device.pipeline.llm.base import template_messages
from device.pipeline.loop import VoiceLoop
from device.pipeline.stages import TextToSpeech
from device.pipeline.text import is_stop_phrase, looks_complete, strip_wake_phrase, tidy_for_history
from tests.conftest import run_os1

pytestmark = pytest.mark.models

REQUEST = "Hey Jarvis. What is the capital of France?"
STORY = "Tell me a long story about a lighthouse keeper and the sea."


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_all(Config())


@pytest.fixture(scope="module")
def request_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    audio = join(silence(0.5), piper_speech(REQUEST), silence(0.3))
    return write_wav(tmp_path_factory.mktemp("req") / "request.wav", audio)


class AudioTime:
    """A file microphone whose frames carry the time their last sample was due (its start plus the
    audio before it), as a sound card stamps them, not the time this thread got round to them: the
    loop's timings are then the audio's, however loaded the machine is."""

    def __init__(self, mic: FileMicrophone):
        self.mic = mic

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        for n, (frame, _when_read) in enumerate(self.mic, 1):
            assert self.mic.started_at is not None
            yield frame, self.mic.started_at + n * FRAME_SAMPLES / SAMPLE_RATE


class Session:
    """A loop wired to file stand-ins for the mic and earpiece, recording states and turns. With
    `audio_time` the mic's frames are stamped with their audio time (`AudioTime`)."""

    def __init__(
        self, engines: Engines, out: Path, realtime: bool = True, audio_time: bool = False, **settings: object
    ):
        cfg = Config()
        self.ear = FileEarpiece(out, realtime=realtime)
        self.turns: list[Turn] = []
        self.states: list[State] = []
        self.mics: list[FileMicrophone] = []
        self.loop: VoiceLoop = make_loop(cfg, engines, self.ear, self.turns.append)
        self.loop.on_state = self.states.append
        # Through update_settings, as a config reload would: the end-of-turn rule is rebuilt too.
        self.loop.update_settings(dataclasses.replace(self.loop.settings, **settings))  # type: ignore[arg-type]
        self.realtime = realtime
        self.audio_time = audio_time

    def feed(
        self,
        audio: np.ndarray,
        echo_db: float | None = None,
        stop: threading.Event | None = None,
        tail_s: float = 0.0,
    ) -> None:
        mic = FileMicrophone(audio, realtime=self.realtime, tail_s=tail_s)
        self.mics.append(mic)
        timed = AudioTime(mic) if self.audio_time else mic
        source = timed if echo_db is None else EchoMicrophone(timed, self.ear.playback, gain_db=echo_db)
        feed_frames(self.loop, source, stop or threading.Event(), wait_for_reply=not self.realtime)

    def run_until(
        self, audio: np.ndarray, state: State, echo_db: float | None = None, timeout_s: float = 90
    ) -> None:
        """Feed `audio`, then silence (as a live mic would), until the loop reaches `state`."""
        stop = threading.Event()
        feeder = threading.Thread(target=self.feed, args=(audio, echo_db, stop, timeout_s))
        feeder.start()
        try:
            time.sleep(len(audio) / 16000)
            self.wait_for(state, timeout_s)
        finally:
            stop.set()
            feeder.join()

    def wait_for(self, state: State, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while self.loop.state is not state:
            assert time.monotonic() < deadline, f"never reached {state}; states: {self.states}"
            time.sleep(0.01)


def test_os1_run_wav_in_wav_out(request_wav: Path, tmp_path: Path) -> None:
    out = tmp_path / "reply.wav"
    r = run_os1("run", "--input", str(request_wav), "--output", str(out), "--json")
    assert r.returncode == 0, r.stderr
    turns = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(turns) == 1
    turn = turns[0]
    assert set(turn) >= {"wake", "transcript", "reply", "timings_ms"}
    assert turn["wake"]
    assert "capital of france" in turn["transcript"].lower()
    assert "jarvis" not in turn["transcript"].lower()
    assert "paris" in turn["reply"].lower()
    timings = turn["timings_ms"]
    for key in ("wake", "end_of_turn", "stt", "llm_first_token", "tts_first_audio", "response_gap"):
        assert key in timings and timings[key] >= 0, key
    # The gap includes the end-of-turn silence window, so it cannot be shorter than it.
    assert timings["response_gap"] >= timings["end_of_turn"]
    reply = read_wav(out)
    words = len(turn["reply"].split())
    assert 0.15 * words < len(reply) / 16000 < 1.0 * words + 1


def test_streaming_order_and_follow_up_window(engines: Engines, tmp_path: Path) -> None:
    """Stages happen in order and overlap: speech starts before the LLM has finished. After the reply
    the companion listens without the wake word, then goes idle when nobody speaks."""
    s = Session(engines, tmp_path / "out.wav", follow_up_s=1.5)
    s.loop.addressed()
    s.run_until(join(silence(0.3), piper_speech(STORY), silence(1.0)), State.IDLE)
    turn = s.turns[0]
    m = turn.marks
    order = [
        "listen",
        "speech_start",
        "speech_end",
        "end_of_turn",
        "transcript",
        "llm_start",
        "llm_first_token",
        "tts_start",
        "first_audio",
        "playback_done",
    ]
    assert [m[k] for k in order] == sorted(m[k] for k in order)
    assert m["first_audio"] < m["llm_done"], "playback should start while the LLM is still writing"
    # THINKING shows only if the full silence window ends before the first sound: an early reply
    # (vad.early_reply_ms) may speak first, straight from LISTENING.
    assert s.states in (
        [State.LISTENING, State.THINKING, State.SPEAKING, State.LISTENING, State.IDLE],
        [State.LISTENING, State.SPEAKING, State.LISTENING, State.IDLE],
    )
    assert turn.interrupted is None and len(s.turns) == 1


def test_follow_up_needs_no_wake_word(engines: Engines, tmp_path: Path) -> None:
    s = Session(engines, tmp_path / "out.wav", realtime=False, follow_up_s=5.0)
    s.loop.addressed()
    s.feed(join(silence(0.3), piper_speech("What is the capital of France?"), silence(1.0)))
    assert s.loop.state is State.LISTENING  # the follow-up window
    s.feed(join(silence(0.3), piper_speech("And what is the capital of Spain?"), silence(1.0)))
    assert len(s.turns) == 2
    assert s.turns[1].follow_up and s.turns[1].wake is None
    assert "spain" in s.turns[1].transcript.lower()
    assert [m.role for m in s.loop.history] == ["user", "assistant", "user", "assistant"]


def test_tap_interrupts_and_history_keeps_only_what_was_heard(engines: Engines, tmp_path: Path) -> None:
    """A tap a second into the reply (a second by the earpiece's clock: what it has played) stops it
    there: nothing is handed to the earpiece after the stop, what it had queued beyond is cut, and
    the history keeps the words that were heard."""
    s = Session(engines, tmp_path / "out.wav")
    handed: list[tuple[float, float, float]] = []  # per play(): (called at, starts at, seconds)
    play = s.ear.play

    def recorded(audio: np.ndarray, rate: int) -> None:
        called = time.monotonic()
        play(audio, rate)
        start, queued = s.ear._items[-1]
        handed.append((called, start, len(queued) / (s.ear.rate or rate)))

    def heard_by(t: float) -> float:
        return sum(min(max(0.0, t - start), seconds) for _, start, seconds in handed)

    s.ear.play = recorded  # type: ignore[method-assign]
    s.loop.addressed()
    feeder = threading.Thread(target=s.feed, args=(join(silence(0.3), piper_speech(STORY), silence(6.0)),))
    feeder.start()
    button = SimulatedButton()
    button.on_tap = s.loop.tap
    s.wait_for(State.SPEAKING)
    deadline = time.monotonic() + 60
    while heard_by(time.monotonic()) < 1.0:
        assert time.monotonic() < deadline, f"the reply never played a second: {handed}"
        time.sleep(0.01)
    button.tap()
    assert s.loop.state is State.LISTENING  # listening to the user at once
    assert s.loop.wait_reply(timeout_s=30)
    feeder.join()
    turn = s.turns[0]
    assert turn.interrupted == "tap"
    assert "barge_in_stop" in turn.timings_ms
    stopped = turn.marks[ev.PLAYBACK_STOPPED]
    played_s = len(read_wav(s.ear.close())) / 16000
    # The second of reply before the tap, and nothing after: no audio handed over after the stop, and
    # what the earpiece had queued past it (it had: the check can fail) was cut.
    assert all(called < stopped for called, _, _ in handed)
    assert sum(seconds for *_, seconds in handed) > heard_by(stopped) + 0.1, handed
    assert played_s == pytest.approx(heard_by(stopped), abs=0.005) and played_s >= 1.0
    last = s.loop.history[-1]
    assert last.role == "assistant" and last.interrupted
    assert last.content.endswith("…")
    said = last.content.rstrip(" …").split()
    assert 0 < len(said) <= 4 * played_s + 2, (said, played_s)  # Piper says under 3 words a second


USER_STARTS_S = 2.5  # into the user's audio, over the reply: before it, the mic hears only the echo


def _barge_in_over_echo(engines: Engines, tmp_path: Path, gate: bool) -> tuple[Session, float]:
    """The reply plays with its echo in the mic (-12 dB); 2.5 s in, the user talks over it. Returns the
    session and when the reply was interrupted, in seconds of the user's audio (audio time; before
    the user's audio began, negative)."""
    s = Session(engines, tmp_path / f"gate{gate}.wav", audio_time=True, echo_gate=gate)
    # The plain voice: with the toned voice's pace the user's first words land on a loud passage of
    # the reply, where the echo gate (6 dB margin) takes them for echo about half the time and the
    # barge-in comes ~1 s late with the start of the request lost. A known limit (README, Echo).
    s.loop.reconfigure(tts=engines.tts)
    s.loop.addressed()
    request = join(silence(0.3), piper_speech(STORY), silence(0.8))
    user = join(silence(USER_STARTS_S), espeak_speech("Wait, what was his name?"), silence(3.0))

    def feed_then_talk() -> None:
        s.feed(request, echo_db=-12)
        deadline = time.monotonic() + 60
        while s.loop.state is not State.SPEAKING and not s.turns:  # speaking, or cut by its echo already
            assert time.monotonic() < deadline, f"never spoke; states: {s.states}"
            time.sleep(0.01)
        s.feed(user, echo_db=-12)

    feeder = threading.Thread(target=feed_then_talk)
    feeder.start()
    feeder.join(timeout=120)
    assert not feeder.is_alive(), "the recording never ended"
    # The recording ends here, and a microphone that has stopped releases nothing: with the gate off
    # each reply's echo cuts it and the clipped echo is answered again, so how far that chain has got
    # when the audio runs out is the machine's speed, and its last reply may be an early one held for
    # quiet that never comes (wait_reply then waits forever). Muting ends whatever is in flight, as on
    # the device; the turns it cut or dropped do not change the ones asserted on.
    s.loop.set_muted(True, confirm=False)
    assert s.loop.wait_reply(timeout_s=60)
    assert len(s.mics) == 2 and s.mics[1].started_at is not None, "the user never spoke"
    assert s.turns and s.turns[0].interrupted == "voice", [t.interrupted for t in s.turns]
    return s, s.turns[0].marks[ev.INTERRUPT] - s.mics[1].started_at


def test_user_voice_barges_in_over_the_echo(engines: Engines, tmp_path: Path) -> None:
    s, interrupted_at = _barge_in_over_echo(engines, tmp_path, gate=True)
    assert interrupted_at >= USER_STARTS_S, f"interrupted {interrupted_at:.2f} s in, before the user spoke"
    assert len(s.turns) >= 2
    heard = s.turns[1].transcript.lower()
    assert "what was" in heard and "lighthouse" not in heard  # the user, not the reply's echo


def test_without_the_echo_gate_the_reply_interrupts_itself(engines: Engines, tmp_path: Path) -> None:
    """The control for the test above: the same audio with the gate off, and the reply's own echo
    stops it before the user has said a word, so the check above fails."""
    _, interrupted_at = _barge_in_over_echo(engines, tmp_path, gate=False)
    assert interrupted_at < USER_STARTS_S, f"interrupted {interrupted_at:.2f} s in: by the user, not the echo"


def test_stop_phrase_after_a_tap_means_quiet(engines: Engines, tmp_path: Path) -> None:
    s = Session(engines, tmp_path / "out.wav")
    s.loop.addressed()
    s.feed(join(silence(0.3), piper_speech(STORY), silence(0.8)))
    s.wait_for(State.SPEAKING)
    s.loop.tap()
    s.feed(join(silence(0.3), piper_speech("Stop."), silence(1.5)))
    assert s.loop.wait_reply(timeout_s=30)
    assert len(s.turns) == 2 and is_stop_phrase(s.turns[1].transcript), s.turns[1].transcript
    assert s.turns[1].reply == "" and s.loop.state is State.IDLE


def test_own_voice_through_the_echo_path_neither_wakes_nor_interrupts(
    engines: Engines, tmp_path: Path
) -> None:
    # Its reply is played back into the mic at -6 dB: loud, as from a speaker on the lapel.
    s = Session(engines, tmp_path / "out.wav", follow_up_s=0)
    s.loop.addressed()
    s.run_until(join(silence(0.3), piper_speech(STORY), silence(1.0)), State.IDLE, echo_db=-6)
    assert s.turns[0].interrupted is None
    assert len(s.turns) == 1


def _speak_into_echo(engines: Engines, tmp_path: Path, gate: bool) -> list[Turn]:
    """The earpiece says the wake phrase; the mic hears it through the echo path."""
    s = Session(engines, tmp_path / f"gate{gate}.wav", echo_gate=gate)
    s.ear.play(piper_speech("Hey Jarvis. I'm here, and I'm listening."), 16000)
    s.feed(join(silence(4.0), noise(0.5, dbfs=-60)), echo_db=-6)
    s.loop.wait_reply(timeout_s=60)
    return s.turns if s.loop.state is State.IDLE else [*s.turns, Turn(wake="(listening)", transcript="")]


def test_echo_gate_keeps_its_own_wake_phrase_from_waking_it(engines: Engines, tmp_path: Path) -> None:
    assert _speak_into_echo(engines, tmp_path, gate=True) == []
    # Control: with the gate off the same audio does wake it, so the test above can fail.
    assert _speak_into_echo(engines, tmp_path, gate=False) != []


def test_speech_without_the_wake_word_gets_no_reply(engines: Engines, tmp_path: Path) -> None:
    audio = join(
        silence(0.3),
        piper_speech("I wonder what the weather will be like tomorrow."),
        noise(1.0, dbfs=-45),
        silence(1.0),
    )
    s = Session(engines, tmp_path / "out.wav", realtime=False)
    s.feed(audio)
    assert s.turns == [] and s.loop.state is State.IDLE


def test_cli_says_when_nothing_woke_it(tmp_path: Path) -> None:
    quiet = write_wav(tmp_path / "quiet.wav", noise(2.0, dbfs=-50))
    r = run_os1("run", "--input", str(quiet), "--output", str(tmp_path / "o.wav"), "--fast")
    assert r.returncode == 1
    assert "no turn" in r.stderr


@pytest.mark.parametrize(
    "heard, expected",
    [
        ("Hey Jarvis, what is the capital of France?", "What is the capital of France?"),
        ("Hey, Travis. What time is it?", "What time is it?"),
        ("Jarvis what time is it", "What time is it"),
        ("What is the capital of France?", "What is the capital of France?"),
    ],
)
def test_wake_phrase_is_stripped_from_the_transcript(heard: str, expected: str) -> None:
    assert strip_wake_phrase(heard, "hey jarvis") == expected


@pytest.mark.parametrize(
    "text, stop",
    [
        ("Stop.", True),
        ("Wait, wait.", True),
        ("OK, hang on", True),
        ("Stop the music and tell me a joke", False),
        ("What time is it?", False),
        ("", False),
    ],
)
def test_stop_phrases(text: str, stop: bool) -> None:
    assert is_stop_phrase(text) is stop


def test_heard_text_cuts_at_what_was_played() -> None:
    chunks = [("The capital of France is Paris,", 2.0), ("a city of lights and bridges.", 2.0)]
    assert heard_text(chunks, 4.0) == "The capital of France is Paris, a city of lights and bridges."
    assert heard_text(chunks, 3.0) == "The capital of France is Paris, a city of"
    assert heard_text(chunks, 0.2) == ""


@pytest.mark.parametrize(
    "hypothesis, complete",
    [
        ("What is the capital of France?", True),
        ("What is the capital of", False),
        ("What is the capital of?", False),
        ("Tell me about the", False),
        ("Stop.", False),
        ("Remind me to call Anna.", True),
        ("Well...", False),
        ("Tell me, um.", False),
    ],
)
def test_looks_complete(hypothesis: str, complete: bool) -> None:
    assert looks_complete(hypothesis) is complete


def test_history_is_dropped_in_blocks_so_the_prompt_prefix_stays_stable() -> None:
    kept = [prompt_history_len(2 * turns, 6) // 2 for turns in range(20)]
    assert max(kept) == 6 and all(k >= 3 for k in kept[3:])
    # Between two drops the oldest exchange in the prompt stays the same, so its KV cache is reused.
    starts = [turns - k for turns, k in enumerate(kept)]
    assert sum(b != a for a, b in zip(starts, starts[1:], strict=False)) <= 5


def test_intent_answers_before_the_llm_and_context_reaches_the_prompt(
    engines: Engines, tmp_path: Path
) -> None:
    """A command handler's answer is spoken instead of the LLM's; other requests get the LLM, with
    the extra context placed just before the user's words."""
    s = Session(engines, tmp_path / "out.wav", realtime=False, follow_up_s=5.0)
    asked: list[str] = []
    s.loop.reconfigure(
        intents=IntentRouter([lambda text: "It is nine o'clock." if "time" in text.lower() else None])
    )
    s.loop.reconfigure(context=lambda text: asked.append(text) or "The owner's sister is called Anna.")
    s.loop.addressed()
    s.feed(join(silence(0.3), piper_speech("What time is it?"), silence(1.0)))
    s.feed(join(silence(0.3), piper_speech("What is the capital of France?"), silence(1.0)))
    first, second = s.turns
    assert first.answered_by == "intent" and first.reply == "It is nine o'clock."
    assert "llm_new_tokens" not in first.stats
    assert second.answered_by == "llm" and second.reply  # SmolLM2-135M: not always right with context
    assert asked and "france" in asked[-1].lower()
    said = s.loop.history[2]  # the memory recalled for the request stays with it in the history
    assert said.role == "user" and "Anna" in said.context
    rendered = template_messages([Message("system", "persona"), said])
    assert rendered[1] == {"role": "system", "content": said.context}
    assert rendered[2] == {"role": "user", "content": said.content}
    assert [m.content for m in s.loop.history[:2]] == [first.transcript, "It is nine o'clock."]


def test_announce_waits_for_a_pause_and_mute(engines: Engines, tmp_path: Path) -> None:
    """An announcement is not spoken over the owner's talk or while muted; mute is confirmed aloud,
    and while muted the wake word is not listened for."""
    s = Session(engines, tmp_path / "out.wav", realtime=False, follow_up_s=0.0)
    # The owner is talking (no wake word) when a reminder comes due: it waits until they stop.
    s.feed(piper_speech("I was telling Anna about the weekend,"))
    s.loop.announce("Reminder: call Mum.")
    s.feed(join(piper_speech("and the long walk by the river."), silence(0.2)))
    assert not s.turns, "spoke over the owner"
    s.feed(silence(2.0))
    s.loop.wait_reply()
    assert [t.reply for t in s.turns] == ["Reminder: call Mum."]
    assert s.turns[0].answered_by == "announce"

    s.loop.set_muted(True)
    s.loop.announce("Reminder: water the plants.")
    s.feed(silence(1.5))
    s.loop.wait_reply()
    assert s.turns[-1].reply == "Muted. I'm not listening."
    s.feed(join(piper_speech(REQUEST), silence(1.5)))
    assert s.loop.state is State.MUTED and len(s.turns) == 2, "heard the wake word while muted"
    s.loop.set_muted(False)
    s.feed(silence(1.5))
    s.loop.wait_reply()
    s.feed(silence(2.5))
    s.loop.wait_reply()
    # The reminder that came during the mute was held, and is said after the confirmation.
    assert [t.reply for t in s.turns[2:]] == ["I'm listening again.", "Reminder: water the plants."]
    repeat_last(s.loop)
    s.feed(silence(1.5))
    s.loop.wait_reply()
    assert len(s.turns) == 5 and s.turns[-1].reply == "Reminder: water the plants."


def test_history_has_no_trailing_off_ellipses() -> None:
    assert tidy_for_history("The capital of France is Paris...") == "The capital of France is Paris."
    assert tidy_for_history("The sea is salty…the ocean...") == "The sea is salty. the ocean."
    assert tidy_for_history("A spider has 8 legs.") == "A spider has 8 legs."


# ---------------------------------------------------------------- early replies


def test_early_reply_starts_before_the_silence_window_ends(engines: Engines, tmp_path: Path) -> None:
    """With `early_reply_ms` the reply is made as soon as the words stop and heard after 300 ms of
    quiet, not the full window; it is heard, so it is the turn's one answer and the history's."""
    s = Session(
        engines, tmp_path / "out.wav", audio_time=True, early_reply_ms=300, end_of_turn_ms=900, follow_up_s=0
    )
    s.loop.addressed()
    s.run_until(join(silence(0.3), piper_speech("What is the capital of France?"), silence(1.5)), State.IDLE)
    assert len(s.turns) == 1
    turn = s.turns[0]
    assert turn.stats.get("early_reply") == 1
    # The reply began when the VAD let go of the words, and could be heard after 300 ms of quiet
    # counted in microphone frames: at the first frame ending 300 ms or more after the words did,
    # well short of the 900 ms window. The frames carry audio time, so this holds to the frame.
    assert turn.timings_ms["end_of_turn"] < 280
    quiet_ms = round((turn.marks["audible"] - turn.marks["speech_end"]) * 1000, 3)
    assert 300 <= quiet_ms < 300 + FRAME_MS, quiet_ms
    assert turn.marks["first_audio"] >= turn.marks["audible"]
    assert "capital of france" in turn.transcript.lower() and turn.reply
    assert [m.role for m in s.loop.history] == ["user", "assistant"]


def test_early_reply_to_unfinished_words_waits_for_the_whole_window(engines: Engines, tmp_path: Path) -> None:
    """Words that read unfinished ("What is the capital of") are answered, but the reply is only
    heard once the full silence window says the owner has finished, not after `early_reply_ms`."""
    s = Session(
        engines, tmp_path / "out.wav", realtime=False, early_reply_ms=250, end_of_turn_ms=1200, follow_up_s=0
    )
    audio = join(silence(0.3), piper_speech("What is the capital of"), silence(2.5))

    def ready_before_the_window_ends() -> Iterator[tuple[np.ndarray, float]]:
        """The recording, held once the early reply may be heard until its first sound is ready, then
        at the microphone's pace: the reply could be heard before the window ends, however slow this
        machine is (at the real pace a slow reply was only ready after it, and the hold went untested)."""
        ready = False
        for frame, t in FileMicrophone(audio, realtime=False, tail_s=0.0):
            yield frame, t
            reply = s.loop._reply
            if not ready and reply is not None and ev.AUDIBLE in reply.turn.marks:
                deadline = time.monotonic() + 60
                while ev.FIRST_AUDIO_READY not in reply.turn.marks and not reply.cancelled:
                    assert time.monotonic() < deadline, "the early reply never got its first sound"
                    time.sleep(0.005)
                ready = True
            if ready:
                time.sleep(FRAME_SAMPLES / SAMPLE_RATE)

    s.loop.addressed()
    feed_frames(s.loop, ready_before_the_window_ends(), threading.Event(), wait_for_reply=True)
    assert s.loop.wait_reply(timeout_s=60)
    assert len(s.turns) == 1 and s.turns[0].reply
    turn = s.turns[0]
    assert turn.stats.get("early_reply") == 1
    # The premise: Whisper reads the words as unfinished (a reading that looks finished, as "What is
    # the capital look?" once was, is rightly heard after early_reply_ms, and this test proves nothing).
    assert not looks_complete(turn.transcript), turn.transcript
    assert turn.marks[ev.FIRST_AUDIO_READY] < turn.marks[ev.TURN_SURE], "not ready before the end"
    assert turn.marks["first_audio"] >= turn.marks["turn_sure"], "heard before the owner had finished"


class HeldTTS:
    """The real Piper voice, held until `release` is set: a device slower than the owner's pause,
    so the early reply cannot be heard before the owner goes on, however fast this machine is."""

    def __init__(self, inner: TextToSpeech, release: threading.Event):
        self.inner, self.release, self.sample_rate = inner, release, inner.sample_rate

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self.release.wait(60)
        yield from self.inner.synthesize(text)


def test_early_reply_is_dropped_unheard_when_the_owner_goes_on(engines: Engines, tmp_path: Path) -> None:
    """A pause mid-sentence longer than `early_reply_ms`: the early reply to half a sentence is dropped
    before its first sound, and the one turn answers the whole sentence."""
    s = Session(engines, tmp_path / "out.wav", realtime=False, early_reply_ms=250, end_of_turn_ms=1200)
    release = threading.Event()
    s.loop.reconfigure(tts=HeldTTS(s.loop.parts.tts, release))
    s.loop.addressed()
    first, rest = piper_speech("What is the capital of"), piper_speech("France?")
    s.feed(join(silence(0.3), first, silence(0.8), rest))  # an early reply began in the pause
    assert s.loop.state is State.LISTENING and s.turns == []
    release.set()
    s.feed(silence(1.5))
    assert s.loop.wait_reply(timeout_s=60)
    assert len(s.turns) == 1, [t.transcript for t in s.turns]
    turn = s.turns[0]
    assert turn.stats.get("early_replies_dropped", 0) >= 1
    words = re.sub(r"[^a-z ]", "", turn.transcript.lower())  # Whisper may hear "of? France?"
    assert "capital of france" in words
    assert [m.content for m in s.loop.history if m.role == "user"] == [turn.transcript]
    played_s = len(read_wav(s.ear.close())) / 16000
    assert played_s > 0.5  # the answer to the whole request was spoken


def test_commands_wait_for_the_end_of_the_turn(engines: Engines, tmp_path: Path) -> None:
    """A handler that claims the words (a reminder) is not run on half a sentence, even though an
    early reply began: it runs once, on the whole request, after the full silence window."""

    handled: list[str] = []

    def remind(text: str) -> str | None:
        if "remind" not in text.lower():
            return None
        handled.append(text)
        return "Okay."

    s = Session(engines, tmp_path / "out.wav", realtime=False, early_reply_ms=250, end_of_turn_ms=1200)
    s.loop.reconfigure(intents=IntentRouter([Claimed(remind, lambda text: "remind" in text.lower())]))
    s.loop.addressed()
    first, rest = piper_speech("Remind me to call my sister."), piper_speech("At six tonight.")
    s.feed(join(silence(0.3), first, silence(0.8), rest, silence(1.6)))
    assert s.loop.wait_reply(timeout_s=60)
    assert len(handled) == 1 and re.search(r"\b(six|6)\b", handled[0].lower()), handled
    assert len(s.turns) == 1 and s.turns[0].answered_by == "intent"
    assert "turn_sure" in s.turns[0].marks  # it waited for the full window


def test_going_on_over_the_first_words_of_a_reply_makes_one_request(engines: Engines, tmp_path: Path) -> None:
    """A pause long enough for the reply to begin, then the owner goes on: their voice stops the
    reply within a second of its start, and the two parts are answered as one request; the cut
    exchange leaves the history."""
    s = Session(engines, tmp_path / "out.wav", follow_up_s=0)
    s.loop.addressed()
    first, rest = piper_speech("What is the capital of"), piper_speech("France, in Europe?")
    s.run_until(join(silence(0.3), first, silence(1.2), rest, silence(1.5)), State.IDLE)
    assert len(s.turns) == 2, [t.transcript for t in s.turns]
    cut, whole = s.turns
    assert cut.interrupted == "voice"
    words = re.sub(r"[^a-z ]", "", whole.transcript.lower())
    assert "capital" in words and "france" in words, whole.transcript
    assert whole.stats.get("continued") == 1 and whole.reply
    assert [m.content for m in s.loop.history if m.role == "user"] == [whole.transcript]
    assert not any(m.interrupted for m in s.loop.history)


def test_a_misheard_wake_phrase_does_not_lead_the_request(engines: Engines, tmp_path: Path) -> None:
    """espeak's "Hey Jarvis" is heard by Whisper as "on this." or "are of this.": with the pre-roll cut
    after the phrase (the default) the request is heard alone; the control, the whole pre-roll, hears
    the junk (measured: 17 of 48 requests before, 0 after; python -m device.evals.wake_cut)."""
    from device.evals.wake_cut import _turn, junk

    text = "Tell me a story about a dragon."
    audio = join(silence(0.4), espeak_speech("Hey Jarvis.", "en-gb-x-rp", 160), silence(0.08),
                 espeak_speech(text, "en-gb-x-rp", 160), silence(0.3))  # fmt: skip
    cut = _turn(engines, audio, True, tmp_path / "cut.wav")
    whole = _turn(engines, audio, False, tmp_path / "whole.wav")
    assert cut is not None and whole is not None
    assert not junk(text, cut.transcript), cut.transcript
    assert junk(text, whole.transcript), whole.transcript
