"""Everything the owner owns, in one archive: `os1 export FILE`, `os1 import FILE` (a new board) and
`os1 forget --everything`.

The archive is a gzipped tar with `manifest.json` first: a version, and each member's SHA-256 and
size. Databases are copied with SQLite's backup API (a consistent snapshot, WAL included, even while
the daemon writes). An import is checked whole (manifest, hashes, no stray or missing member, every
database's integrity, the voiceprint, the config) in a temporary folder beside the state dir, and
only then put in place with renames: a bad or partial archive changes nothing.

Secrets (API keys, mail passwords) are never exported; set them again on the new board.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from device.atomic import write_text_atomic

VERSION = 1
MANIFEST = "manifest.json"
STATE = "state/"
CONFIG = "config/config.yaml"
_SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".tmp", ".partial")
_SKIP_DIRS = {"demo"}  # `os1 demo`'s scratch output, not the owner's


class ArchiveError(Exception):
    """An archive that cannot be written or read; the message is one line and says what to do."""


@dataclass
class Member:
    name: str
    """Its path in the archive: state/... or config/config.yaml."""
    data: bytes


def owner_files(state: Path) -> list[Path]:
    """The files of the owner's state, without SQLite's side files or scratch output."""
    if not state.is_dir():
        return []
    out = []
    for p in sorted(state.rglob("*")):
        rel = p.relative_to(state)
        if p.is_file() and not p.name.endswith(_SKIP_SUFFIXES) and rel.parts[0] not in _SKIP_DIRS:
            out.append(p)
    return out


def _is_sqlite(p: Path) -> bool:
    with open(p, "rb") as f:
        return f.read(16) == b"SQLite format 3\x00"


def _snapshot(db: Path) -> bytes:
    """A consistent copy of a live database (its WAL folded in), through SQLite's backup API."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.db"
        src = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            src.close()
            dst.close()
        return copy.read_bytes()


def collect(state: Path, config_file: Path | None) -> list[Member]:
    members = []
    for p in owner_files(state):
        data = _snapshot(p) if _is_sqlite(p) else p.read_bytes()
        members.append(Member(STATE + p.relative_to(state).as_posix(), data))
    if config_file is not None and config_file.is_file():
        members.append(Member(CONFIG, config_file.read_bytes()))
    return members


def export(state: Path, config_file: Path | None, out: Path) -> list[Member]:
    """Write the archive to `out` (0600, atomically). Returns what went in."""
    members = collect(state, config_file)
    manifest = {
        "os1_archive": VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "secrets": "not exported: set them again on the new board",
        "files": {
            m.name: {"sha256": hashlib.sha256(m.data).hexdigest(), "size": len(m.data)} for m in members
        },
    }
    out = out.expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w:gz") as tar:
            for name, data in [
                (MANIFEST, json.dumps(manifest, indent=1).encode()),
                *((m.name, m.data) for m in members),
            ]:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o600, int(time.time())
                tar.addfile(info, io.BytesIO(data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return members


def read(archive: Path) -> list[Member]:
    """Every member, checked against the manifest; ArchiveError on anything amiss."""
    fix = "it is not a whole os1 export; export it again with: os1 export FILE"
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such file; give the path of an archive written by os1 export")
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            entries = tar.getmembers()
            if not entries or entries[0].name != MANIFEST:
                raise ArchiveError(f"{archive}: no manifest first; {fix}")
            blobs = {}
            for e in entries:
                if not e.isfile() or e.name.startswith("/") or ".." in Path(e.name).parts:
                    raise ArchiveError(f"{archive}: unexpected member {e.name!r}; {fix}")
                f = tar.extractfile(e)
                assert f is not None
                blobs[e.name] = f.read()
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as e:
        raise ArchiveError(f"{archive}: unreadable ({type(e).__name__}: {e}); {fix}") from e
    try:
        manifest = json.loads(blobs.pop(MANIFEST))
        files = manifest["files"]
        if manifest.get("os1_archive") != VERSION:
            raise ArchiveError(
                f"{archive}: archive version {manifest.get('os1_archive')}, not {VERSION}; {fix}"
            )
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ArchiveError(f"{archive}: the manifest is unreadable ({e}); {fix}") from e
    if set(files) != set(blobs):
        missing, extra = sorted(set(files) - set(blobs)), sorted(set(blobs) - set(files))
        raise ArchiveError(f"{archive}: missing {missing or 'nothing'}, unlisted {extra or 'nothing'}; {fix}")
    for name, data in blobs.items():
        if hashlib.sha256(data).hexdigest() != files[name]["sha256"]:
            raise ArchiveError(f"{archive}: {name} does not match its SHA-256; {fix}")
        if not (name.startswith(STATE) or name == CONFIG):
            raise ArchiveError(f"{archive}: unexpected member {name!r}; {fix}")
    return [Member(name, data) for name, data in blobs.items()]


def _check_unpacked(folder: Path) -> None:
    """Every database passes SQLite's integrity check, and the voiceprint reads."""
    from device.persona import voiceprint

    for p in owner_files(folder):
        if _is_sqlite(p):
            con = sqlite3.connect(p)
            try:
                ok = con.execute("PRAGMA integrity_check").fetchone()[0]
            except sqlite3.DatabaseError as e:
                ok = str(e)
            finally:
                con.close()
            if ok != "ok":
                raise ArchiveError(f"{p.name} in the archive is damaged ({ok}); export it again")
    try:
        voiceprint.load(folder)
    except voiceprint.VoiceprintCorrupt as e:
        raise ArchiveError(f"the archive's voiceprint is unreadable: {e}") from e


def restore(
    archive: Path, state: Path, config_file: Path, validate_config: Callable[[str], object] | None = None
) -> list[Member]:
    """Put the archive's state in place of `state` (which must hold no owner data) and its config at
    `config_file`. Everything is checked before anything on disk changes."""
    members = read(archive)
    if owner_files(state):
        raise ArchiveError(
            f"{state} already holds an owner's data; remove it first with: os1 forget --everything --yes"
        )
    config = next((m for m in members if m.name == CONFIG), None)
    if config is not None and validate_config is not None:
        validate_config(config.data.decode("utf-8"))  # raises ConfigError: one line
    state.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=state.parent, prefix=f".{state.name}.import."))
    try:
        for m in members:
            if m.name.startswith(STATE):
                p = staging / m.name.removeprefix(STATE)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(m.data)
                os.chmod(p, 0o600)
        _check_unpacked(staging)
        if state.exists():
            leftover = state.with_name(f".{state.name}.replaced.{os.getpid()}")
            state.rename(leftover)
            staging.rename(state)
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            staging.rename(state)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if config is not None:
        write_text_atomic(config_file, config.data.decode("utf-8"), mode=0o600, keep_mode=False)
    return members


def forget_everything(state: Path, files: list[Path]) -> list[Path]:
    """Delete the state dir's contents (WAL and SHM files too) and `files` (the config, the secrets).
    Returns what was removed; raises ArchiveError if anything is still there afterwards."""
    removed = []
    if state.is_dir():
        for p in sorted(state.rglob("*"), reverse=True):
            if p.is_file() or p.is_symlink():
                p.unlink()
                removed.append(p)
            elif p.is_dir():
                p.rmdir()
    for f in files:
        if f.exists():
            f.unlink()
            removed.append(f)
    left = (list(state.rglob("*")) if state.is_dir() else []) + [f for f in files if f.exists()]
    if left:
        raise ArchiveError(
            f"still on disk after forgetting: {', '.join(map(str, left[:5]))}; delete them by hand"
        )
    return removed
