"""The worn parts, built from the config: the tap button, the status indicator and the camera.

Each builder returns None when its part is switched off or cannot work on this machine (no GPIO on a
laptop, no camera found by `auto`), after one warning line; the companion then runs without it.
Set GPIOZERO_PIN_FACTORY=mock to try the button and indicator code on a machine without GPIO.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from pathlib import Path

from device.config.load import ConfigError
from device.config.schema import ButtonConfig, CameraConfig, IndicatorConfig
from device.drivers.button import Button, GestureTimings, GpioButton
from device.drivers.camera import Camera, FileCamera, OpenCvCamera, Picamera2Camera
from device.drivers.indicator import GpioIndicator, Indicator

log = logging.getLogger("os1.body")


def _gpio_errors() -> tuple[type[BaseException], ...]:
    from gpiozero.exc import GPIOZeroError

    return (GPIOZeroError, OSError, RuntimeError)


def check_pins(button: ButtonConfig, indicator: IndicatorConfig) -> None:
    """Two parts on one pin would fight over it: refuse the config instead."""
    used: dict[int, str] = {}
    wanted = [
        (button.enabled, button.pin, "button.pin"),
        (indicator.enabled, indicator.led_pin, "indicator.led_pin"),
        (indicator.enabled and indicator.motor_pin != 0, indicator.motor_pin, "indicator.motor_pin"),
    ]
    for enabled, pin, key in wanted:
        if not enabled:
            continue
        if pin in used:
            raise ConfigError(f"{key}: GPIO {pin} is already {used[pin]}; give each part its own pin")
        used[pin] = key


def build_button(cfg: ButtonConfig) -> Button | None:
    if not cfg.enabled:
        return None
    timings = GestureTimings(cfg.bounce_ms, cfg.double_tap_ms, cfg.long_press_ms)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gpiozero warns about every pin library it falls back from
            return GpioButton(cfg.pin, timings)
    except _gpio_errors() as e:
        log.warning("button: GPIO %d is not usable here (%s); running without the button", cfg.pin, e)
        return None


def build_indicator(cfg: IndicatorConfig) -> Indicator | None:
    """Built even when `enabled` is false, so `set_enabled(True)` can light it later; None without GPIO."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return GpioIndicator(cfg.led_pin, cfg.motor_pin or None, cfg.brightness, cfg.enabled)
    except _gpio_errors() as e:
        log.warning("indicator: GPIO %d is not usable here (%s); running without it", cfg.led_pin, e)
        return None


def build_camera(cfg: CameraConfig) -> Camera | None:
    size = (cfg.size[0], cfg.size[1])
    backend = cfg.backend
    if backend == "auto":
        backend = auto_camera_backend(cfg)
        if backend == "none":
            log.warning(
                "camera: none found (no picamera2, no /dev/video0, no camera.path); running without it"
            )
    if backend == "picamera2":
        return Picamera2Camera(size, cfg.autofocus)
    if backend == "opencv":
        return OpenCvCamera(cfg.path or 0, size)
    if backend == "file":
        if not cfg.path:
            raise ConfigError("camera.path: the file backend needs an image file or folder")
        return FileCamera(cfg.path)
    return None


def auto_camera_backend(cfg: CameraConfig) -> str:
    if cfg.path and not cfg.path.startswith("/dev/"):
        return "file"
    if importlib.util.find_spec("picamera2") is not None:
        return "picamera2"
    if importlib.util.find_spec("cv2") is not None and Path(cfg.path or "/dev/video0").exists():
        return "opencv"
    return "none"
