"""Building the button, indicator and camera from the config, with and without GPIO."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.app.hardware import build_button, build_camera, build_indicator, check_pins
from device.config.load import ConfigError, parse
from device.drivers.button import GpioButton
from device.drivers.camera import FileCamera
from device.drivers.indicator import GpioIndicator


@pytest.fixture
def mock_gpio() -> Iterator[MockFactory]:
    previous = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


def test_parts_are_built_on_gpio(mock_gpio: MockFactory) -> None:
    cfg = parse("button:\n  pin: 5\n  double_tap_ms: 0\nindicator:\n  led_pin: 6\n  motor_pin: 13\n")
    button, indicator = build_button(cfg.button), build_indicator(cfg.indicator)
    try:
        assert isinstance(button, GpioButton) and isinstance(indicator, GpioIndicator)
        assert mock_gpio.pin(5).state == 1  # pulled up, waiting for a press
        indicator.show("listening")
    finally:
        if button:
            button.close()
        if indicator:
            indicator.close()
    assert build_button(parse("button:\n  enabled: false\n").button) is None


def test_without_gpio_the_parts_are_skipped_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    if Path("/proc/device-tree/model").exists() or Path("/dev/gpiochip0").exists():
        pytest.skip("this machine has GPIO")  # the test is about machines without it, like CI
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    previous = Device.pin_factory
    Device.pin_factory = None  # gpiozero looks for a pin library again, and finds none
    try:
        with caplog.at_level(logging.WARNING, logger="os1.body"):
            assert build_button(parse("").button) is None
            assert build_indicator(parse("").indicator) is None
    finally:
        Device.pin_factory = previous
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and "running without the button" in lines[0]


def test_two_parts_on_one_pin_is_a_config_error() -> None:
    cfg = parse("button:\n  pin: 27\n")
    with pytest.raises(ConfigError, match="indicator.led_pin: GPIO 27 is already button.pin"):
        check_pins(cfg.button, cfg.indicator)
    cfg = parse("button:\n  pin: 27\n  enabled: false\n")
    check_pins(cfg.button, cfg.indicator)  # a part that is off uses no pin


def test_camera_backends_from_config(tmp_path: Path) -> None:
    assert isinstance(build_camera(parse(f"camera:\n  path: {tmp_path}\n").camera), FileCamera)
    assert build_camera(parse("camera:\n  backend: none\n").camera) is None
    assert build_camera(parse("camera:\n  path: /dev/video-os1-missing\n").camera) is None
    with pytest.raises(ConfigError, match="camera.path"):
        build_camera(parse("camera:\n  backend: file\n").camera)


@pytest.mark.parametrize(
    "text, message",
    [
        ("camera:\n  size: [1280]\n", "camera.size"),
        ("camera:\n  size: [1280, 10]\n", "camera.size.1"),
        ("camera:\n  backend: kinect\n", "camera.backend"),
        ("button:\n  pin: 40\n", "button.pin"),
        ("indicator:\n  brightness: 0\n", "indicator.brightness"),
        ("indicator:\n  colour: red\n", "unknown key 'indicator.colour'"),
    ],
)
def test_bad_values_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse(text)
