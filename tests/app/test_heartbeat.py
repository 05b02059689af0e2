"""The daemon's `Heartbeat` (device/app/daemon.py): systemd's watchdog is fed while mic frames reach the
voice loop, or while the microphone is away and being retried, and not once the loop stops taking
frames for `STUCK_S`.

Nothing here waits on the wall clock for the watchdog. The heartbeat's thread body, `Heartbeat.run`,
is run as it is, with a `stop` whose `wait(s)` moves a virtual clock on by `s` seconds and, during
those seconds, hands the loop the frames a microphone would have captured. The pings go over the real
sd_notify protocol to a datagram socket bound where $NOTIFY_SOCKET points, and are counted there, each
stamped with the virtual time it was sent (a unix datagram is in the queue as soon as sendto returns).
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from device.app.assemble import feed_frames
from device.app.daemon import Heartbeat
from device.drivers.audio import AudioDeviceError
from device.drivers.audio_devices import AudioDevices, Backoff
from device.pipeline.audio import PlaybackLog
from device.pipeline.events import Message
from device.pipeline.settings import DialogueSettings, LoopSettings
from device.pipeline.tts import Prosody
from tests.fakes import FRAME_S, Activity, FakeDialogue, FakeTts, Rig, VirtualClock

WATCHDOG_S = 2.0  # WatchdogSec: the heartbeat pings at half of it
TAKE_GRACE_S = 2.0  # wall time a frame may wait for the loop before the loop counts as stuck (once)


@pytest.fixture
def notify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """systemd's side: the notify socket, and a watchdog of WATCHDOG_S for this process."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
    monkeypatch.setenv("WATCHDOG_USEC", str(int(WATCHDOG_S * 1_000_000)))
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield sock
    sock.close()


class HandMicrophone:
    """A microphone the test hands frames to one at a time. `give` returns once the consumer has fed
    the frame to the loop and asked for the next one; a consumer that does not ask within
    TAKE_GRACE_S is stuck, and frames given while it is are dropped (as a real mic's queue drops them)."""

    def __init__(self) -> None:
        self._slot: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(maxsize=1)
        self._taken = threading.Semaphore(0)
        self._waiting = False  # a frame is in the slot, not yet taken
        self.dropped = 0

    def __iter__(self) -> Iterator[tuple[np.ndarray, float]]:
        while (item := self._slot.get()) is not None:
            yield item
            self._taken.release()  # resumed: the frame went through loop.feed, the next is wanted

    def give(self, frame: np.ndarray, t: float) -> None:
        if self._waiting and not self._taken.acquire(blocking=False):
            self.dropped += 1
            return
        self._slot.put((frame, t))
        self._waiting = not self._taken.acquire(timeout=TAKE_GRACE_S)

    def end(self) -> None:
        if self._waiting:
            self._taken.acquire(timeout=30)
        self._slot.put(None)


Source = Callable[[], np.ndarray | None]  # the next frame the mic captures, or None: nothing comes


