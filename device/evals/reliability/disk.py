"""A state dir on a disk of its own, for the fault suite: a small tmpfs that can be filled to the last
byte (a real ENOSPC, not a mocked one) and remounted read-only. Mounting needs root (CI runs as root);
`available()` says why not otherwise."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path


def available() -> str:
    """'' if this process can mount a tmpfs, else why not."""
    if os.geteuid() != 0:
        return "needs root to mount a small tmpfs as the state dir"
    return ""


class SmallDisk:
    """A tmpfs of `size_kb` at `path`; `fill()` takes every free byte, `empty()` gives them back."""

    def __init__(self, path: Path, size_kb: int = 4096):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)], check=True)
        self._filler = path / "filler.bin"

    def fill(self) -> None:
        """Write until ENOSPC, in smaller and smaller blocks, down to the last byte."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 16, 4096, 512, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)

    def empty(self) -> None:
        self._filler.unlink(missing_ok=True)

    def read_only(self, on: bool) -> None:
        mode = "remount,ro" if on else "remount,rw"
        subprocess.run(["mount", "-o", mode, str(self.path)], check=True)

    def close(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], check=False)
