"""A live config reload (`os1 config set` on a running daemon), tested by what it changes: the name
every holder of the persona uses, the next sentence's length and loudness, the next turn's timing,
and what wakes the companion. In this process, on the real engines: the companion is put together
with `assemble.make_loop` as the daemon does, a key is set with `config.edit.set_key` as `os1 config
set` does, and the live keys that differ are applied with `assemble.reconfigure`, as the daemon's
control handler does. Time is the microphone's (frames stamped with audio time, fed as fast as the
loop takes them), so a window is counted in frames, never on the wall clock."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.app.assemble import feed_frames, make_loop, reconfigure
from device.app.companion import build_companion
from device.app.engines import Engines, load_all
from device.config import paths
from device.config.edit import live_keys_changed, set_key
from device.config.load import parse
from device.config.schema import Config
from device.drivers.audio_devices import AudioDevices, live_audio
from device.drivers.audio_files import FileEarpiece
from device.drivers.wavfile import read_wav
from device.evals.speech import espeak_speech, join, piper_speech, silence
from device.pipeline import events as ev
from device.pipeline.audio import FRAME_MS, frames
from device.pipeline.events import State, Turn
from device.pipeline.stages import AudioSink
from tests.app.test_daemon import jack_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.models

# The daemon tests' config: the first meeting off, so every typed turn reaches the other intents.
BASE = "persona:\n  name: Samantha\n  onboarding: false\n"
SENTENCE = "The kettle is on and the tea will be ready in a minute."
ANNOUNCE_PAUSE_S = 1.5  # the mic must be quiet 800 ms (announce.ANNOUNCE_QUIET_MS) before it speaks


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_all(Config())


class Live:
    """A companion as the daemon assembles it, changed as the daemon changes it on a reload."""

    def __init__(self, engines: Engines, sink: AudioSink, text: str = BASE):
        self.text = text
        self.cfg = parse(text, "test config")
        self.sink = sink
        self.companion = build_companion(self.cfg, engines.dialogue, engines.tts)
        self.turns: list[Turn] = []
        self.states: list[State] = []
        self.loop = make_loop(self.cfg, engines, sink, self.turns.append, self.companion)
        self.loop.on_state = self.states.append
        self.t = time.monotonic()  # the microphone's clock: audio time, never behind the wall clock

    def set(self, changes: dict[str, str]) -> None:
        """`os1 config set KEY VALUE` for each change, then the reload: only the live keys that
        differ are applied (a key that needs a restart would be a mistake in the test)."""
        text, new = self.text, self.cfg
        for key, raw in changes.items():
            text, new = set_key(text, key, raw, "test config")
        live, need_restart = live_keys_changed(self.cfg, new)
        assert sorted(live) == sorted(changes) and not need_restart, (live, need_restart)
        reconfigure(self.loop, self.companion, new, live, self.sink, paths.dirs(new).models)
        self.text, self.cfg = text, new

    def feed(self, audio: np.ndarray, addressed: bool = False) -> None:
        """`audio` into the loop as fast as it takes it, each frame stamped at its audio time; each
        reply is waited for, as for a recording. `addressed`: a tap first (no wake word needed)."""
        t0 = max(self.t, time.monotonic())
        if addressed:
            assert self.loop.state is State.IDLE, self.loop.state
            self.loop.addressed(t0)
        chunks = frames(audio)
        stamped = ((f, t0 + (i + 1) * FRAME_MS / 1000) for i, f in enumerate(chunks))
        feed_frames(self.loop, stamped, threading.Event(), wait_for_reply=True)
        self.t = t0 + len(chunks) * FRAME_MS / 1000
        assert self.loop.wait_reply(120)

    def settle(self) -> None:
        """Back to idle: silence past the follow-up window and the listening timeout (audio time)."""
        s = self.loop.settings
        self.feed(silence(max(s.follow_up_s, s.listen_timeout_s) + 1.0))
        assert self.loop.state is State.IDLE, self.loop.state

    def say(self, text: str) -> Turn:
        """An announcement (as `os1 say`), spoken at the next pause in the microphone's silence."""
        before = len(self.turns)
        self.loop.announce(text)
        self.feed(silence(ANNOUNCE_PAUSE_S))
        said = [t for t in self.turns[before:] if t.answered_by == "announce"]
        assert [t.reply for t in said] == [text], [t.reply for t in self.turns[before:]]
        self.settle()
        return said[0]

    def request(self, audio: np.ndarray) -> Turn:
        """A spoken request after a tap, and the silence after it; its one turn."""
        before = len(self.turns)
        self.feed(audio, addressed=True)
        turns = self.turns[before:]
        assert len(turns) == 1, [(t.transcript, t.reply) for t in turns]
        self.settle()
        return turns[0]

    def ask(self, text: str) -> Turn:
        """A typed turn (`os1 ask`) through the loop's own intent router and dialogue."""
        turn = self.loop.begin_typed(text)
        assert turn is not None, "the loop was busy"
        assert self.loop.wait_reply(180)
        return turn


