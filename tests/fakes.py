"""Scripted stages on a virtual clock, for testing the voice loop's logic in milliseconds.

Each fake keeps to its contract in `device/pipeline/stages.py`. The script is in the audio itself: a
spoken phrase is a run of loud frames whose first sample names the phrase (`Script.say`), silence is
zeros. So the fake VAD hears loudness, the fake STT hears which phrases were spoken, and the fake wake
word hears its own phrase; everything else (the end of turn, early replies, barge-in, the echo gate)
is the real loop's code. Time is the `VirtualClock`: frames are stamped with it, the earpiece plays on
it, and nothing waits on the wall clock except `Rig.settle`, which lets the reply thread catch up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, PlaybackLog, resample, to_int16
from device.pipeline.events import DialogueStats, Message, State, Steer, Turn
from device.pipeline.loop import LoopParts, VoiceLoop
from device.pipeline.settings import DialogueSettings, LoopSettings
from device.pipeline.stages import DialogueCapabilities, Intents, SttCapabilities

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
LOUD = 3000  # about -20 dBFS: speech to the fake VAD
WAKE_TOKEN = 1  # the first sample of a frame of the wake phrase


class VirtualClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self, start: float = 100.0):
        self.t = start
        self._moved = threading.Condition()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        with self._moved:
            self.t += seconds
            self._moved.notify_all()

    def wait_until(self, t: float, give_up: threading.Event) -> None:
        """Block (a reply thread) until the clock reaches `t`, or `give_up` is set (then `wake`)."""
        with self._moved:
            while self.t < t and not give_up.is_set():
                self._moved.wait(0.05)

    def wake(self) -> None:
        """Let the waiters look again at once (their `give_up` was set)."""
        with self._moved:
            self._moved.notify_all()


class Activity:
    """Counts calls into the fakes, so the test can tell when the reply thread has gone quiet."""

    def __init__(self) -> None:
        self.calls = 0
        self.blocked = threading.Event()  # the reply thread is waiting on the virtual clock

    def touch(self) -> None:
        self.calls += 1


class Script:
    """Phrases as audio: each gets a token, carried in the first sample of each of its frames."""

    def __init__(self) -> None:
        self.phrases: dict[int, str] = {WAKE_TOKEN: "Hey Jarvis,"}

    def say(self, text: str, seconds: float | None = None) -> list[np.ndarray]:
        """`text` spoken: ~0.3 s a word, as loud frames."""
        token = WAKE_TOKEN if text == "Hey Jarvis," else len(self.phrases) + 1
        self.phrases[token] = text
        n = max(3, round((seconds or 0.3 * len(text.split())) / FRAME_S))
        frame = np.full(FRAME_SAMPLES, LOUD, np.int16)
        frame[0] = token
        return [frame.copy() for _ in range(n)]

    @staticmethod
    def quiet(seconds: float) -> list[np.ndarray]:
        return [np.zeros(FRAME_SAMPLES, np.int16) for _ in range(round(seconds / FRAME_S))]

    def wake(self) -> list[np.ndarray]:
        return self.say("Hey Jarvis,", 0.6)


def token_of(frame: np.ndarray) -> int | None:
    return int(frame[0]) if len(frame) and np.abs(frame[1:]).mean() > LOUD / 2 else None


class FakeVad:
    """Speech is loudness: a loud frame is speech (p 0.9), anything else is not (p 0.02)."""

    def __init__(self, activity: Activity):
        self.activity = activity

    def probability(self, frame: np.ndarray) -> float:
        return 0.9 if token_of(frame) is not None else 0.02

    def reset(self) -> None:
        pass


class FakeWake:
    """Fires just after its phrase ends (0.5 s of it or more), as the real engines fire 0.1-0.5 s
    after the phrase."""

    name = "fake:hey_jarvis"

    def __init__(self) -> None:
        self._run = 0

    def process(self, frame: np.ndarray) -> float | None:
        if token_of(frame) == WAKE_TOKEN:
            self._run += 1
            return None
        fired, self._run = self._run >= round(0.5 / FRAME_S), 0
        return 0.99 if fired else None

    def reset(self) -> None:
        self._run = 0


class FakeStt:
    """Hears which phrases were spoken in the utterance, in order; a streaming engine."""

    capabilities = SttCapabilities(hypothesis=True)

    def __init__(self, script: Script, activity: Activity):
        self.script, self.activity = script, activity
        self._heard: list[int] = []
        self._lock = threading.Lock()
        self.utterances = 0
        self.heard_wake = False
        """Whether any utterance was given frames of the wake phrase."""

    def start(self) -> None:
        with self._lock:
            self._heard = []
            self.utterances += 1

    def accept(self, frame: np.ndarray) -> None:
        token = token_of(frame)
        self.heard_wake = self.heard_wake or token == WAKE_TOKEN
        with self._lock:
            if token is not None and (not self._heard or self._heard[-1] != token):
                self._heard.append(token)

    def partial(self) -> str:
        with self._lock:
            return " ".join(self.script.phrases[t] for t in self._heard)

    def hypothesis(self) -> str:
        self.activity.touch()
        return self.partial()

    def speculate(self) -> None:
        pass

    def finish(self) -> str:
        self.activity.touch()
        return self.partial()

    def drop(self) -> None:
        with self._lock:
            self._heard = []


class FakeDialogue:
    """Replies from a script: `answers[request]`, else "You said: <request>". Records every prompt."""

    capabilities = DialogueCapabilities(prime=False)

    def __init__(self, activity: Activity, answers: dict[str, str | list[str]] | None = None):
        self.activity = activity
        self.answers = answers or {}
        self.settings = DialogueSettings()
        self.last_stats = DialogueStats()
        self.prompts: list[list[Message]] = []

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        self.activity.touch()
        self.prompts.append(list(messages))
        request = messages[-1].content
        answer = self.answers.get(request, f"You said: {request}")
        if isinstance(answer, list):  # one answer per call, in turn
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        text = prefix + answer
        for word in text.split():
            if cancel is not None and cancel.is_set():
                return
            self.activity.touch()
            yield word + " "

    def reply(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> str:
        return "".join(self.stream(messages, cancel, settings, prefix)).strip()

    def prime(self, messages: Sequence[Message]) -> int:
        return 0


class FakeTts:
    """0.4 s of tone a word, one array per chunk, at 16 kHz."""

    sample_rate = SAMPLE_RATE
    WORD_S = 0.4

    def __init__(self, activity: Activity):
        self.activity = activity
        self.spoken: list[str] = []

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        self.activity.touch()
        self.spoken.append(text)
        n = int(self.WORD_S * SAMPLE_RATE * len(text.split()))
        yield (np.sin(np.arange(n) * 0.05) * 2000).astype(np.int16)


class FakeSink:
    """An earpiece that plays on the virtual clock, as FileEarpiece plays on the real one."""

    def __init__(self, clock: VirtualClock, activity: Activity):
        self.clock, self.activity = clock, activity
        self.playback = PlaybackLog(clock=clock)
        self._end = 0.0
        self._stopped = threading.Event()
        self.stops = 0

    def play(self, audio: np.ndarray, rate: int) -> None:
        self.activity.touch()
        x = resample(to_int16(audio), rate, SAMPLE_RATE)
        start = max(self.clock(), self._end)
        self._end = start + len(x) / SAMPLE_RATE
        self.playback.add(start, x)
        self._stopped.clear()

    def drain(self) -> None:
        self.activity.blocked.set()
        try:
            self.clock.wait_until(self._end, self._stopped)
        finally:
            self.activity.blocked.clear()

    def stop(self) -> None:
        self.stops += 1
        now = self.clock()
        self.playback.truncate(now)
        self._end = min(self._end, now)
        self._stopped.set()
        self.clock.wake()


@dataclass
class Rig:
    """A real VoiceLoop on the fakes. `feed` plays frames into it on the virtual clock."""

    settings: LoopSettings = field(default_factory=LoopSettings)
    answers: dict[str, str | list[str]] = field(default_factory=dict)
    intents: Intents | None = None
    steer: Callable[[str], Steer | None] | None = None

    def __post_init__(self) -> None:
        self.clock = VirtualClock()
        self.activity = Activity()
        self.script = Script()
        self.stt = FakeStt(self.script, self.activity)
        self.dialogue = FakeDialogue(self.activity, self.answers)
        self.tts = FakeTts(self.activity)
        self.sink = FakeSink(self.clock, self.activity)
        self.turns: list[Turn] = []
        self.states: list[State] = []
        parts = LoopParts(
            vad=FakeVad(self.activity),
            stt=self.stt,
            dialogue=self.dialogue,
            tts=self.tts,
            sink=self.sink,
            wake=FakeWake(),
            system_prompt="You are Sam.",
            wake_phrase="hey jarvis",
            intents=self.intents,
            steer=self.steer,
        )
        self.loop = VoiceLoop(
            parts, self.settings, on_turn=self.turns.append, on_state=self.states.append, clock=self.clock
        )

    def feed(self, *parts: list[np.ndarray]) -> None:
        for frames in parts:
            for frame in frames:
                self.clock.advance(FRAME_S)
                self.loop.feed(frame, self.clock())
                self.settle()

    def settle(self, timeout_s: float = 2.0) -> None:
        """Let the reply thread (real, and fast on these fakes) catch up with the virtual clock: until
        no reply is in flight, it waits on the clock, or it has made no call for a few ms.

        A reply the loop has let go of (cut by a tap, the owner's voice or mute, or an early one
        dropped) is waited for to the end: nothing it has left to do (write the history, hand over its
        turn) waits on the clock or makes a call into the fakes, so on a loaded machine the few ms of
        quiet said "caught up" while its turn was still to come."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.loop.wait_reply(0):
                return
            if self.loop._reply is None:  # let go of, and still finishing on its thread
                assert self.loop.wait_reply(10.0), "a cut or dropped reply never finished"
                return
            if self.activity.blocked.is_set():
                return
            calls = self.activity.calls
            time.sleep(0.003)
            if calls == self.activity.calls:
                return

    def request(self, text: str, after_s: float = 1.0) -> None:
        """The wake word, then `text`, then `after_s` of quiet."""
        self.feed(
            self.script.wake(), self.script.quiet(0.2), self.script.say(text), self.script.quiet(after_s)
        )

    def finish(self, seconds: float = 6.0) -> None:
        """Quiet until the loop has nothing left to do (replies played, follow-up window over)."""
        for _ in range(round(seconds / FRAME_S)):
            if self.loop.state in (State.IDLE, State.MUTED) and self.loop.wait_reply(0):
                return
            self.feed(self.script.quiet(FRAME_S))
        self.loop.wait_reply(2.0)
