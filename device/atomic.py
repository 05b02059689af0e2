"""One way to replace a file so that a crash or power cut at any moment leaves the old content or the
new, never half of one: a temp file in the same folder, fsync, rename, fsync the folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(path: Path, text: str, mode: int = 0o644, keep_mode: bool = True) -> None:
    """Replace `path` with `text`. A file that exists keeps its mode (and its owner, when we are root)
    unless `keep_mode` is false; a new one gets `mode`."""
    path = path.resolve() if path.is_symlink() else path
    try:
        st: os.stat_result | None = path.stat()
    except FileNotFoundError:
        st = None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), (st.st_mode & 0o7777) if st and keep_mode else mode)
            if st and os.getuid() == 0 and (st.st_uid, st.st_gid) != (0, 0):
                os.fchown(f.fileno(), st.st_uid, st.st_gid)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


def sweep_temp_files(folder: Path) -> list[Path]:
    """Remove what a replace cut short by a crash or power cut left behind (`.NAME.*.tmp`: the real
    file is whole, old or new). For the daemon's start, before anything writes; returns what it removed."""
    removed = []
    for tmp in folder.rglob(".*.tmp"):
        if tmp.is_file() and not tmp.is_symlink():
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass  # a read-only state dir: left for a start that can write
    return removed
