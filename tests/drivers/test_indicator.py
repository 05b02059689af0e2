"""The status indicator on gpiozero's MockFactory pins: the LED's level and blink timings as the pin saw
them (MockPin records every change with its time), the motor's buzzes, and the discreet switch."""

from __future__ import annotations

import time
from collections.abc import Iterator

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


def watch(pin: object, seconds: float) -> list[tuple[float, float]]:
    """The pin's changes over `seconds` as (seconds since the previous change, new level)."""
    pin.clear_states()  # type: ignore[attr-defined]
    time.sleep(seconds)
    return [(s.timestamp, float(s.state)) for s in pin.states[1:]]  # type: ignore[attr-defined]


def on_times(changes: list[tuple[float, float]]) -> list[float]:
    """How long each 'on' lasted: the gap before every switch-off."""
    return [dt for dt, level in changes if level == 0.0]


def test_states_map_to_led_levels_and_blinks(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN, brightness=0.4)
    led = factory.pin(LED_PIN)
    try:
        ind.show(State.LISTENING)  # the loop's enum goes straight in
        time.sleep(0.05)
        assert led.state == pytest.approx(0.4)
        assert watch(led, 0.3) == []  # steady: no changes

        ind.show("thinking")
        slow = watch(led, 2.1)
        ind.show("speaking")
        fast = watch(led, 1.0)
        ind.show("idle")
        time.sleep(0.05)
        assert led.state == 0.0
    finally:
        ind.close()
    # On from listening already, so the first change is the switch-off at 0.5 s; then on at 1.0 s, …
    assert [level for _, level in slow] == [0.0, 0.4, 0.0, 0.4]
    assert all(0.4 < dt < 0.7 for dt, _ in slow)
    assert len(on_times(fast)) >= 3 and all(0.06 < t < 0.25 for t in on_times(fast))
    assert {level for _, level in slow} == {0.0, 0.4}


def test_muted_is_a_double_blink(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN)  # full brightness: a plain on/off LED
    led = factory.pin(LED_PIN)
    try:
        time.sleep(0.05)
        led.clear_states()
        ind.show("muted")
        time.sleep(2.5)
        changes = [(s.timestamp, float(s.state)) for s in led.states[1:]]
    finally:
        ind.close()
    ons = on_times(changes)
    offs = [dt for dt, level in changes if level == 1.0][1:]  # the dark gaps between flashes
    assert len(ons) >= 3 and all(0.05 < t < 0.2 for t in ons)
    assert any(0.1 < t < 0.3 for t in offs)  # the gap inside a pair
    assert any(1.4 < t < 1.9 for t in offs)  # the pause between pairs


def test_capturing_shows_over_the_loop_state_and_gives_it_back(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN)
    led = factory.pin(LED_PIN)
    try:
        ind.show("listening")
        ind.capturing(True)
        flicker = watch(led, 0.5)
        ind.show("thinking")  # the loop moves on while the picture is taken: shown afterwards
        assert ind.state == "capturing"
        ind.capturing(False)
        assert ind.state == "thinking"
    finally:
        ind.close()
    assert len(on_times(flicker)) >= 3 and all(t < 0.12 for t in on_times(flicker))


def test_motor_buzzes_on_entering_listening_and_muted(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN, motor_pin=MOTOR_PIN)
    motor = factory.pin(MOTOR_PIN)
    try:
        motor.clear_states()
        ind.show("listening")
        time.sleep(0.4)
        one = [s.state for s in motor.states[1:]]
        motor.clear_states()
        ind.show("thinking")  # no buzz
        time.sleep(0.3)
        none = [s.state for s in motor.states[1:]]
        motor.clear_states()
        ind.show("muted")
        time.sleep(0.6)
        two = [s.state for s in motor.states[1:]]
    finally:
        ind.close()
    assert one == [True, False]
    assert none == []
    assert two == [True, False, True, False]


def test_disabled_keeps_everything_dark_and_still(factory: MockFactory) -> None:
    ind = GpioIndicator(LED_PIN, motor_pin=MOTOR_PIN, enabled=False)
    led, motor = factory.pin(LED_PIN), factory.pin(MOTOR_PIN)
    try:
        led.clear_states()
        motor.clear_states()
        for state in ("thinking", "muted", "speaking", "listening"):
            ind.show(state)
            time.sleep(0.15)
        assert [s.state for s in led.states[1:]] == []
        assert [s.state for s in motor.states[1:]] == []
        ind.set_enabled(True)  # the owner switches it back on
        time.sleep(0.1)
        assert led.state == 1
    finally:
        ind.close()
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
