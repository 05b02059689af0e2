"""The tap button: a momentary switch between a GPIO pin and ground, read through gpiozero.

Gestures are decoded from the press/release edges by `GestureDecoder`, a pure class that takes
explicit timestamps, so its timing rules are tested without hardware:
- tap: press and release (reported once the double-tap window has passed without a second press),
- double tap: two taps within `double_tap_ms` of each other,
- long press: held for `long_press_ms` (reported while still held, so the owner feels it happen).

Debouncing is done here too, in software, the same way on every pin library: an edge only counts
once the pin has kept its new level for `bounce_ms`. gpiozero's own `bounce_time` is not used:
RPi.GPIO implements it as a lockout that can swallow the release edge (the button then sticks
"pressed"), and the MockFactory ignores it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

log = logging.getLogger("os1.button")

Gesture = Literal["tap", "double_tap", "long_press"]


class Button(Protocol):
    """Calls its callbacks from its own thread: `on_tap` (attention or interrupt), `on_double_tap`
    (repeat the last reply) and `on_long_press` (toggle the privacy mute)."""

    on_tap: Callable[[], None] | None
    on_double_tap: Callable[[], None] | None
    on_long_press: Callable[[], None] | None

    def close(self) -> None: ...


class _Callbacks:
    def __init__(self) -> None:
        self.on_tap: Callable[[], None] | None = None
        self.on_double_tap: Callable[[], None] | None = None
        self.on_long_press: Callable[[], None] | None = None

    def _fire(self, gesture: Gesture) -> None:
        callback = {"tap": self.on_tap, "double_tap": self.on_double_tap, "long_press": self.on_long_press}[
            gesture
        ]
        if callback is None:
            return
        try:
            callback()
        except Exception:  # a failing handler must not kill the button's thread
            log.exception("button %s handler failed", gesture)

    def close(self) -> None:
        self.on_tap = self.on_double_tap = self.on_long_press = None


class SimulatedButton(_Callbacks):
    """A button for tests and development: `tap()`, `double_tap()` and `long_press()` press it."""

    def tap(self) -> None:
        self._fire("tap")

    def double_tap(self) -> None:
        self._fire("double_tap")

    def long_press(self) -> None:
        self._fire("long_press")


@dataclass(frozen=True)
class GestureTimings:
    bounce_ms: int = 20
    double_tap_ms: int = 300  # 0 turns double taps off, and taps are reported without waiting
    long_press_ms: int = 1500


class GestureDecoder:
    """Raw edges in, gestures out. Times are in seconds on any monotonic clock.

    Call `edge(pressed, t)` for every raw level change and `poll(t)` at `next_deadline()` (or later):
    both return the gestures that became certain by time `t`."""

    def __init__(self, timings: GestureTimings = GestureTimings()) -> None:
        self.timings = timings
        self._raw = False  # the pin's last reported level (True = pressed)
        self._raw_t = 0.0
        self.pressed = False  # the debounced level
        self._pressed_t = 0.0
        self._long_fired = False
        self._second_press = False  # this press started within the double-tap window
        self._tap_deadline: float | None = None  # a tap is waiting to see whether a second one follows

    def edge(self, pressed: bool, t: float) -> list[Gesture]:
        out = self.poll(t)
        if pressed != self._raw:
            self._raw, self._raw_t = pressed, t
        return out + self.poll(t)

    def poll(self, t: float) -> list[Gesture]:
        out: list[Gesture] = []
        bounce = self.timings.bounce_ms / 1000
        if self._raw != self.pressed and t >= self._raw_t + bounce:
            # Stable for long enough: the change really happened, at the time of its edge.
            out += self._press(self._raw_t) if self._raw else self._release(self._raw_t)
        if self.pressed and not self._long_fired and t >= self._pressed_t + self.timings.long_press_ms / 1000:
            self._long_fired = True
            self._second_press = False
            out.append("long_press")
        if self._tap_deadline is not None and t >= self._tap_deadline and not self.pressed:
            self._tap_deadline = None
            out.append("tap")
        return out

    def next_deadline(self) -> float | None:
        """When `poll` may next have something to say (None: only a new edge can change anything)."""
        deadlines = []
        if self._raw != self.pressed:
            deadlines.append(self._raw_t + self.timings.bounce_ms / 1000)
        if self.pressed and not self._long_fired:
            deadlines.append(self._pressed_t + self.timings.long_press_ms / 1000)
        if self._tap_deadline is not None and not self.pressed:
            deadlines.append(self._tap_deadline)
        return min(deadlines) if deadlines else None

    def _press(self, t: float) -> list[Gesture]:
        self.pressed, self._pressed_t, self._long_fired = True, t, False
        self._second_press = self._tap_deadline is not None and t <= self._tap_deadline
        self._tap_deadline = None
        return []

    def _release(self, t: float) -> list[Gesture]:
        self.pressed = False
        if self._long_fired:
            return []
        if self._second_press:
            self._second_press = False
            return ["double_tap"]
        if self.timings.double_tap_ms <= 0:
            return ["tap"]
        self._tap_deadline = t + self.timings.double_tap_ms / 1000
        return []


class GpioButton(_Callbacks):
    """A momentary switch from `pin` (BCM numbering) to ground, with the internal pull-up.

    Edges arrive on gpiozero's thread; a small thread of our own wakes up at the decoder's deadlines
    (end of debounce, double-tap window, long-press threshold). Callbacks run on either thread,
    one at a time."""

    def __init__(self, pin: int, timings: GestureTimings = GestureTimings(), pin_factory: Any = None) -> None:
        super().__init__()
        from gpiozero import Button as ZeroButton

        self._decoder = GestureDecoder(timings)
        self._lock = threading.Lock()  # guards the decoder
        self._fire_lock = threading.Lock()  # callbacks one at a time, in order
        self._wake = threading.Condition(self._lock)
        self._closed = False
        # bounce_time=None: debouncing is the decoder's job (see the module docstring).
        self._device = ZeroButton(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
        self._device.when_pressed = lambda: self._edge(True)
        self._device.when_released = lambda: self._edge(False)
        self._thread = threading.Thread(target=self._timer, name="os1-button", daemon=True)
        self._thread.start()

    def _edge(self, pressed: bool) -> None:
        with self._lock:
            gestures = self._decoder.edge(pressed, time.monotonic())
            self._wake.notify()
        self._dispatch(gestures)

    def _timer(self) -> None:
        while True:
            with self._lock:
                deadline = self._decoder.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not self._closed:
                    self._wake.wait(timeout)
                if self._closed:
                    return
                gestures = self._decoder.poll(time.monotonic())
            self._dispatch(gestures)

    def _dispatch(self, gestures: list[Gesture]) -> None:
        if not gestures:
            return
        with self._fire_lock:
            for gesture in gestures:
                log.debug("button: %s", gesture)
                self._fire(gesture)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=2)
        self._device.close()
        super().close()
