"""The camera drivers. picamera2 cannot be installed here, so Picamera2Camera runs against
tests/fake_picamera2.py, a stand-in that follows picamera2's API (including its BGR-ordered "RGB888")."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from device.drivers.camera import CameraError, FileCamera, OpenCvCamera, Picamera2Camera
from tests.drivers import fake_picamera2


def scene(w: int = 320, h: int = 240) -> np.ndarray:
    """Left half pure red, right half pure blue: a channel swap cannot hide."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2, 0] = 255
    img[:, w // 2 :, 2] = 255
    return img


def install(monkeypatch: pytest.MonkeyPatch, world: fake_picamera2.World) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2.module(world))


def test_picamera2_opens_captures_rgb_and_closes_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    world = fake_picamera2.World(scene(), autofocus=True)
    install(monkeypatch, world)
    cam = Picamera2Camera(size=(320, 240), settle_s=0)
    for _ in range(2):
        frame = cam.capture()
        assert world.open == 0  # closed again right after the picture
        assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8
        assert tuple(frame[10, 10]) == (255, 0, 0)  # red stays red: the BGR bytes were turned round
        assert tuple(frame[10, 300]) == (0, 0, 255)
    one = ["open", "configure", "start", "autofocus", "capture", "stop", "close"]
    assert world.calls == one + one


def test_picamera2_without_autofocus_skips_the_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    world = fake_picamera2.World(scene(), autofocus=False)
    install(monkeypatch, world)
    frame = Picamera2Camera(size=(320, 240), autofocus=True, settle_s=0).capture()
    assert frame.shape == (240, 320, 3)
    assert "autofocus" not in world.calls and world.open == 0


@pytest.mark.parametrize("how", ["index", "runtime"])
def test_picamera2_with_no_camera_is_a_one_line_camera_error(
    monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    install(monkeypatch, fake_picamera2.World(None, no_camera=how))
    with pytest.raises(CameraError) as e:
        Picamera2Camera(settle_s=0).capture()
    message = str(e.value)
    assert "\n" not in message and "cannot open camera 0" in message and "rpicam-hello" in message


def test_picamera2_not_installed_is_a_camera_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes `import picamera2` raise ImportError
    with pytest.raises(CameraError, match="picamera2 is not available.*python3-picamera2"):
        Picamera2Camera().capture()


def test_picamera2_failing_mid_capture_still_closes_the_camera(monkeypatch: pytest.MonkeyPatch) -> None:
    world = fake_picamera2.World(scene())
    mod = fake_picamera2.module(world)

    def broken(self: object, *args: object, **kwargs: object) -> np.ndarray:
        raise RuntimeError("Failed to capture: dequeue timeout")

    mod.Picamera2.capture_array = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", mod)
    with pytest.raises(CameraError, match="camera capture failed .*dequeue timeout"):
        Picamera2Camera(size=(320, 240), settle_s=0).capture()
    assert world.open == 0 and world.calls[-2:] == ["stop", "close"]


def test_file_camera_reads_a_file_and_the_newest_image_in_a_folder(tmp_path: Path) -> None:
    Image.fromarray(scene()).save(tmp_path / "old.png")
    newer = scene()[:, ::-1].copy()  # mirrored: blue on the left
    Image.fromarray(newer).save(tmp_path / "new.png")
    os.utime(tmp_path / "old.png", (time.time() - 60, time.time() - 60))
    (tmp_path / "notes.txt").write_text("not an image")
    assert np.array_equal(FileCamera(tmp_path / "old.png").capture(), scene())
    assert np.array_equal(FileCamera(tmp_path).capture(), newer)


def test_file_camera_problems_are_one_line_camera_errors(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="no such file or folder; set camera.path"):
        FileCamera(tmp_path / "missing").capture()
    with pytest.raises(CameraError, match="no images in this folder"):
        FileCamera(tmp_path).capture()
    (tmp_path / "broken.jpg").write_bytes(b"this is not a JPEG")
    with pytest.raises(CameraError, match="not a readable image"):
        FileCamera(tmp_path / "broken.jpg").capture()


def test_opencv_camera_with_no_webcam_is_a_camera_error() -> None:
    missing = "/dev/video-os1-test-none"
    assert not Path(missing).exists()
    with pytest.raises(CameraError, match="cannot open webcam"):
        OpenCvCamera(missing).capture()
