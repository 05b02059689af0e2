"""The lapel camera. `capture()` returns one still as an RGB uint8 array (height × width × 3).

The camera is opened for each capture and closed right after: it draws power and holds the sensor
only while a picture is being taken. Every failure is a `CameraError` with one line naming the
problem and the fix; nothing here raises anything else.

Backends:
- `Picamera2Camera`: Camera Module 3 (or any libcamera camera) through picamera2, with an autofocus
  cycle when the camera has autofocus.
- `OpenCvCamera`: a V4L2 webcam through OpenCV (opencv-python-headless comes with rapidocr).
- `FileCamera`: an image file, or the newest image in a folder, for development machines.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger("os1.camera")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


class CameraError(Exception):
    """A camera problem, already phrased for the owner: what went wrong and how to fix it."""


class Camera(Protocol):
    def capture(self) -> np.ndarray: ...


class Picamera2Camera:
    """Opens the camera, takes one still at `size` (width, height), closes it.

    `settle_s` lets auto-exposure and white balance converge after start; the autofocus cycle (about
    a second on Camera Module 3) runs only when the camera advertises the AfMode control."""

    def __init__(
        self,
        size: tuple[int, int] = (1280, 720),
        autofocus: bool = True,
        settle_s: float = 0.3,
        index: int = 0,
    ) -> None:
        self.size = (int(size[0]), int(size[1]))
        self.autofocus = autofocus
        self.settle_s = settle_s
        self.index = index

    def capture(self) -> np.ndarray:
        try:
            from picamera2 import Picamera2
        except ImportError as e:
            raise CameraError(
                f"picamera2 is not available ({e}); install it with 'sudo apt install python3-picamera2' "
                "and create the venv with --system-site-packages, or set camera.backend"
            ) from None
        try:
            cam = Picamera2(self.index)
        except Exception as e:  # IndexError (older picamera2) or RuntimeError: no camera, or it is busy
            raise CameraError(
                f"cannot open camera {self.index} ({type(e).__name__}: {e}); check the ribbon cable and "
                "'rpicam-hello --list-cameras', and that no other program is using the camera"
            ) from None
        try:
            cam.configure(cam.create_still_configuration(main={"size": self.size, "format": "RGB888"}))
            cam.start()
            if self.settle_s > 0:
                time.sleep(self.settle_s)
            if self.autofocus and "AfMode" in cam.camera_controls:
                if not cam.autofocus_cycle():
                    log.info("autofocus did not lock; taking the picture anyway")
            frame = cam.capture_array("main")
        except Exception as e:
            raise CameraError(
                f"camera capture failed ({type(e).__name__}: {e}); "
                "check the camera with 'rpicam-still -o test.jpg'"
            ) from None
        finally:
            _close_quietly(cam)
        # picamera2's "RGB888" is libcamera's naming: the bytes are B, G, R per pixel.
        return _rgb(frame[..., :3][..., ::-1], "picamera2")


def _close_quietly(cam: object) -> None:
    for step in ("stop", "close"):
        try:
            getattr(cam, step)()
        except Exception as e:
            log.warning("camera %s failed: %s", step, e)


class OpenCvCamera:
    """A V4L2 webcam: `device` is an index (0 = /dev/video0) or a device path."""

    def __init__(
        self, device: int | str = 0, size: tuple[int, int] = (1280, 720), warmup_frames: int = 5
    ) -> None:
        self.device = device
        self.size = (int(size[0]), int(size[1]))
        self.warmup_frames = warmup_frames  # the first frames come before auto-exposure has settled

    def capture(self) -> np.ndarray:
        try:
            import cv2
        except ImportError as e:
            raise CameraError(
                f"OpenCV is not available ({e}); install it with 'pip install opencv-python-headless', "
                "or set camera.backend"
            ) from None
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2)
        try:
            if not cap.isOpened():
                raise CameraError(
                    f"cannot open webcam {self.device!r}; check 'v4l2-ctl --list-devices' and camera.path"
                )
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
            ok, frame = False, None
            for _ in range(self.warmup_frames + 1):
                ok, frame = cap.read()
            if not ok or frame is None:
                raise CameraError(
                    f"webcam {self.device!r} opened but gave no picture; try another camera.path"
                )
        finally:
            cap.release()
        return _rgb(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), f"webcam {self.device!r}")


class FileCamera:
    """An image file, or a folder whose newest image is "what the camera sees" (drop photos into it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()

    def capture(self) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        image = self._pick()
        try:
            with Image.open(image) as im:
                return _rgb(np.asarray(im.convert("RGB")), str(image))
        except (OSError, UnidentifiedImageError) as e:
            raise CameraError(f"{image}: not a readable image ({e}); use a JPEG or PNG file") from None

    def _pick(self) -> Path:
        if self.path.is_file():
            return self.path
        if self.path.is_dir():
            images = [p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
            if not images:
                raise CameraError(f"{self.path}: no images in this folder; put a JPEG or PNG into it")
            return max(images, key=lambda p: p.stat().st_mtime)
        raise CameraError(
            f"{self.path}: no such file or folder; set camera.path to an image or a folder of images"
        )


def _rgb(frame: np.ndarray, source: str) -> np.ndarray:
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8 or frame.size == 0:
        raise CameraError(f"{source}: unexpected picture {frame.dtype} {frame.shape}; expected H×W×3 uint8")
    return np.ascontiguousarray(frame)
