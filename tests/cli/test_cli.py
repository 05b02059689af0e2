"""`os1` as a new user runs it: say, ask, doctor, and the errors they get."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from device.config import paths
from device.drivers.wavfile import read_wav, write_wav
from device.models.catalog import spec
from tests.conftest import run_os1

pytestmark = pytest.mark.models


def test_say_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "hello.wav"
    r = run_os1("say", "Hello Theodore. It is good to hear your voice.", "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout
    seconds = len(read_wav(out)) / 16000
    assert 1.5 < seconds < 6


def test_ask_answers_with_the_persona(tmp_path: Path) -> None:
    r = run_os1("ask", "What is the capital of France?", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert "paris" in out["reply"].lower()
    assert out["answered_by"] == "llm" and out["stats"]["llm_new_tokens"] > 0


def test_missing_llm_names_the_command_that_gets_it(tmp_path: Path) -> None:
    onnx = tmp_path / "onnx.yaml"
    onnx.write_text("llm:\n  engine: onnx\n")
    r = run_os1("--config", str(onnx), "ask", "hello", env={"OS1_MODELS_DIR": str(tmp_path)})
    assert r.returncode == 2
    assert r.stderr.strip() == (
        "os1: model 'smollm2-135m-instruct-int4' is not installed; "
        "get it with: os1 models convert smollm2-135m-instruct-int4"
    )
    # auto, with neither the converted model nor the GGUF it would run instead: both ways are named
    auto = tmp_path / "auto.yaml"
    auto.write_text("llm:\n  gguf: qwen2.5-0.5b-instruct-gguf\n")
    r = run_os1("--config", str(auto), "ask", "hello", env={"OS1_MODELS_DIR": str(tmp_path)})
    assert r.returncode == 2
    line = r.stderr.strip()
    assert line.startswith("os1: no language model: ") and "\n" not in line, r.stderr
    assert "os1 models fetch qwen2.5-0.5b-instruct-gguf" in line and "os1 models convert" in line


def test_corrupt_llm_is_a_one_line_error(tmp_path: Path) -> None:
    real = paths.models_dir() / "smollm2-135m-instruct-int4"
    broken = tmp_path / "smollm2-135m-instruct-int4"
    broken.mkdir()
    for f in real.iterdir():
        if f.suffix in (".json", ".txt", ".jinja"):
            shutil.copy(f, broken / f.name)
    (broken / "model.onnx").write_bytes(b"\x08\x07 this is not a model")
    r = run_os1("ask", "hello", env={"OS1_MODELS_DIR": str(tmp_path)})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0], r.stderr


def test_corrupt_smart_turn_model_is_a_one_line_error(tmp_path: Path) -> None:
    # The model ships inside pipecat's wheel, which wins over the models dir, so a stand-in pipecat
    # package early on the path carries the corrupt file.
    turn = spec("smart-turn-v3")
    package = tmp_path / "site" / turn.module
    model = package / turn.path_in_module
    model.parent.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    model.write_bytes(b"\x08\x07 this is not a model")
    config = tmp_path / "config.yaml"
    config.write_text("vad:\n  smart_turn_ms: 200\n")  # the engines load Smart Turn only when it is on
    wav = write_wav(tmp_path / "silence.wav", np.zeros(16000, dtype=np.int16))
    python_path = os.pathsep.join(p for p in (str(tmp_path / "site"), os.environ.get("PYTHONPATH")) if p)
    command = ("--config", str(config), "run", "--input", str(wav), "--no-wake", "--fast")
    r = run_os1(*command, env={"PYTHONPATH": python_path})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(model) in lines[0], r.stderr


def test_eval_help_lists_every_measurement() -> None:
    r = run_os1("eval", "--help")
    assert r.returncode == 0, r.stderr
    for name in ("stt", "wake", "end-of-turn", "early-reply", "echo", "memory", "vision", "dialogue", "mood"):
        assert f"\n  {name} " in r.stdout, r.stdout


def test_doctor_reports_each_check_with_a_fix(tmp_path: Path) -> None:
    onnx = tmp_path / "onnx.yaml"
    onnx.write_text("llm:\n  engine: onnx\n")
    r = run_os1("--config", str(onnx), "doctor", env={"OS1_MODELS_DIR": str(tmp_path)})
    assert r.returncode == 1  # the converted LLM is not in this empty models dir
    lines = r.stdout.splitlines()
    assert all(line.split()[0] in ("OK", "WARN", "FAIL") for line in lines)
    llm = next(line for line in lines if "smollm2-135m-instruct-int4" in line)
    assert llm.startswith("FAIL") and "os1 models convert" in llm
    assert any(line.startswith("OK") and "silero-vad" in line for line in lines)
    assert any("Python 3." in line for line in lines)


def test_doctor_with_everything_installed_checks_models_ok() -> None:
    r = run_os1("doctor")
    model_lines = [line for line in r.stdout.splitlines() if " model " in f" {line}"]
    assert model_lines and all(line.startswith("OK") for line in model_lines), r.stdout
