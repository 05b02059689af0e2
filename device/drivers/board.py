"""The board's health for `os1 status`: CPU temperature and the Pi firmware's throttling flags.

Each reading is None where the board does not have it (a laptop has no vcgencmd), so status omits it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")

# Bits of `vcgencmd get_throttled` (Raspberry Pi firmware documentation).
THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "ARM frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


def cpu_temp_c(zone: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature in °C, or None if the kernel exposes no thermal zone."""
    try:
        return round(int(zone.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def parse_throttled(output: str) -> int | None:
    """`throttled=0x50005` -> 0x50005."""
    _, _, value = output.strip().partition("=")
    try:
        return int(value, 16)
    except ValueError:
        return None


def describe_throttled(flags: int) -> list[str]:
    return [text for bit, text in THROTTLE_BITS.items() if flags & (1 << bit)]


def throttled() -> int | None:
    """The firmware's throttling flags on a Raspberry Pi, or None where there is no vcgencmd."""
    exe = shutil.which("vcgencmd")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "get_throttled"], capture_output=True, text=True, timeout=2, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_throttled(out.stdout)


def health() -> dict[str, object]:
    """What is known: {"cpu_temp_c": 51.2, "throttled": "0x0", "throttled_flags": [...]}; absent = omitted."""
    out: dict[str, object] = {}
    temp = cpu_temp_c()
    if temp is not None:
        out["cpu_temp_c"] = temp
    flags = throttled()
    if flags is not None:
        out["throttled"] = hex(flags)
        out["throttled_flags"] = describe_throttled(flags)
    return out