class VirtualSystem:
    """The `stop` for Heartbeat.run: each `wait(s)` first collects the pings the last check sent (at
    the current virtual time), then lets `s` seconds of virtual time pass, giving the microphone a
    frame every FRAME_S from what `phases` says: (until, source), `until` in seconds from the start.
    True once the last phase is over. Times are whole multiples from the start, so a check lands
    exactly on the half second (the watchdog compares times; float drift would move its pings)."""

    def __init__(
        self,
        clock: VirtualClock,
        sock: socket.socket,
        phases: Sequence[tuple[float, Source]],
        mic: HandMicrophone,
    ) -> None:
        self.clock, self.sock, self.mic = clock, sock, mic
        self.phases = list(phases)
        self.start = clock()
        self.pings: list[float] = []  # seconds from the start, one per WATCHDOG=1
        self.at_check: list[Callable[[float], None]] = []  # called with the time after each wait
        self._until = 0.0
        self._frames = 0

    def elapsed(self) -> float:
        return self.clock() - self.start

    def _collect(self) -> None:
        while True:
            try:
                message = self.sock.recv(64, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return
            assert message == b"WATCHDOG=1"
            self.pings.append(round(self.elapsed(), 3))

    def _to(self, t: float) -> None:
        self.clock.advance(self.start + t - self.clock())  # exact: both are near 100 s

    def wait(self, timeout: float) -> bool:
        self._collect()
        self._until += timeout
        end = self._until
        while (t := (self._frames + 1) * FRAME_S) <= end:
            while self.phases and t > self.phases[0][0]:
                self.phases.pop(0)
            if not self.phases:
                return True
            self._to(t)
            self._frames += 1
            frame = self.phases[0][1]()
            if frame is not None:
                self.mic.give(frame, self.clock())
        self._to(end)
        for hook in self.at_check:
            hook(end)
        return False


def silence() -> np.ndarray:
    return np.zeros(512, np.int16)


def nothing() -> None:
    return None


def run_heartbeat(
    notify: socket.socket,
    phases: Sequence[tuple[float, Source]],
    waiting_for_device: Callable[[], bool] = lambda: False,
) -> tuple[VirtualSystem, Heartbeat]:
    """The heartbeat over `phases`, its frames taken by a consumer thread as feed_frames takes them."""
    clock, mic = VirtualClock(), HandMicrophone()
    heartbeat = Heartbeat(waiting_for_device, clock=clock)
    system = VirtualSystem(clock, notify, phases, mic)
    consumer = threading.Thread(
        target=lambda: [None for _ in heartbeat.frames(mic)]
    )  # the loop, taking frames
    consumer.start()
    heartbeat.run(system)  # type: ignore[arg-type]  # a threading.Event as far as run() can tell
    mic.end()
    consumer.join(timeout=30)
    assert not consumer.is_alive()
    return system, heartbeat


def test_pings_stop_once_frames_stop_reaching_the_loop_for_stuck_s(notify: socket.socket) -> None:
    """The pipeline stuck (or a PortAudio read that never returns): no frame for STUCK_S, no ping, and
    systemd restarts the daemon. Before that it keeps pinging: a moment without frames is not stuck."""
    system, heartbeat = run_heartbeat(notify, [(10.0, silence), (25.0, nothing)])
    last_frame = heartbeat.last_frame - system.start
    assert 9.9 < last_frame <= 10.0
    live = [t for t in system.pings if t <= last_frame]
    grace = [t for t in system.pings if last_frame < t < last_frame + Heartbeat.STUCK_S]
    after = [t for t in system.pings if t >= last_frame + Heartbeat.STUCK_S]
    assert len(live) == 10, system.pings  # one a WATCHDOG_S / 2, from the first check on
    assert grace, system.pings  # it waited STUCK_S before giving up
    assert after == [], system.pings  # 10 s of virtual time without a ping: longer than WatchdogSec


@pytest.mark.parametrize("away", [True, False], ids=["away and being retried", "open but silent"])
def test_without_frames_the_pings_go_on_only_while_the_microphone_is_away(
    notify: socket.socket, away: bool
) -> None:
    """A headset that has not connected yet (or was unplugged) is not a stuck pipeline: with the real
    AudioDevices retrying a device that cannot open, `connected` is False and the pings go on with no
    frames at all. The same silence from a device that is open (connected) stops them."""

    class Silent:
        """A device that opens and then delivers nothing (and plays into nowhere)."""

        device, failed, busy = "silent", None, False

        def read_frames(self) -> list[tuple[np.ndarray, float]]:
            return []

        def idle_s(self) -> float:
            return 0.01

        def play(self, audio: np.ndarray, rate: int) -> None: ...
        def drain(self) -> None: ...
        def stop(self) -> None: ...
        def close(self) -> None: ...

    def open_mic() -> Silent:
        if away:
            raise AudioDeviceError("no audio input device matching 'headset' (input devices: none)")
        return Silent()

    def open_ear(_playback: PlaybackLog) -> Silent:
        return Silent()

    stop = threading.Event()
    devices = AudioDevices(open_mic, open_ear, "headset", "headset", Backoff(0.05, 0.1), stop=stop)
    try:
        assert devices.connected is not away
        if away:  # the supervisor is retrying it (a real thread, on the real backoff)
            deadline = time.monotonic() + 30
            while devices.status()["microphone"]["failed_attempts"] < 3:
                assert time.monotonic() < deadline, devices.status()
                time.sleep(0.02)
        system, _ = run_heartbeat(notify, [(20.0, nothing)], waiting_for_device=lambda: not devices.connected)
    finally:
        devices.close()
    if away:
        assert len(system.pings) == 20, system.pings  # every WATCHDOG_S / 2, for all 20 s
    else:
        assert system.pings and max(system.pings) < Heartbeat.STUCK_S, system.pings


class SlowDialogue(FakeDialogue):
    """A reply that takes as long as the test wants: the LLM is 'thinking' until `release` is set."""

    def __init__(self, activity: Activity) -> None:
        super().__init__(activity, {"Tell me about the sea.": "The sea is wide and deep."})
        self.started = threading.Event()
        self.release = threading.Event()

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        self.started.set()
        while not self.release.wait(0.01):
            if cancel is not None and cancel.is_set():
                return
        yield from super().stream(messages, cancel, settings, prefix)


@pytest.mark.parametrize("wait_for_reply", [False, True], ids=["live feed", "feed that waits for the reply"])
def test_pings_go_on_through_a_slow_turn_only_while_frames_keep_flowing(
    notify: socket.socket, wait_for_reply: bool
) -> None:
    """A reply that takes 20 s to think of is not a stuck pipeline: the daemon feeds the real voice loop
    without waiting for replies, so frames keep reaching it while the reply is made, and the pings go
    on. Fed the way a recording is (`wait_for_reply=True`, each reply waited for), the same slow turn
    holds the frames up and the pings stop: the heartbeat does see a loop that is not taking frames."""
    rig = Rig(replace(LoopSettings(), follow_up_s=0))
    slow = SlowDialogue(rig.activity)
    rig.loop.reconfigure(dialogue=slow)
    spoken = [*rig.script.wake(), *rig.script.quiet(0.2), *rig.script.say("Tell me about the sea.")]
    clock, mic = rig.clock, HandMicrophone()
    heartbeat = Heartbeat(lambda: False, clock=clock)

    def microphone() -> np.ndarray:
        return spoken.pop(0) if spoken else silence()

    system = VirtualSystem(clock, notify, [(40.0, microphone)], mic)
    thinking: list[float] = []  # virtual times at which the reply was still being made
    system.at_check.append(
        lambda t: thinking.append(t) if slow.started.is_set() and not slow.release.is_set() else None
    )
    system.at_check.append(lambda t: slow.release.set() if t >= 30.0 else None)
    system.at_check.append(lambda _t: rig.settle())  # the reply thread keeps up with the virtual clock
    stop = threading.Event()
    consumer = threading.Thread(
        target=feed_frames, args=(rig.loop, heartbeat.frames(mic), stop, wait_for_reply), daemon=True
    )
    consumer.start()
    heartbeat.run(system)  # type: ignore[arg-type]
    mic.end()
    consumer.join(timeout=30)
    assert not consumer.is_alive()
    assert rig.loop.wait_reply(10)
    assert rig.turns and rig.turns[0].reply == "The sea is wide and deep."  # the slow turn did finish

    assert thinking and max(thinking) - min(thinking) >= 20.0, thinking  # 20 s and more spent thinking
    # The longest stretch without a ping while the reply was being made.
    a, b = min(thinking), max(thinking)
    marks = [a, *(t for t in system.pings if a < t < b), b]
    longest_silence = max(y - x for x, y in zip(marks, marks[1:], strict=False))
    if not wait_for_reply:
        assert longest_silence <= WATCHDOG_S / 2, system.pings  # a ping a second all through it
        assert mic.dropped == 0
    else:
        assert mic.dropped > 0  # the loop stopped taking frames while it waited for the reply
        assert longest_silence > WATCHDOG_S, system.pings  # no ping within WatchdogSec: restarted


def test_outside_systemd_the_heartbeat_thread_ends_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """No WatchdogSec (no $WATCHDOG_USEC): there is nobody to ping, and run() returns without waiting."""
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    waits: list[float] = []

    class Stop:
        def wait(self, timeout: float) -> bool:
            waits.append(timeout)
            return True

    Heartbeat(lambda: False, clock=VirtualClock()).run(Stop())  # type: ignore[arg-type]
    assert waits == []


class BoardVoice:
    """The rig's voice as the board's Piper behind a server's: `VoiceTTS` (it takes a prosody)."""

    def __init__(self, inner: FakeTts) -> None:
        self.inner = inner
        self.sample_rate = inner.sample_rate
        self.prosody = Prosody()

    def synthesize(self, text: str, prosody: Prosody | None = None) -> Iterator[np.ndarray]:
        return self.inner.synthesize(text)

    def synthesize_all(self, text: str) -> np.ndarray:
        return np.concatenate(list(self.synthesize(text)))


def _until(cond: Callable[[], object], timeout_s: float = 30.0) -> None:
    """Real time for the reply's real waits (the deadlines) to be over: virtual time stands still."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.01)


def test_pings_go_on_while_every_home_server_hangs_and_the_board_answers(notify: socket.socket) -> None:
    """The ears, the mind and the voice all on servers that take the connection and never answer
    (real sockets, the real Wyoming and OpenAI clients and their fallbacks, the rig's engines as the
    board's). Every wait is on the reply's thread: the microphone's frames keep reaching the loop, the
    pings go on through all three deadlines, and the board's answer is spoken."""
    from device.pipeline.llm.fallback import FallbackDialogue
    from device.pipeline.llm.openai import OpenAIDialogue, Server
    from device.pipeline.server_health import ServerHealth
    from device.pipeline.speech_fallback import FallbackSTT, FallbackTTS
    from device.pipeline.wyoming import WyomingSTT, WyomingTTS
    from tests.servers import silent_server

    rig = Rig(replace(LoopSettings(), follow_up_s=0), answers={"Tell me about the sea.": "The sea is wide."})
    with silent_server() as port:

        def hung() -> ServerHealth:
            return ServerHealth(lambda: None, start_check=False)  # up until a turn finds it hung

        uri = f"tcp://127.0.0.1:{port}"
        ears = FallbackSTT(WyomingSTT(uri), rig.stt, hung(), 0.3)
        mind = FallbackDialogue(
            OpenAIDialogue(Server(f"http://127.0.0.1:{port}/v1")), rig.dialogue, hung(), 0.3
        )
        voice = FallbackTTS(WyomingTTS(uri, rig.tts.sample_rate), BoardVoice(rig.tts), hung(), 0.3)
        rig.loop.reconfigure(stt=ears, dialogue=mind, tts=voice)
        spoken = [*rig.script.wake(), *rig.script.quiet(0.2), *rig.script.say("Tell me about the sea.")]
        clock, mic = rig.clock, HandMicrophone()
        heartbeat = Heartbeat(lambda: False, clock=clock)

        def microphone() -> np.ndarray:
            return spoken.pop(0) if spoken else silence()

        system = VirtualSystem(clock, notify, [(30.0, microphone)], mic)
        in_reply: list[float] = []  # virtual times at which the reply was still under way
        system.at_check.append(lambda t: in_reply.append(t) if not rig.loop.wait_reply(0) else None)
        system.at_check.append(lambda t: _until(lambda: rig.tts.spoken) if t >= 10.0 else None)
        system.at_check.append(lambda _t: rig.settle())
        stop = threading.Event()
        consumer = threading.Thread(
            target=feed_frames, args=(rig.loop, heartbeat.frames(mic), stop, False), daemon=True
        )
        consumer.start()
        heartbeat.run(system)  # type: ignore[arg-type]
        mic.end()
        consumer.join(timeout=30)
    assert not consumer.is_alive()
    assert rig.turns and rig.turns[0].transcript == "Tell me about the sea.", rig.turns
    assert rig.turns[0].reply == "The sea is wide."  # the board's answer, spoken by the board's voice
    assert (ears.takeovers, mind.takeovers, voice.takeovers) == (1, 1, 1)
    assert rig.tts.spoken == ["The sea is wide."]
    assert in_reply, "the reply was never seen under way"
    assert mic.dropped == 0  # the loop took every frame while the reply waited on the servers
    assert len(system.pings) == 30, system.pings  # a ping every WATCHDOG_S / 2, all through
