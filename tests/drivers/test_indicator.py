"""The status indicator on gpiozero's MockFactory pins: the LED's levels as the pin saw them (MockPin
records every change), the holds the pattern thread asked for, the motor's buzzes, and the discreet
switch. Nothing waits for a fixed time: each check waits for the steps it needs."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.drivers.indicator import GpioIndicator, SimulatedIndicator
from device.pipeline.events import State

LED_PIN, MOTOR_PIN = 24, 23


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


class Holds:
    """What the pattern thread does, step by step, as it does it: each time it holds the LED it records
    the pin's level and the seconds it waits for (inf: until the state changes), with the indicator's
    generation (bumped by every change of pattern), and how long the wait lasted when it ran out. The
    tests wait for steps, not for time: a loaded machine makes them slower, never wrong."""

    def __init__(self, ind: GpioIndicator, pin: MockPWMPin) -> None:
        self.ind = ind
        self.steps: list[tuple[int, float, float]] = []  # (generation, level, seconds asked)
        self.waited: list[tuple[float, float]] = []  # (seconds asked, seconds it lasted): waits that ran out
        self._new = threading.Condition()
        wait_for = ind._cond.wait_for

        def recorded(predicate: Callable[[], bool], timeout: float | None = None) -> bool:
            # Called by the pattern thread with the indicator's lock held: level and generation agree.
            with self._new:
                asked = math.inf if timeout is None else timeout
                self.steps.append((ind._generation, round(float(pin.state), 3), asked))
                self._new.notify_all()
            t0 = time.monotonic()
            changed = wait_for(predicate, timeout)
            if not changed:
                self.waited.append((asked, time.monotonic() - t0))
            return changed

        ind._cond.wait_for = recorded  # type: ignore[method-assign]

    def after(self, change: Callable[[], object], n: int) -> list[tuple[float, float]]:
        """Make the change, then the first `n` steps (level, seconds) of the pattern it started."""
        change()
        return self.of(self.ind._generation, n)

    def of(self, generation: int, n: int, timeout_s: float = 30) -> list[tuple[float, float]]:
        def mine() -> list[tuple[float, float]]:
            return [(level, secs) for g, level, secs in self.steps if g == generation]

        with self._new:
            assert self._new.wait_for(lambda: len(mine()) >= n, timeout_s), (generation, self.steps)
            return mine()[:n]


def wait_changes(pin: MockPWMPin, n: int, timeout_s: float = 30) -> list[float]:
    """The pin's first `n` levels since it was cleared, once it has changed that often."""
    deadline = time.monotonic() + timeout_s
    while len(pin.states) <= n:
        assert time.monotonic() < deadline, f"only {len(pin.states) - 1} of {n} changes: {pin.states}"
        time.sleep(0.01)
    return [float(s.state) for s in pin.states[1 : n + 1]]


def test_states_map_to_led_levels_and_blinks(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN, brightness=0.4)
    led = factory.pin(LED_PIN)
    holds = Holds(ind, led)
    try:
        # The loop's enum goes straight in; steady on is one hold with no end.
        listening = holds.after(lambda: ind.show(State.LISTENING), 1)
        slow = holds.after(lambda: ind.show("thinking"), 4)
        fast = holds.after(lambda: ind.show("speaking"), 4)
        idle = holds.after(lambda: ind.show("idle"), 1)
        assert led.state == 0.0
    finally:
        ind.close()
    assert listening == [(0.4, math.inf)]
    assert slow == [(0.4, 0.5), (0.0, 0.5), (0.4, 0.5), (0.0, 0.5)]  # 0.5 s on, 0.5 s off
    assert fast == [(0.4, 0.12), (0.0, 0.12), (0.4, 0.12), (0.0, 0.12)]
    assert idle == [(0.0, math.inf)]
    # Each wait that ran out lasted at least what it asked for (a busy machine only makes it longer).
    assert len(holds.waited) >= 6 and all(lasted >= asked - 0.002 for asked, lasted in holds.waited)


