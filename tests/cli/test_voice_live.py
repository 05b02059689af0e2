"""`os1 voice enroll` with no files: it asks for sentences and listens on the live microphone
(PortAudio on an ALSA `file` device that plays a recording in as the microphone, HOME pointing at a
test ~/.asoundrc), with the real VAD and encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from device.evals.speech import join, piper_speech, silence
from tests.conftest import run_os1

pytestmark = pytest.mark.models

ASOUNDRC = (
    "pcm.os1mic {{ type asym; "
    'playback.pcm {{ type file; slave.pcm "null"; file "{home}/out.raw"; format "raw" }} '
    'capture.pcm {{ type file; slave.pcm "null"; file "{home}/heard.raw"; infile "{home}/in.raw"; '
    'format "raw" }} hint {{ show on description "OS1 test microphone" }} }}\n'
)


def _enroll(tmp_path: Path, said: np.ndarray) -> tuple[int, str, str]:
    (tmp_path / ".asoundrc").write_text(ASOUNDRC.format(home=tmp_path))
    (tmp_path / "in.raw").write_bytes(said.astype("<i2").tobytes())
    cfg = tmp_path / "config.yaml"
    cfg.write_text("audio:\n  device: os1mic\n  device_rate: 16000\n")
    r = run_os1("--config", str(cfg), "voice", "enroll", env={"HOME": str(tmp_path)}, timeout=300)
    return r.returncode, r.stdout, r.stderr


def test_live_enrolment_asks_listens_and_saves(tmp_path: Path) -> None:
    sentences = (
        "My name is Sam, and I live by the river in an old brick house.",
        "I like walking early in the morning, before the town wakes up.",
        "I work at the library, and I love quiet afternoons with a good book.",
    )
    said = join(
        silence(1.0), *[join(piper_speech(t, noise_scale=0.667), silence(2.0)) for t in sentences], silence(3)
    )
    code, out, err = _enroll(tmp_path, said)
    assert code == 0, err
    assert out.count("got it") == 3 and "voiceprint saved" in out, out
    assert "3 utterances" in run_os1("voice", "show").stdout


def test_live_enrolment_on_one_word_answers_saves_nothing(tmp_path: Path) -> None:
    said = join(silence(0.5), *[join(piper_speech("Yes."), silence(1.5)) for _ in range(6)])
    code, out, err = _enroll(tmp_path, said)
    assert code == 2, (out, err)
    assert "a bit short" in out and "Nothing was saved" in err, (out, err)
    assert "no voiceprint yet" in run_os1("voice", "show").stdout
