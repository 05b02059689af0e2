"""Convert a GGUF chat model into an onnxruntime-genai folder, offline.

The recipe (the versions that worked are pinned in pyproject's `convert` extra): transformers + gguf
de-quantize the GGUF, the weights go into a fresh model without `quantization_config`,
`save_pretrained` writes a plain HF folder, and onnxruntime-genai's model builder re-quantizes it to
asymmetric k-quant int4.
Only needed on a build machine (the `convert` extra); the device itself only loads the result.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FIX = (
    "pip install 'os1[convert]' on a PC (on aarch64 take CPU-only torch first: make convert-tools); "
    "a Pi needs no conversion: llm.engine auto runs the GGUF with llama.cpp"
)
# Files an onnxruntime-genai chat model folder cannot work without.
REQUIRED_FILES = ("genai_config.json", "tokenizer.json")


class ConversionError(Exception):
    """A conversion that cannot run or did not produce a usable model; the message is one line."""


def _require_tools() -> None:
    import importlib.util

    for module, pip_name in (
        ("torch", "torch"),
        ("transformers", "transformers"),
        ("gguf", "gguf"),
        ("onnx_ir", "onnx-ir"),
        ("onnxruntime_genai", "onnxruntime-genai"),
    ):
        if importlib.util.find_spec(module) is None:
            raise ConversionError(f"converting a GGUF model needs {pip_name}, which is not installed: {FIX}")


def _write_hf_folder(gguf_path: Path, hf_dir: Path, log: Callable[[str], None]) -> None:
    """De-quantize the GGUF into a plain Hugging Face folder (config, safetensors, tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    # The builder would treat a GGUF quantization_config as "already quantized" and skip int4.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    # A fresh model of the same class (built on the meta device, so no second copy in memory).
    with torch.device("meta"):
        fresh = type(loaded)(config)
    fresh.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    if getattr(config, "tie_word_embeddings", False):
        fresh.tie_weights()
    del loaded
    millions = sum(p.numel() for p in fresh.parameters()) / 1e6
    log(f"convert: {type(fresh).__name__}, {millions:.0f}M parameters")
    fresh.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)


def _run_builder(hf_dir: Path, out: Path, cache: Path, precision: str) -> None:
    cmd = [
        sys.executable,
        "-m",
        "onnxruntime_genai.models.builder",
        "-i",
        str(hf_dir),
        "-o",
        str(out),
        "-p",
        precision,
        "-e",
        "cpu",
        "-c",
        str(cache),
    ]
    if precision == "int4":
        # Symmetric int4 makes SmolLM2-135M ramble; asymmetric k-quant answers like fp32.
        cmd += ["--extra_options", "algo_config=k_quant_mixed", "is_symmetric=false", "hf_token=false"]
    else:
        cmd += ["--extra_options", "hf_token=false"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ConversionError(f"onnxruntime-genai model builder failed ({proc.returncode}): {tail[0]}")


def _ensure_chat_template(hf_dir: Path, out: Path) -> None:
    """genai reads the chat template from tokenizer_config.json; transformers 5 may put it in a .jinja."""
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    if cfg.get("chat_template"):
        return
    for src in (out / "chat_template.jinja", hf_dir / "chat_template.jinja"):
        if src.exists():
            cfg["chat_template"] = src.read_text()
            cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False))
            return
    raise ConversionError(f"the converted model has no chat template (looked in {cfg_path})")


def _check_output(out: Path) -> None:
    missing = [f for f in REQUIRED_FILES if not (out / f).exists()]
    if not list(out.glob("*.onnx")):
        missing.append("*.onnx")
    if missing:
        raise ConversionError(f"conversion produced no {', '.join(missing)} in {out}")


def convert_gguf(
    gguf_path: Path,
    out_dir: Path,
    *,
    precision: str = "int4",
    log: Callable[[str], None] = print,
) -> Path:
    """Convert `gguf_path` (llama or qwen2 architecture) into an onnxruntime-genai folder at `out_dir`.

    The model is built in a temporary sibling and renamed into place, so an interrupted conversion
    never leaves a half model behind. An existing `out_dir` is replaced. Returns `out_dir`.
    """
    gguf_path, out_dir = Path(gguf_path), Path(out_dir)
    if not gguf_path.is_file():
        raise ConversionError(f"no GGUF file at {gguf_path}")
    _require_tools()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub, even by accident
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # One conversion per output at a time (make setup and a test run may both ask for it).
    with open(out_dir.parent / f".{out_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in out_dir.parent.glob(f".{out_dir.name}.*.partial"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a conversion that was killed outright
        return _convert_locked(gguf_path, out_dir, precision, log)


def _convert_locked(gguf_path: Path, out_dir: Path, precision: str, log: Callable[[str], None]) -> Path:
    start = time.monotonic()
    # The work dir sits next to out_dir so the final rename stays on one filesystem.
    prefix = f".{out_dir.name}."
    with tempfile.TemporaryDirectory(prefix=prefix, suffix=".partial", dir=out_dir.parent) as tmp:
        work = Path(tmp)
        hf_dir, built = work / "hf", work / "onnx"
        log(f"convert: loading {gguf_path.name}")
        try:
            _write_hf_folder(gguf_path, hf_dir, log)
        except Exception as e:  # transformers raises many kinds (e.g. an unsupported architecture)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConversionError(f"could not read {gguf_path.name} with transformers: {first}") from e
        log(f"convert: GGUF -> HF in {time.monotonic() - start:.0f} s; building {precision} ONNX")
        _run_builder(hf_dir, built, work / "cache", precision)
        _ensure_chat_template(hf_dir, built)
        _check_output(built)
        old = work / "old"
        if out_dir.exists():
            out_dir.rename(old)  # removed with the temp dir
        built.rename(out_dir)
    size_mb = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file()) / 1e6
    log(f"convert: wrote {out_dir} ({size_mb:.0f} MB) in {time.monotonic() - start:.0f} s")
    return out_dir


def _main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m device.models.convert MODEL.gguf OUT_DIR", file=sys.stderr)
        return 2
    try:
        convert_gguf(Path(argv[0]), Path(argv[1]), log=lambda s: print(s, file=sys.stderr))
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
