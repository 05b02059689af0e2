"""How long OCR takes on a camera-sized picture, and how much memory it adds.

    python -m device.evals.vision [--size 1280x720] [--runs 5] [--threads 0]

Renders a three-line sign with DejaVu Sans (matplotlib ships it), reads it `runs` times with the
real rapidocr engine, and prints the first (cold) run, the median of the rest, and the resident
memory (RSS) before loading and after.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

LINES = ["EMERGENCY EXIT", "Platform 4 to Oxford", "Keep this door closed"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sign(width: int, height: int) -> np.ndarray:
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    img = Image.new("RGB", (width, height), (245, 240, 225))
    draw = ImageDraw.Draw(img)
    scale = height / 720
    for i, line in enumerate(LINES):
        font = ImageFont.truetype(
            str(fonts / ("DejaVuSans-Bold.ttf" if i == 0 else "DejaVuSans.ttf")), int(60 * scale)
        )
        draw.text((int(120 * scale), int((160 + 140 * i) * scale)), line, font=font, fill=(20, 20, 20))
    return np.asarray(img)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m device.evals.vision", description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="1280x720", help="picture size WIDTHxHEIGHT (default: %(default)s)")
    ap.add_argument(
        "--runs", type=int, default=5, help="timed runs after the cold one (default: %(default)s)"
    )
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads, 0 = all cores")
    args = ap.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"vision_bench: --size {args.size!r}: use WIDTHxHEIGHT, e.g. 1280x720", file=sys.stderr)
        return 2
    image = sign(width, height)
    base = rss_mb()
    from device.pipeline.vision import Ocr, Vision

    vision = Vision(Ocr(threads=args.threads))
    t0 = time.perf_counter()
    text = vision.read_text(image)
    cold = time.perf_counter() - t0
    after_first = rss_mb()
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        vision.read_text(image)
        times.append(time.perf_counter() - t0)
    peak = rss_mb()
    right = text.splitlines() == LINES
    print(
        f"picture: {width}x{height}, {len(LINES)} lines of text; read {'correctly' if right else repr(text)}"
    )
    print(f"cold (load models + first read): {cold * 1000:.0f} ms")
    print(
        f"warm: median {statistics.median(times) * 1000:.0f} ms of {len(times)} "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"
    )
    print(
        f"RSS: {base:.0f} MB before, +{after_first - base:.0f} MB after the first read, "
        f"+{peak - base:.0f} MB after all"
    )
    return 0 if right else 1


if __name__ == "__main__":
    sys.exit(main())
