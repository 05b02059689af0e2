"""'Read this' through the whole companion: a spoken request, the real STT, the camera intent before
the LLM, a picture from the configured camera (an image file standing in for the lapel camera), real
OCR, and the answer spoken by Piper. With no camera, the owner hears that it can't see."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from device.drivers.wavfile import write_wav
from device.evals.speech import join, piper_speech, silence
from tests.conftest import run_os1
from tests.pipeline.test_vision import sign

pytestmark = pytest.mark.models


def _ask(tmp_path: Path, config: str) -> dict[str, object]:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config)
    speech = join(silence(0.3), piper_speech("Can you read this?"), silence(1.0))
    wav = write_wav(tmp_path / "ask.wav", speech)
    r = run_os1("--config", str(cfg), "run", "--input", str(wav), "--no-wake", "--fast", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[0])


def test_read_this_reads_the_picture(tmp_path: Path) -> None:
    picture = tmp_path / "view.png"
    Image.fromarray(sign(["PLATFORM 4", "Trains to Lyon"])).save(picture)
    turn = _ask(tmp_path, f"camera:\n  backend: file\n  path: {picture}\n")
    assert turn["answered_by"] == "intent"
    reply = str(turn["reply"]).lower()
    assert reply.startswith("it says") and "platform 4" in reply and "lyon" in reply


def test_no_camera_is_said_not_invented(tmp_path: Path) -> None:
    turn = _ask(tmp_path, "camera:\n  backend: none\n")
    assert turn["answered_by"] == "intent"
    assert "can't see" in str(turn["reply"]).lower()
