"""`os1 models list|fetch|convert|verify`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from device.config import load as configuration
from device.config import paths
from device.models.catalog import CATALOG, ModelCorrupt, ModelMissing, ModelSpec, installed_path, spec, verify
from device.models.convert import ConversionError
from device.models.fetch import DownloadError, fetch_into


def register(sub: Any) -> list[str]:
    models = sub.add_parser("models", help="list, fetch, convert or verify models")
    msub = models.add_subparsers(dest="action", required=True)
    msub.add_parser("list", help="every known model and whether it is installed")
    fetch = msub.add_parser("fetch", help="download models (default: the device profile)")
    fetch.add_argument("ids", nargs="*")
    fetch.add_argument("--profile", choices=["device", "starter"])
    fetch.add_argument("--force", action="store_true")
    conv = msub.add_parser(
        "convert", help="convert the GGUF LLMs into int4 ONNX, and the voice encoder (default: the starter)"
    )
    conv.add_argument("ids", nargs="*")
    conv.add_argument("--force", action="store_true")
    ver = msub.add_parser("verify", help="check installed models against their SHA-256")
    ver.add_argument("ids", nargs="*")
    return ["models"]


def dispatch(args: argparse.Namespace) -> int:
    cfg, _source = configuration.load(args.config)
    models_dir = paths.dirs(cfg).models
    if args.action == "list":
        return cmd_list(models_dir)
    if args.action == "fetch":
        return cmd_fetch(args.ids, args.profile, models_dir, args.force)
    if args.action == "convert":
        return cmd_convert(args.ids, models_dir, args.force)
    return cmd_verify(args.ids, models_dir)


def _select(ids: list[str], profile: str | None, want: str) -> list[ModelSpec]:
    if ids:
        return [spec(i) for i in ids]
    chosen = [m for m in CATALOG.values() if profile is None or profile in m.profiles]
    return [m for m in chosen if m.source == want] if want else chosen


def cmd_list(models_dir: Path) -> int:
    print(f"{'id':32} {'role':5} {'source':8} {'status':9} licence")
    for m in CATALOG.values():
        where = installed_path(m.id, models_dir)
        status = "installed" if where else "missing"
        profiles = f"  [{', '.join(sorted(m.profiles))}]" if m.profiles else ""
        print(f"{m.id:32} {m.role:5} {m.source:8} {status:9} {m.license}{profiles}")
    print(f"models directory: {models_dir}")
    return 0


def cmd_fetch(ids: list[str], profile: str | None, models_dir: Path, force: bool) -> int:
    """Get what a profile (or the named ids) needs: download, check pip's, convert what is converted.

    One model failing does not stop the rest: each failure is one line, and they are named at the end
    (exit 1), so a dropped connection on the LLM still leaves the voice fetched."""
    wanted = _select(ids, profile or ("device" if not ids else None), "")
    failed: list[str] = []
    for m in wanted:
        try:
            if not _fetch_one(m, models_dir, force):
                failed.append(m.id)
        except (DownloadError, ConversionError, ModelMissing, ModelCorrupt) as e:
            print(f"{m.id}: FAILED: {e}", file=sys.stderr)
            failed.append(m.id)
        except OSError as e:  # a full disk or an unwritable models directory
            print(f"{m.id}: FAILED: {e.strerror or e} ({e.filename or models_dir})", file=sys.stderr)
            failed.append(m.id)
    if failed:
        print(f"os1: {len(failed)} of {len(wanted)} models not fetched: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _fetch_one(m: ModelSpec, models_dir: Path, force: bool) -> bool:
    """Get one model; False when it is a pip model that is not installed (the line says the fix)."""
    if m.source == "package":
        ok = installed_path(m.id, models_dir) is not None
        print(f"{m.id}: {'installed from pip' if ok else 'missing; ' + m.fix()}")
        return ok
    if m.source == "convert":
        ensure_converted(m.id, models_dir, force)
        return True
    if installed_path(m.id, models_dir) and not force:
        print(f"{m.id}: already in {models_dir}")
        return True
    fetch_into(models_dir / m.id, m.files, progress_label=m.id)
    print(f"{m.id}: fetched into {models_dir / m.id} (SHA-256 OK)")
    return True


def ensure_converted(
    model_id: str, models_dir: Path, force: bool = False, log: Callable[[str], None] = print
) -> Path:
    """Convert a GGUF LLM into int4 ONNX for onnxruntime-genai (or the voice encoder's weights into
    ONNX), unless a verified copy is there already."""
    from device.models.catalog import resolve, write_manifest
    from device.models.convert import convert_gguf
    from device.models.convert_voice import convert_voice_encoder

    m = spec(model_id)
    if m.convert_from is None:
        raise ModelMissing(f"model '{model_id}' is not made by conversion; use: {m.fix()}")
    out = models_dir / m.id
    if installed_path(m.id, models_dir) and not force:
        try:
            verify(m.id, models_dir)
            log(f"{m.id}: already converted in {out}")
            return out
        except ModelCorrupt as e:
            log(f"{m.id}: {e}; converting again")
    source = resolve(m.convert_from, models_dir)
    if source.is_dir():
        source = source / spec(m.convert_from).main_file
    if m.role == "voice":  # numpy and onnx only: about a second, on a Pi too
        log(f"{m.id}: converting {source.name}")
        convert_voice_encoder(source, out, log=log)
    else:
        log(f"{m.id}: converting {source.name} (about a minute on a desktop, longer on a Pi)")
        convert_gguf(source, out, log=log)
    write_manifest(out)
    log(f"{m.id}: converted into {out}")
    return out


def cmd_convert(ids: list[str], models_dir: Path, force: bool) -> int:
    """Convert the named GGUF LLMs (default: the starter one). Skips what is already converted."""
    for m in _select(ids, None if ids else "starter", "convert"):
        ensure_converted(m.id, models_dir, force)
    return 0


def cmd_verify(ids: list[str], models_dir: Path) -> int:
    targets = (
        _select(ids, None, "") if ids else [m for m in CATALOG.values() if installed_path(m.id, models_dir)]
    )
    bad = 0
    for m in targets:
        try:
            print(f"OK   {m.id}: {verify(m.id, models_dir)}")
        except (ModelMissing, ModelCorrupt) as e:
            print(f"FAIL {e}")
            bad += 1
    return 1 if bad else 0
