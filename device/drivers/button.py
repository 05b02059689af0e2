"""The tap button. Only the interface and a simulated button so far: the GPIO backend (gpiozero,
with debounce, double tap and long press) comes with the "On the body" issue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Button(Protocol):
    """Calls `on_tap` from its own thread when the button is tapped."""

    on_tap: Callable[[], None] | None

    def close(self) -> None: ...


class SimulatedButton:
    """A button for tests and development: `tap()` presses it."""

    def __init__(self) -> None:
        self.on_tap: Callable[[], None] | None = None

    def tap(self) -> None:
        if self.on_tap is not None:
            self.on_tap()

    def close(self) -> None:
        self.on_tap = None
