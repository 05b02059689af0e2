"""What the camera's picture shows, as far as we honestly can tell offline: the writing in it (OCR with
rapidocr's PP-OCR ONNX models, which ship inside the rapidocr wheel), how bright it is, and its main
colour. It does not recognise objects, and says so.

Images are RGB uint8 arrays (height × width × 3), as the camera drivers return them.
"""

from __future__ import annotations

import colorsys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

TOO_DARK = 25.0  # mean luma below which a picture shows nothing worth reading

# Hue ranges (degrees) for naming a colour; red wraps round 0.
_HUES = (
    (15, "red"),
    (40, "orange"),
    (70, "yellow"),
    (160, "green"),
    (200, "turquoise"),
    (255, "blue"),
    (290, "purple"),
    (335, "pink"),
    (360, "red"),
)


@dataclass(frozen=True)
class TextLine:
    text: str
    score: float
    box: tuple[tuple[float, float], ...]  # the four corners, clockwise from top left, in pixels


class Ocr:
    """rapidocr with its bundled models, loaded on first use (about 0.5 s and 150–300 MB)."""

    def __init__(self, threads: int = 0, min_score: float = 0.5) -> None:
        self.threads = threads  # 0: onnxruntime's default (all cores)
        self.min_score = min_score
        self._engine: Any = None
        self._lock = threading.Lock()  # one picture at a time; the engine is not shared safely

    def _load(self) -> Any:
        if self._engine is None:
            from rapidocr import RapidOCR

            self._engine = RapidOCR(
                params={
                    "Global.log_level": "warning",
                    "Global.text_score": self.min_score,
                    "EngineConfig.onnxruntime.intra_op_num_threads": self.threads or -1,
                }
            )
        return self._engine

    def lines(self, image: np.ndarray) -> list[TextLine]:
        """The lines of text, top to bottom, with their confidence and position."""
        _check(image)
        with self._lock:
            # rapidocr takes arrays as OpenCV does, in B, G, R order.
            result = self._load()(np.ascontiguousarray(image[..., ::-1]))
        if result.txts is None:
            return []
        return [
            TextLine(str(t).strip(), float(s), tuple((float(x), float(y)) for x, y in b))
            for t, s, b in zip(result.txts, result.scores, result.boxes, strict=True)
            if str(t).strip()
        ]


@dataclass(frozen=True)
class Seen:
    text: str  # the lines read, joined by newlines ("" when there is no writing)
    brightness: float  # mean luma 0–255
    colour: str | None  # the main colour, when one clearly dominates


class Vision:
    def __init__(self, ocr: Ocr | None = None) -> None:
        self.ocr = ocr or Ocr()

    def read_text(self, image: np.ndarray) -> str:
        """The writing in the picture, one line per line of text ("" when none)."""
        return "\n".join(line.text for line in self.ocr.lines(image))

    def look(self, image: np.ndarray) -> Seen:
        light = brightness(image)
        if light < TOO_DARK:
            return Seen("", light, None)  # nothing to read in the dark: skip the OCR's second or two
        return Seen(self.read_text(image), light, dominant_colour(image))

    def describe(self, image: np.ndarray) -> str:
        """A spoken sentence or three about the picture, without claiming to know what things are."""
        return describe_seen(self.look(image))


def describe_seen(seen: Seen) -> str:
    if seen.brightness < TOO_DARK:
        return "It's too dark for me to see anything."
    parts = ["I can't recognise objects yet, but here's what I can tell."]
    if seen.text:
        parts.append(f"There's writing that says: {spoken_text(seen.text)}")
    else:
        parts.append("I can't see any writing.")
    light = "It's quite dark" if seen.brightness < 70 else "It's very bright" if seen.brightness > 215 else ""
    if seen.colour and light:
        parts.append(f"{light}, and mostly {seen.colour}.")
    elif seen.colour:
        parts.append(f"It's mostly {seen.colour}.")
    elif light:
        parts.append(f"{light}.")
    return " ".join(parts)


def spoken_text(text: str) -> str:
    """Lines joined into sentences for the voice: each line ends with a full stop unless it has one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(line if line[-1] in ".!?:;" else f"{line}." for line in lines)


def brightness(image: np.ndarray) -> float:
    _check(image)
    rgb = image.astype(np.float32)
    return float((rgb @ np.array([0.299, 0.587, 0.114], np.float32)).mean())


def dominant_colour(image: np.ndarray, share: float = 0.4) -> str | None:
    """The colour name of the hue that covers at least `share` of the picture, among clearly coloured
    pixels (saturated and not dark). None when the picture is mostly grey, white or black."""
    _check(image)
    small = image[:: max(1, image.shape[0] // 90), :: max(1, image.shape[1] // 160)].reshape(-1, 3)
    rgb = small.astype(np.float32) / 255
    top, bottom = rgb.max(axis=1), rgb.min(axis=1)
    coloured = (top > 0.2) & ((top - bottom) / np.maximum(top, 1e-6) > 0.35)
    if coloured.mean() < share:
        return None
    hues = np.array([colorsys.rgb_to_hsv(*px)[0] * 360 for px in rgb[coloured]])
    names = [next(name for limit, name in _HUES if h < limit or limit == 360) for h in hues]
    name, count = max(((n, names.count(n)) for n in set(names)), key=lambda nc: nc[1])
    return name if count >= share * len(rgb) else None


def _check(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            f"expected an RGB uint8 image (height × width × 3), got {getattr(image, 'shape', image)}"
        )
