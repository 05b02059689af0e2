"""The vision step and the camera intent, on real OCR (rapidocr's bundled PP-OCR models) over text
rendered with a real font, and end to end through FileCamera."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from device.drivers.camera import CameraError, FileCamera
from device.intents.camera import CANT_SEE, NO_WRITING, CameraIntent, match
from device.pipeline.vision import Vision, brightness, dominant_colour

pytestmark = pytest.mark.models

SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"  # the same DejaVu, shipped with matplotlib


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = SYSTEM_FONTS / name if (SYSTEM_FONTS / name).is_file() else MPL_FONTS / name
    return ImageFont.truetype(str(path), size)


def sign(
    lines: list[str],
    background: tuple[int, int, int] = (245, 240, 225),
    ink: tuple[int, int, int] = (20, 20, 20),
) -> np.ndarray:
    """A 1280×720 picture with the lines written on it, like a sign held up to the camera."""
    img = Image.new("RGB", (1280, 720), background)
    draw = ImageDraw.Draw(img)
    y = 160
    for i, line in enumerate(lines):
        draw.text((120, y), line, font=font(72 if i == 0 else 54, bold=i == 0), fill=ink)
        y += 140
    return np.asarray(img)


@pytest.fixture(scope="module")
def vision() -> Iterator[Vision]:
    yield Vision()  # one OCR engine for the whole module: loading it takes a while


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def test_reads_rendered_text_line_by_line(vision: Vision) -> None:
    text = vision.read_text(sign(["EMERGENCY EXIT", "Platform 4 to Oxford", "Keep this door closed"]))
    assert text.splitlines() == ["EMERGENCY EXIT", "Platform 4 to Oxford", "Keep this door closed"]


def test_reads_light_text_on_a_dark_coloured_background(vision: Vision) -> None:
    text = vision.read_text(
        sign(["Fresh bread daily", "Open until 6 pm"], background=(20, 60, 140), ink=(250, 250, 250))
    )
    assert words(text) == ["fresh", "bread", "daily", "open", "until", "6", "pm"]


def test_a_blank_picture_has_no_text(vision: Vision) -> None:
    assert vision.read_text(np.full((720, 1280, 3), 200, np.uint8)) == ""


def test_brightness_and_colour_are_measured_in_rgb() -> None:
    red = np.zeros((90, 160, 3), np.uint8)
    red[..., 0] = 220
    assert dominant_colour(red) == "red"
    assert dominant_colour(red[..., ::-1].copy()) == "blue"  # the channel order matters
    grey = np.full((90, 160, 3), 128, np.uint8)
    assert dominant_colour(grey) is None
    assert brightness(grey) == pytest.approx(128, abs=0.5)
    assert brightness(np.zeros((4, 4, 3), np.uint8)) == 0


def test_describe_says_what_it_reads_and_the_colour_without_naming_objects(vision: Vision) -> None:
    said = vision.describe(sign(["STOP"], background=(200, 20, 20), ink=(255, 255, 255)))
    assert "can't recognise objects" in said
    assert "There's writing that says: STOP." in said
    assert "mostly red" in said


def test_describe_in_the_dark(vision: Vision) -> None:
    said = vision.describe(np.full((720, 1280, 3), 8, np.uint8))
    assert said == "It's too dark for me to see anything."


def test_bad_images_are_refused(vision: Vision) -> None:
    with pytest.raises(ValueError, match="expected an RGB uint8 image"):
        vision.read_text(np.zeros((10, 10), np.uint8))


@pytest.mark.parametrize(
    "text, kind",
    [
        ("What am I looking at?", "describe"),
        ("Hey, what do you see?", "describe"),
        ("what can you see", "describe"),
        ("What's this?", "describe"),
        ("Could you take a look?", "describe"),
        ("Read this.", "read"),
        ("Can you read this for me, please?", "read"),
        ("could you read the sign", "read"),
        ("What does it say?", "read"),
        ("Read it out loud.", "read"),
        ("what's written here", "read"),
    ],
)
def test_camera_requests_are_recognised(text: str, kind: str) -> None:
    assert match(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "Read me a story.",
        "Can you read my mind?",
        "What do you see in me?",
        "What am I looking at next week on my calendar?",
        "I read this book last year.",
        "What is the capital of France?",
        "Look at the time!",
        "What does that mean?",
        "",
    ],
)
def test_other_sentences_are_left_to_the_llm(text: str) -> None:
    assert match(text) is None


def test_read_this_end_to_end_through_a_file_camera(vision: Vision, tmp_path: Path) -> None:
    Image.fromarray(sign(["Platform 4", "Trains to Oxford"])).save(tmp_path / "view.png")
    camera = FileCamera(tmp_path)
    signals: list[bool] = []
    intent = CameraIntent(camera.capture, vision, on_capture=signals.append)
    assert intent.look("Can you read this?") == "It says: Platform 4. Trains to Oxford."
    assert signals == [True, False]
    said = intent.look("What am I looking at?")
    assert said is not None and "There's writing that says: Platform 4. Trains to Oxford." in said
    assert signals == [True, False, True, False]


def test_no_writing_and_not_a_command(vision: Vision, tmp_path: Path) -> None:
    Image.fromarray(np.full((720, 1280, 3), 180, np.uint8)).save(tmp_path / "wall.png")
    taken: list[int] = []

    def capture() -> np.ndarray:
        taken.append(1)
        return FileCamera(tmp_path / "wall.png").capture()

    intent = CameraIntent(capture, vision)
    assert intent.look("What's the weather like?") is None
    assert taken == []  # no picture for ordinary conversation
    assert intent.look("read this") == NO_WRITING
    assert taken == [1]


def test_a_camera_error_is_spoken_briefly_and_logged(
    vision: Vision, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    signals: list[bool] = []
    intent = CameraIntent(FileCamera(tmp_path / "nowhere").capture, vision, on_capture=signals.append)
    with caplog.at_level(logging.WARNING, logger="os1.camera"):
        assert intent.look("what do you see") == CANT_SEE
    assert signals == [True, False]  # the indicator is put back even when the camera fails
    assert any("no such file or folder" in r.getMessage() for r in caplog.records)


def test_long_text_is_cut_short(vision: Vision) -> None:
    def page() -> np.ndarray:
        return sign(["Terms and conditions apply", "to every single ticket sold", "on this line today"])

    intent = CameraIntent(page, vision, max_words=6)
    assert intent.look("read this") == "It says: Terms and conditions apply. to every… and there's more."


def test_camera_error_type_is_what_the_intent_catches() -> None:
    def broken() -> np.ndarray:
        raise CameraError("cannot open camera 0 (RuntimeError: x); check the ribbon cable")

    assert CameraIntent(broken, Vision()).look("read this") == CANT_SEE  # no OCR engine is loaded for this
