"""A stand-in for the `picamera2` module on machines without a Raspberry Pi camera.

It follows picamera2's real API and behaviour where the driver depends on it (picamera2/picamera2.py
and the Picamera2 manual, Appendix A):
- `Picamera2(camera_num)` raises RuntimeError("Camera __init__ sequence did not complete.") when
  there is no camera (older releases raised IndexError from the camera list);
- `create_still_configuration(main={"size": (w, h), "format": ...})`, `configure`, `start`, `stop`,
  `close` (which stops a started camera);
- `camera_controls` maps advertised control names to (min, max, default); "AfMode" only with autofocus;
- `autofocus_cycle()` sets AfMode/AfTrigger, so on a camera without autofocus it raises RuntimeError
  ("Control AfMode is not advertied by libcamera"), else returns True when focus locked;
- `capture_array("main")` of an "RGB888" stream is height × width × 3 with the bytes in B, G, R order.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np


class World:
    """What the fake sensor sees (an RGB picture) and a log of every call, shared by all instances."""

    def __init__(
        self, scene: np.ndarray | None, autofocus: bool = True, no_camera: str | None = None
    ) -> None:
        self.scene = scene
        self.autofocus = autofocus
        self.no_camera = no_camera  # None, "index" or "runtime"
        self.calls: list[str] = []
        self.open = 0  # cameras currently open


def module(world: World) -> types.ModuleType:
    class Picamera2:
        def __init__(self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None) -> None:
            world.calls.append("open")
            if world.no_camera == "index" or camera_num != 0:
                raise IndexError("list index out of range")
            if world.no_camera == "runtime":
                raise RuntimeError("Camera __init__ sequence did not complete.")
            world.open += 1
            self.is_open = True
            self.started = False
            self.camera_config: dict[str, Any] | None = None

        @property
        def camera_controls(self) -> dict[str, tuple[Any, Any, Any]]:
            controls: dict[str, tuple[Any, Any, Any]] = {"ExposureTime": (1, 66666, None)}
            if world.autofocus:
                controls.update(
                    {"AfMode": (0, 2, 0), "AfTrigger": (0, 1, 0), "LensPosition": (0.0, 15.0, 1.0)}
                )
            return controls

        def create_still_configuration(
            self, main: dict[str, Any] | None = None, **kwargs: Any
        ) -> dict[str, Any]:
            main = {"format": "BGR888", "size": (4608, 2592), **(main or {})}
            return {"use_case": "still", "main": main, "buffer_count": 1, **kwargs}

        def configure(self, camera_config: Any = "preview") -> None:
            if self.started:
                raise RuntimeError("Camera must be stopped before configuring")
            world.calls.append("configure")
            self.camera_config = camera_config

        def start(self, config: Any = None, show_preview: bool = False) -> None:
            if self.camera_config is None and config is None:
                raise RuntimeError("Camera has not been configured")
            world.calls.append("start")
            self.started = True

        def set_controls(self, controls: dict[str, Any]) -> None:
            for name in controls:
                if name not in self.camera_controls:
                    raise RuntimeError(f"Control {name} is not advertied by libcamera")

        def autofocus_cycle(self, wait: Any = None, signal_function: Any = None) -> bool:
            self.set_controls({"AfMode": 1, "AfTrigger": 0})
            world.calls.append("autofocus")
            return True

        def capture_array(
            self, name: str = "main", wait: Any = None, signal_function: Any = None
        ) -> np.ndarray:
            if not self.started:
                raise RuntimeError("camera is not running")
            world.calls.append("capture")
            assert self.camera_config is not None
            stream = self.camera_config[name]
            w, h = stream["size"]
            scene = world.scene if world.scene is not None else np.zeros((h, w, 3), np.uint8)
            rgb = np.asarray(scene, np.uint8)[:h, :w]
            if stream["format"] == "RGB888":
                return np.ascontiguousarray(rgb[..., ::-1])  # libcamera's RGB888: B, G, R in memory
            if stream["format"] == "BGR888":
                return np.ascontiguousarray(rgb)
            raise ValueError(f"format {stream['format']} not faked")

        def stop(self) -> None:
            world.calls.append("stop")
            self.started = False

        def close(self) -> None:
            if self.is_open:
                if self.started:
                    self.stop()
                world.calls.append("close")
                world.open -= 1
                self.is_open = False

    mod = types.ModuleType("picamera2")
    mod.Picamera2 = Picamera2  # type: ignore[attr-defined]
    return mod
