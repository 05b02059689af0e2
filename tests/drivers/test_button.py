"""The tap button: the gesture timing rules on explicit timestamps, then the gpiozero driver on
gpiozero's MockFactory pins driven with real sleeps (so the edges carry real timings)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from device.drivers.button import GestureDecoder, GestureTimings, GpioButton, SimulatedButton

TIMINGS = GestureTimings(bounce_ms=20, double_tap_ms=250, long_press_ms=600)
PIN = 17


def run(decoder: GestureDecoder, edges: list[tuple[float, bool]], until: float) -> list[tuple[float, str]]:
    """Feed edges (time, pressed) and poll at every deadline up to `until`, like the driver's thread."""
    out: list[tuple[float, str]] = []
    pending = sorted(edges)
    for _ in range(1000):  # a decoder whose deadline never moves on would otherwise spin forever
        deadline = decoder.next_deadline()
        next_edge = pending[0][0] if pending else None
        candidates = [x for x in (deadline, next_edge) if x is not None and x <= until]
        if not candidates:
            break
        t = min(candidates)
        if next_edge is not None and t == next_edge:
            _, pressed = pending.pop(0)
            out += [(t, g) for g in decoder.edge(pressed, t)]
        else:
            out += [(t, g) for g in decoder.poll(t)]
    else:
        raise AssertionError("the decoder's deadlines never ran out")
    out += [(until, g) for g in decoder.poll(until)]
    return out


def gestures(events: list[tuple[float, str]]) -> list[str]:
    return [g for _, g in events]


def test_a_tap_is_reported_once_the_double_tap_window_has_passed() -> None:
    events = run(GestureDecoder(TIMINGS), [(1.0, True), (1.12, False)], until=3.0)
    assert gestures(events) == ["tap"]
    assert events[0][0] == pytest.approx(1.12 + 0.25)  # release time + double-tap window


def test_two_quick_taps_are_one_double_tap() -> None:
    events = run(GestureDecoder(TIMINGS), [(1.0, True), (1.1, False), (1.25, True), (1.35, False)], 3.0)
    assert gestures(events) == ["double_tap"]


def test_two_slow_taps_are_two_taps() -> None:
    events = run(GestureDecoder(TIMINGS), [(1.0, True), (1.1, False), (1.5, True), (1.6, False)], 3.0)
    assert gestures(events) == ["tap", "tap"]


def test_a_long_press_fires_while_held_and_the_release_adds_nothing() -> None:
    events = run(GestureDecoder(TIMINGS), [(1.0, True), (2.5, False)], until=4.0)
    assert events == [(pytest.approx(1.6), "long_press")]


def test_contact_bounce_is_ignored() -> None:
    # A real switch chatters for a few ms on press and on release.
    press = [(1.0, True), (1.002, False), (1.004, True), (1.007, False), (1.009, True)]
    release = [(1.2, False), (1.203, True), (1.205, False)]
    events = run(GestureDecoder(TIMINGS), press + release, until=3.0)
    assert gestures(events) == ["tap"]


def test_a_glitch_shorter_than_the_bounce_time_is_not_a_press() -> None:
    events = run(GestureDecoder(TIMINGS), [(1.0, True), (1.01, False)], until=3.0)
    assert events == []


def test_double_tap_off_reports_taps_at_once() -> None:
    decoder = GestureDecoder(GestureTimings(bounce_ms=20, double_tap_ms=0, long_press_ms=600))
    events = run(decoder, [(1.0, True), (1.1, False), (1.2, True), (1.3, False)], 3.0)
    assert events == [(pytest.approx(1.12), "tap"), (pytest.approx(1.32), "tap")]


def test_a_held_second_press_is_a_long_press_not_a_double_tap() -> None:
    events = run(GestureDecoder(TIMINGS), [(1.0, True), (1.1, False), (1.2, True), (2.5, False)], 4.0)
    assert gestures(events) == ["long_press"]


def test_simulated_button_calls_each_callback() -> None:
    button = SimulatedButton()
    seen: list[str] = []
    button.on_tap = lambda: seen.append("tap")
    button.on_double_tap = lambda: seen.append("double")
    button.on_long_press = lambda: seen.append("long")
    button.tap()
    button.double_tap()
    button.long_press()
    assert seen == ["tap", "double", "long"]
    button.close()
    button.tap()
    assert seen == ["tap", "double", "long"]


# --- the gpiozero driver on MockFactory pins ------------------------------------------------------


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


class Recorder:
    def __init__(self, button: GpioButton) -> None:
        self.seen: list[str] = []
        self.event = threading.Event()
        button.on_tap = lambda: self._add("tap")
        button.on_double_tap = lambda: self._add("double_tap")
        button.on_long_press = lambda: self._add("long_press")

    def _add(self, gesture: str) -> None:
        self.seen.append(gesture)
        self.event.set()


def press(pin: object, hold_s: float, chatter: bool = False) -> None:
    """Press (drive the pulled-up pin low) for `hold_s`, optionally with contact bounce at both ends."""
    if chatter:
        for _ in range(3):
            pin.drive_low()  # type: ignore[attr-defined]
            time.sleep(0.002)
            pin.drive_high()  # type: ignore[attr-defined]
            time.sleep(0.001)
    pin.drive_low()  # type: ignore[attr-defined]
    time.sleep(hold_s)
    if chatter:
        for _ in range(3):
            pin.drive_high()  # type: ignore[attr-defined]
            time.sleep(0.002)
            pin.drive_low()  # type: ignore[attr-defined]
            time.sleep(0.001)
    pin.drive_high()  # type: ignore[attr-defined]


def settle(rec: Recorder, s: float = 0.6) -> None:
    time.sleep(s)  # past the double-tap window and any pending deadline


def test_gpio_tap(factory: MockFactory) -> None:
    button = GpioButton(PIN, TIMINGS)
    rec = Recorder(button)
    pin = factory.pin(PIN)
    assert pin.state == 1  # the pull-up holds an open switch high
    press(pin, 0.1)
    settle(rec)
    button.close()
    assert rec.seen == ["tap"]


def test_gpio_double_tap(factory: MockFactory) -> None:
    button = GpioButton(PIN, TIMINGS)
    rec = Recorder(button)
    pin = factory.pin(PIN)
    press(pin, 0.08)
    time.sleep(0.1)
    press(pin, 0.08)
    settle(rec)
    button.close()
    assert rec.seen == ["double_tap"]


def test_gpio_long_press_fires_while_still_held(factory: MockFactory) -> None:
    button = GpioButton(PIN, TIMINGS)
    rec = Recorder(button)
    pin = factory.pin(PIN)
    pin.drive_low()
    assert rec.event.wait(2.0), "no long press while held"
    assert rec.seen == ["long_press"]
    pin.drive_high()
    settle(rec)
    button.close()
    assert rec.seen == ["long_press"]


def test_gpio_bouncy_taps_are_still_single_taps(factory: MockFactory) -> None:
    button = GpioButton(PIN, TIMINGS)
    rec = Recorder(button)
    pin = factory.pin(PIN)
    press(pin, 0.1, chatter=True)
    settle(rec)
    press(pin, 0.1, chatter=True)
    settle(rec)
    button.close()
    assert rec.seen == ["tap", "tap"]


def test_gpio_close_releases_the_pin_and_stops_callbacks(factory: MockFactory) -> None:
    button = GpioButton(PIN, TIMINGS)
    rec = Recorder(button)
    button.close()
    pin = factory.pin(PIN)
    press(pin, 0.1)
    settle(rec, 0.4)
    assert rec.seen == []
    GpioButton(PIN, TIMINGS).close()  # the pin is free again