def speech(audio: np.ndarray, level: int = 300) -> np.ndarray:
    """The audio from its first to its last sample above `level` (~ -40 dBFS): the sentence without
    the silence before it and the pause after it."""
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > level)
    assert len(loud), "nothing was played"
    return audio[loud[0] : loud[-1] + 1]


def rms_db(audio: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2))))


# ---------------------------------------------------------------------------------------- persona
def test_a_persona_reload_reaches_the_intents_the_prompt_and_the_voice(
    engines: Engines, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The persona is changed in place (PersonaRuntime.reload), so the identity intent, the letters
    intent, the loop's system prompt (the one the LLM is given next) and the toned voice (how it says
    the owner's name) all follow one reload; none keeps the persona it was built with."""
    prompts: list[str] = []
    stream = engines.dialogue.stream

    def spy(messages: Any, *args: Any, **kwargs: Any) -> Any:
        prompts.append(messages[0].content)
        return stream(messages, *args, **kwargs)

    monkeypatch.setattr(engines.dialogue, "stream", spy)
    live = Live(engines, FileEarpiece(tmp_path / "out.wav", realtime=False))
    try:
        assert live.ask("What's your name?").reply.startswith("I'm Samantha.")
        live.set(
            {
                "persona.name": "Ada",
                "persona.owner_name": "Siobhan",
                "persona.owner_pronunciation": "Shiv-awn",
            }
        )

        assert live.ask("What's your name?").reply.startswith("I'm Ada.")
        assert live.ask("What's my name?").reply == "You're Siobhan."
        assert live.loop.parts.system_prompt.startswith("You are Ada,")
        answer = live.ask("What is the capital of France?")
        assert answer.answered_by == "llm" and "paris" in answer.reply.lower(), answer.reply
        assert prompts and prompts[-1].startswith("You are Ada,"), prompts
        voice = live.loop.parts.tts
        assert voice is live.companion.persona.tts and voice.persona.name == "Ada"  # type: ignore[attr-defined]
        assert voice.sentences("Goodnight, Siobhan.")[0][1] == "Goodnight, Shiv-awn."  # type: ignore[attr-defined]
        letter = live.ask("Write a letter to Anna about the garden.")
        assert letter.answered_by == "intent" and letter.reply.endswith("With love, Siobhan."), letter.reply
    finally:
        live.companion.close()


# ---------------------------------------------------------------------------------------- the voice
def test_a_slower_voice_set_live_makes_the_same_sentence_longer(engines: Engines, tmp_path: Path) -> None:
    """tts.length_scale 1.0 -> 1.5 builds a new Piper voice inside the persona's toned voice: the same
    announcement, in the WAV the earpiece wrote, lasts longer. Piper's pace is not proportional to the
    scale: over four renders each the spoken part measured 1.33-1.47x as long (noise_w varies it)."""
    ear = FileEarpiece(tmp_path / "out.wav", realtime=False)
    live = Live(engines, ear)
    try:
        live.say(SENTENCE)
        before = read_wav(ear.close())
        live.set({"tts.length_scale": "1.5"})
        live.say(SENTENCE)
        after = read_wav(ear.close())[len(before) :]  # the file holds everything played so far
    finally:
        live.companion.close()
    ratio = len(speech(after)) / len(speech(before))
    assert 1.25 < ratio < 1.65, ratio


def _jack_ports(connections: bool = False) -> str:
    args = ["jack_lsp", "-c"] if connections else ["jack_lsp"]
    return subprocess.run(args, capture_output=True, text=True, timeout=10).stdout


class JackRecorder:
    """What the earpiece sends to the sound server, recorded off its JACK port by jack_rec (jackd2).
    The JACK server is the one named in this process's environment (the `live_earpiece` fixture)."""

    def __init__(self, out: Path):
        ports = [p for p in _jack_ports().split() if p.endswith(":out_000") and not p.startswith("system:")]
        assert len(ports) == 1, ports  # this process's earpiece (the microphone has in_ ports)
        self.out = out
        self.proc = subprocess.Popen(
            ["jack_rec", "-f", str(out), "-b", "16", "-d", "120", ports[0]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while "jackrec:" not in _jack_ports(connections=True):
            assert time.monotonic() < deadline and self.proc.poll() is None, "jack_rec did not connect"
            time.sleep(0.05)

    def stop(self) -> np.ndarray:
        time.sleep(0.3)  # the last periods are still on their way through the server
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        return read_wav(self.out)


@pytest.fixture()
def live_earpiece(jack_server: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[AudioDevices]:  # noqa: F811
    """The daemon's own microphone and earpiece (PortAudio through AudioDevices) on a private JACK
    server: the earpiece class that applies audio.volume (the file earpiece has none)."""
    for k, v in jack_server.items():
        monkeypatch.setenv(k, v)
    cfg = Config()
    audio = live_audio("jack", "jack", cfg.audio.device_rate, cfg.audio.period_ms, cfg.audio.volume)
    try:
        assert audio.connected, audio.status()
        yield audio
    finally:
        audio.close()


@pytest.mark.system
@pytest.mark.skipif(shutil.which("jack_rec") is None, reason="needs jackd2 (make apt installs it)")
def test_a_lower_volume_set_live_makes_the_next_sentence_quieter_in_the_earpiece(
    engines: Engines, live_earpiece: AudioDevices, tmp_path: Path
) -> None:
    """audio.volume 1.0 -> 0.5 on the running earpiece: the same announcement, as recorded off the
    earpiece's JACK port, is 6 dB quieter (20 log10 0.5 = -6.02). Piper varies each render a little
    (0.7 dB between renders measured), hence the tolerance. The loop is fed by the live microphone
    on its own thread, as in the daemon."""
    live = Live(engines, live_earpiece.earpiece)
    stop = threading.Event()
    mic = threading.Thread(target=feed_frames, args=(live.loop, live_earpiece.microphone, stop, False))
    mic.start()

    def announce(out: Path) -> np.ndarray:
        recorder = JackRecorder(out)
        before = len(live.turns)
        live.loop.announce(SENTENCE)
        deadline = time.monotonic() + 60
        while not any(t.reply == SENTENCE for t in live.turns[before:]):
            assert time.monotonic() < deadline and mic.is_alive(), "the announcement was not spoken"
            time.sleep(0.05)
        return speech(recorder.stop(), level=100)

    try:
        loud = announce(tmp_path / "loud.wav")
        live.set({"audio.volume": "0.5"})
        quiet = announce(tmp_path / "quiet.wav")
    finally:
        stop.set()
        mic.join(timeout=10)
        live.companion.close()
    assert rms_db(quiet) - rms_db(loud) == pytest.approx(-6.02, abs=1.5), (rms_db(loud), rms_db(quiet))


# ---------------------------------------------------------------------------------------- turn timing
def test_end_of_turn_and_early_reply_windows_set_live_time_the_next_turn(
    engines: Engines, tmp_path: Path
) -> None:
    """vad.end_of_turn_ms and vad.early_reply_ms reach the end-of-turn rule from the next request on.
    Each window is counted in microphone frames from the end of the words (SPEECH_END): an early
    reply may be heard after early_reply_ms of quiet (AUDIBLE) and the turn is certain after
    end_of_turn_ms (TURN_SURE, or END_OF_TURN when there is no early reply)."""
    live = Live(engines, FileEarpiece(tmp_path / "out.wav", realtime=False))
    request = join(silence(0.4), piper_speech("What time is it?"), silence(2.5))

    def quiet_ms(turn: Turn, mark: str) -> float:
        return (turn.marks[mark] - turn.marks[ev.SPEECH_END]) * 1000

    try:
        first = live.request(request)  # the defaults: early reply after 300 ms, certain after 600 ms
        assert first.stats.get("early_reply") == 1 and "time" in first.transcript.lower()
        assert 300 <= quiet_ms(first, ev.AUDIBLE) < 600 <= quiet_ms(first, ev.TURN_SURE) < 1000
        assert first.timings_ms["end_of_turn"] < 300  # an early reply begins as the words stop

        live.set({"vad.end_of_turn_ms": "1500", "vad.early_reply_ms": "0"})
        second = live.request(request)
        assert "early_reply" not in second.stats and ev.AUDIBLE not in second.marks
        assert 1500 <= second.timings_ms["end_of_turn"] < 1700

        live.set({"vad.early_reply_ms": "1000"})
        third = live.request(request)
        assert third.stats.get("early_reply") == 1
        assert 1000 <= quiet_ms(third, ev.AUDIBLE) < 1200 and 1500 <= quiet_ms(third, ev.TURN_SURE) < 1700
    finally:
        live.companion.close()


# ---------------------------------------------------------------------------------------- wake word
def test_a_wake_threshold_set_live_is_a_new_wake_engine_that_a_weaker_clip_no_longer_wakes(
    engines: Engines, tmp_path: Path
) -> None:
    """wake.threshold is applied by building a new wake engine for the loop (the old one keeps its
    own). An espeak-ng "Hey, Jarvis!" scores ~0.85 on hey_jarvis: it wakes the companion at 0.5 and
    not at 0.99. (The Piper voice's "Hey Jarvis." scores 0.9987, above 0.99: it would wake both.)"""
    live = Live(engines, FileEarpiece(tmp_path / "out.wav", realtime=False))
    clip = join(silence(1.0), espeak_speech("Hey, Jarvis!"), silence(0.5))
    try:
        live.set({"wake.threshold": "0.5"})
        lenient = live.loop.parts.wake
        assert lenient is not engines.wake and lenient.threshold == 0.5  # type: ignore[union-attr]
        live.feed(clip)
        assert State.LISTENING in live.states, "the clip should wake it at 0.5"
        live.settle()

        live.set({"wake.threshold": "0.99"})
        strict = live.loop.parts.wake
        assert strict is not lenient and strict.threshold == 0.99  # type: ignore[union-attr]
        live.states.clear()
        live.feed(clip)
        assert State.LISTENING not in live.states and live.loop.state is State.IDLE, live.states
    finally:
        live.companion.close()
