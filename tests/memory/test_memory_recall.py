"""Memory through the whole companion: a fact told in one run of `os1 run` is used to answer in the
next run (a restart), by the real STT, retrieval and LLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device.drivers.wavfile import write_wav
from device.evals.speech import join, piper_speech, silence
from tests.conftest import run_os1

pytestmark = pytest.mark.models


def _say(tmp_path: Path, name: str, text: str) -> dict[str, object]:
    wav = write_wav(tmp_path / f"{name}.wav", join(silence(0.3), piper_speech(text), silence(1.0)))
    r = run_os1("run", "--input", str(wav), "--no-wake", "--fast", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[0])


def test_a_fact_told_before_a_restart_is_used_after_it(tmp_path: Path) -> None:
    told = _say(tmp_path, "tell", "My sister Anna lives in Paris.")
    assert "anna" in str(told["transcript"]).lower()
    listed = run_os1("memory", "list", "--json")
    assert listed.returncode == 0 and "Paris" in listed.stdout

    asked = _say(tmp_path, "ask", "Where does my sister live?")
    # Recall of a stored fact is answered from memory (the intent layer), not improvised by the LLM.
    assert asked["answered_by"] == "intent", asked
    assert "paris" in str(asked["reply"]).lower()


def test_a_told_fact_also_reaches_the_llm_prompt(tmp_path: Path) -> None:
    """A question the recall intent does not claim still gets the fact: through the LLM's context."""
    _say(tmp_path, "tell", "My sister Anna lives in Paris.")
    asked = _say(tmp_path, "ask", "Should I visit my sister Anna this spring?")
    assert asked["answered_by"] == "llm", asked
    assert asked["stats"]["memories_in_prompt"] >= 1, asked  # type: ignore[index]


def test_without_the_memory_the_answer_is_not_there(tmp_path: Path) -> None:
    """The control: the same question on a fresh state does not produce the fact by chance."""
    asked = _say(tmp_path, "ask", "Where does my sister live?")
    assert "paris" not in str(asked["reply"]).lower()
    asked = _say(tmp_path, "ask2", "Should I visit my sister Anna this spring?")
    assert asked["stats"].get("memories_in_prompt", 0) == 0, asked  # type: ignore[attr-defined]
