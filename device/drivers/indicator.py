"""The status indicator: an LED (and optionally a vibration motor) that shows what the companion is doing.

LED patterns, repeated until the state changes:
    idle        off
    listening   steady on
    thinking    slow blink (0.5 s on, 0.5 s off)
    speaking    fast blink (0.12 s on, 0.12 s off)
    muted       double blink every 2 s
    capturing   fast flicker (0.05 s on, 0.05 s off), while the camera takes a picture

The motor gives a short buzz on entering listening and capturing, and two on entering muted: it is
for the owner alone, so it marks changes rather than running the whole time.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any, Protocol

Step = tuple[float, float]  # (LED level 0–1, seconds); math.inf holds the level until the next state

PATTERNS: dict[str, tuple[Step, ...]] = {
    "idle": ((0.0, math.inf),),
    "listening": ((1.0, math.inf),),
    "thinking": ((1.0, 0.5), (0.0, 0.5)),
    "speaking": ((1.0, 0.12), (0.0, 0.12)),
    "muted": ((1.0, 0.1), (0.0, 0.15), (1.0, 0.1), (0.0, 1.65)),
    "capturing": ((1.0, 0.05), (0.0, 0.05)),
}
BUZZES: dict[str, int] = {"listening": 1, "capturing": 1, "muted": 2}
BUZZ_ON_S, BUZZ_OFF_S = 0.08, 0.12


def pattern(state: str) -> tuple[Step, ...]:
    try:
        return PATTERNS[str(state)]
    except KeyError:
        raise ValueError(f"unknown indicator state {state!r} (known: {', '.join(PATTERNS)})") from None


class Indicator(Protocol):
    """`show(state)` takes the voice loop's state names (idle, listening, thinking, speaking, muted)
    and "capturing"; `capturing(active)` shows the camera on top of the loop's state and goes back."""

    def show(self, state: str) -> None: ...

    def capturing(self, active: bool) -> None: ...

    def close(self) -> None: ...


class _StateTracker:
    """Remembers the loop's state under a "capturing" overlay."""

    def __init__(self) -> None:
        self.state = "idle"  # what is shown now
        self._base = "idle"  # the loop's state, to return to after capturing
        self._capturing = False
        self._lock = threading.RLock()  # the loop thread shows states, the reply thread the camera

    def show(self, state: str) -> None:
        state = str(state)
        pattern(state)  # unknown names fail here, on every backend
        with self._lock:
            if state != "capturing":
                self._base = state
            if self._capturing and state != "capturing":
                return  # the picture is being taken; the loop's state shows again when it is done
            self._apply(state)

    def capturing(self, active: bool) -> None:
        with self._lock:
            self._capturing = active
            self._apply("capturing" if active else self._base)

    def _apply(self, state: str) -> None:
        self.state = state


class SimulatedIndicator(_StateTracker):
    """For tests and development machines: records what would have been shown."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []

    def _apply(self, state: str) -> None:
        super()._apply(state)
        self.shown.append(state)

    def close(self) -> None:
        pass


class GpioIndicator(_StateTracker):
    """An LED on `led_pin` (BCM, through a resistor to ground) at `brightness` (software PWM below 1.0),
    and an optional vibration motor (through a transistor) on `motor_pin`. `enabled=False` keeps both
    dark and still: for discretion; `set_enabled` switches at run time."""

    def __init__(
        self,
        led_pin: int,
        motor_pin: int | None = None,
        brightness: float = 1.0,
        enabled: bool = True,
        pin_factory: Any = None,
    ) -> None:
        super().__init__()
        from gpiozero import LED, PWMLED, DigitalOutputDevice

        self.brightness = brightness
        self.enabled = enabled
        self._pwm = brightness < 1.0
        # A plain LED at full brightness needs no PWM (the MockFactory's default pins have none either).
        self._led: Any = (
            LED(led_pin, pin_factory=pin_factory)
            if not self._pwm
            else PWMLED(led_pin, pin_factory=pin_factory)
        )
        self._motor: Any = None
        if motor_pin:
            try:
                self._motor = DigitalOutputDevice(motor_pin, pin_factory=pin_factory)
            except Exception:
                self._led.close()
                raise
        self._cond = threading.Condition()
        self._pattern = pattern("idle")
        self._generation = 0  # bumped on every change, so the pattern thread drops what it was doing
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="os1-indicator", daemon=True)
        self._thread.start()

    def set_enabled(self, enabled: bool) -> None:
        with self._lock:
            self.enabled = enabled
            self._apply(self.state)

    def _apply(self, state: str) -> None:
        entering = state != self.state
        super()._apply(state)
        with self._cond:
            self._pattern = pattern(state)
            self._generation += 1
            self._cond.notify()
        if entering and self.enabled and self._motor is not None and state in BUZZES:
            self._motor.blink(on_time=BUZZ_ON_S, off_time=BUZZ_OFF_S, n=BUZZES[state], background=True)

    def _set_led(self, level: float) -> None:
        on = level > 0 and self.enabled
        self._led.value = (self.brightness * level if on else 0.0) if self._pwm else int(on)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                changed = functools.partial(self._changed, self._generation)
                for level, seconds in self._pattern:
                    self._set_led(level)
                    if self._cond.wait_for(changed, None if math.isinf(seconds) else seconds):
                        break
            self._set_led(0.0)

    def _changed(self, generation: int) -> bool:
        return self._closed or self._generation != generation

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=2)
        for device in (self._led, self._motor):
            if device is not None:
                device.close()