def test_muted_is_a_double_blink(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN)  # full brightness: a plain on/off LED
    led = factory.pin(LED_PIN)
    holds = Holds(ind, led)
    try:
        led.clear_states()
        muted = holds.after(lambda: ind.show("muted"), 5)
        levels = wait_changes(led, 4)
    finally:
        ind.close()
    # Two 0.1 s flashes 0.15 s apart, then dark until the pair comes round again, 2 s after the first.
    assert muted == [(1.0, 0.1), (0.0, 0.15), (1.0, 0.1), (0.0, 1.65), (1.0, 0.1)]
    assert levels == [1.0, 0.0, 1.0, 0.0]  # as the pin saw it
    assert all(lasted >= asked - 0.002 for asked, lasted in holds.waited)


def test_capturing_shows_over_the_loop_state_and_gives_it_back(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN)
    led = factory.pin(LED_PIN)
    holds = Holds(ind, led)
    try:
        holds.after(lambda: ind.show("listening"), 1)
        capturing = ind._generation + 1
        flicker = holds.after(lambda: ind.capturing(True), 4)
        ind.show("thinking")  # the loop moves on while the picture is taken: shown afterwards
        assert ind.state == "capturing" and ind._generation == capturing  # the flicker goes on
        assert holds.of(capturing, 6)[4:] == [(1.0, 0.05), (0.0, 0.05)]
        after = holds.after(lambda: ind.capturing(False), 1)
        assert ind.state == "thinking"
    finally:
        ind.close()
    assert flicker == [(1.0, 0.05), (0.0, 0.05)] * 2  # 0.05 s on, 0.05 s off
    assert after == [(1.0, 0.5)]  # then the loop's state: thinking's slow blink


def test_motor_buzzes_on_entering_listening_and_muted(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN, motor_pin=MOTOR_PIN)
    motor = factory.pin(MOTOR_PIN)
    assert ind._motor is not None
    buzzes: list[int] = []  # every buzz the indicator asks the motor for, by its count
    blink = ind._motor.blink
    ind._motor.blink = lambda **kw: buzzes.append(kw["n"]) or blink(**kw)  # type: ignore[method-assign]
    try:
        motor.clear_states()
        ind.show("listening")
        one = wait_changes(motor, 2)  # the buzz, on and off, done
        motor.clear_states()
        ind.show("thinking")  # show() asks for any buzz itself: none, and the motor stays still
        assert buzzes == [1] and motor.states[1:] == []
        ind.show("muted")
        two = wait_changes(motor, 4)
    finally:
        ind.close()
    assert one == [True, False]
    assert two == [True, False, True, False]
    assert buzzes == [1, 2]


def test_disabled_keeps_everything_dark_and_still(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN, motor_pin=MOTOR_PIN, enabled=False)
    led, motor = factory.pin(LED_PIN), factory.pin(MOTOR_PIN)
    holds = Holds(ind, led)
    try:
        led.clear_states()
        motor.clear_states()
        # Each state's pattern runs (the thread holds its first step), with the LED dark throughout.
        first = {
            state: holds.after(lambda state=state: ind.show(state), 1)[0]
            for state in ("thinking", "muted", "speaking", "listening")
        }
        assert [s.state for s in led.states[1:]] == []
        assert [s.state for s in motor.states[1:]] == []
        lit = holds.after(lambda: ind.set_enabled(True), 1)  # the owner switches it back on
        assert led.state == 1
    finally:
        ind.close()
    assert first == {
        "thinking": (0.0, 0.5), "muted": (0.0, 0.1), "speaking": (0.0, 0.12), "listening": (0.0, math.inf)
    }  # fmt: skip
    assert lit == [(1.0, math.inf)]
    assert led.state == 0  # closed: dark


def test_unknown_state_is_refused_on_every_backend(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN)
    try:
        with pytest.raises(ValueError, match="unknown indicator state 'dancing'"):
            ind.show("dancing")
    finally:
        ind.close()
    with pytest.raises(ValueError):
        SimulatedIndicator().show("dancing")


def test_simulated_indicator_records_the_states() -> None:
    ind = SimulatedIndicator()
    for state in State:
        ind.show(state)
    ind.capturing(True)
    ind.capturing(False)
    assert ind.shown == ["idle", "listening", "thinking", "speaking", "muted", "capturing", "muted"]
