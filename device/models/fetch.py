"""Download pinned model files: progress on stderr, SHA-256 checked, written atomically.

An interrupted or wrong download never leaves a file where a model is expected: bytes go to a
temporary file beside the target and are renamed into place only after the hash matches.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from device.models.catalog import RemoteFile


class DownloadError(Exception):
    """A download that failed or did not match its hash. Nothing is left behind."""


Progress = Callable[[int, int | None], None]


def stderr_progress(label: str) -> Progress:
    """A one-line progress bar, redrawn at most 5 times a second."""
    last = [0.0]

    def show(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] < 0.2 and done != total:
            return
        last[0] = now
        if total:
            pct = 100 * done / total
            bar = "#" * int(pct / 4)
            sys.stderr.write(f"\r{label} [{bar:<25}] {pct:5.1f}% {done / 1e6:7.1f}/{total / 1e6:.1f} MB")
        else:
            sys.stderr.write(f"\r{label} {done / 1e6:7.1f} MB")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def download(
    url: str, dest: Path, sha256: str, progress: Progress | None = None, timeout_s: float = 30
) -> Path:
    """Fetch `url` to `dest`, checking its SHA-256. Raises DownloadError and removes the partial file."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "os1-models"})
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                done = 0
                while block := resp.read(1 << 16):
                    out.write(block)
                    h.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
                if total is not None and done != total:
                    raise DownloadError(
                        f"{url}: connection dropped after {done} of {total} bytes; run the fetch again"
                    )
            out.flush()
            os.fsync(out.fileno())
        got = h.hexdigest()
        if got != sha256:
            raise DownloadError(
                f"{url}: SHA-256 mismatch (got {got[:12]}…, expected {sha256[:12]}…); "
                "the file was removed. The server may have changed it: check the URL"
            )
        os.replace(tmp, dest)
        return dest
    except DownloadError:
        tmp.unlink(missing_ok=True)
        raise
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        tmp.unlink(missing_ok=True)
        reason = getattr(e, "reason", None) or e
        raise DownloadError(
            f"{url}: download failed ({reason}); check the network and run the fetch again"
        ) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def fetch_into(folder: Path, files: tuple[RemoteFile, ...], progress_label: str = "") -> Path:
    """Download all `files` of one model into `folder`, atomically as a whole folder."""
    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        for f in files:
            name = Path(f.url.split("?")[0]).name
            label = progress_label or name
            target = download(
                f.url, staging / name, f.sha256, stderr_progress(label) if progress_label else None
            )
            if f.unpack:
                _unpack(target, staging)
                target.unlink()
                (staging / ".sha256").write_text(f.sha256 + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
        return folder
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if progress_label:  # end a half-drawn bar, so the error that follows is a line of its own
            sys.stderr.write("\n")
        raise


def _unpack(archive: Path, into: Path) -> None:
    """Extract an archive; a single top-level folder inside it is flattened away."""
    tmp = Path(tempfile.mkdtemp(dir=into))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                t.extractall(tmp, filter="data")
        else:
            raise DownloadError(f"{archive.name}: not a zip or tar archive")
        entries = list(tmp.iterdir())
        root = entries[0] if len(entries) == 1 and entries[0].is_dir() else tmp
        for item in root.iterdir():
            os.replace(item, into / item.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
