"""`os1 bench` end to end on two requests (real engines, real-time pace), and its report pieces.

Timings are not asserted here: they depend on the machine and on whatever else it is running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device.evals.bench.corpus import Request
from device.evals.bench.harness import Outcome
from device.evals.bench.stats import GAP_SEGMENTS, METRICS, REQUEST_FIELDS, request_row, summarize
from device.evals.speech import silence
from device.pipeline.events import Turn
from tests.conftest import run_os1

pytestmark = [pytest.mark.models, pytest.mark.system]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict, Path]:
    tmp = tmp_path_factory.mktemp("bench")
    out, png = tmp / "bench.json", tmp / "bench.png"
    r = run_os1(
        "bench", "--requests", "2", "--idle-s", "3", "--json", str(out), "--plot", str(png),
        "--conversation", "--cache-dir", str(tmp / "cache"), env={"OS1_STATE_DIR": str(tmp / "state")},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return r, json.loads(out.read_text()), png


def test_bench_json_has_every_field_per_request(bench_run: tuple) -> None:
    _, result, _ = bench_run
    assert set(result["requests"]) == {"streaming", "sequential"}
    for mode, rows in result["requests"].items():
        assert len(rows) == 2
        for row in rows:
            assert set(row) == set(REQUEST_FIELDS), (mode, set(REQUEST_FIELDS) ^ set(row))
            assert row["mode"] == mode
            assert row["error"] is None, row
            for key in ("eos_to_transcript_ms", "stt_ms", "llm_first_token_ms", "llm_tokens_per_s",
                        "tts_first_audio_ms", "tts_rtf", "response_gap_ms", "gap_from_last_sample_ms",
                        "peak_rss_mb"):  # fmt: skip
                assert isinstance(row[key], float), (mode, key, row[key])
            assert row["wake_ms"] is not None or not row["woke"]
            # The response gap runs from the end of speech, so it includes the end-of-turn window.
            assert row["response_gap_ms"] >= row["end_of_turn_ms"] > 0
            assert row["marks_ms"]["speech_end"] == 0.0
    # The second request is cut off by a tap one second into the reply: barge-in is timed.
    assert [r["barge_in"] for r in result["requests"]["streaming"]] == [False, True]
    assert result["requests"]["streaming"][1]["barge_in_stop_ms"] is not None


def test_bench_summary_ratio_and_extras(bench_run: tuple) -> None:
    r, result, _ = bench_run
    for mode in ("streaming", "sequential"):
        summary = result["summary"][mode]
        assert set(summary) == {key for key, _, _ in METRICS}
        for key, stats in summary.items():
            assert set(stats) == {"median", "p90", "n"}, key
        assert summary["response_gap_ms"]["median"] is not None
        assert summary["response_gap_ms"]["p90"] >= summary["response_gap_ms"]["median"]
    assert result["ratio_streaming_sequential"] > 0
    for mode in ("streaming", "sequential"):
        parts = result["gap_breakdown_ms"][mode]
        assert [label for label, _, _ in GAP_SEGMENTS] == list(parts)
        assert all(v is not None and v >= 0 for v in parts.values()), parts
    assert result["idle"]["cpu_s_per_audio_s"] > 0
    assert result["peak_rss_mb"] > 0
    assert result["llm_overhead"]["first_token_ratio"] > 0
    assert result["llm_overhead"]["time_per_token_ratio"] > 0
    assert result["tts_overhead"]["first_audio_ratio"] > 0
    assert "whisper" in result["stt_engines"]
    assert result["command"].startswith("os1 bench --requests 2")
    assert "command: os1 bench --requests 2" in r.stdout
    assert "response gap (ms)" in r.stdout and "streaming/sequential" in r.stdout


def test_bench_conversation_carries_the_history_and_its_cache(bench_run: tuple) -> None:
    """With --conversation the second request's prompt holds the first exchange, and the LLM's cache
    (primed between requests) already holds all of it but the new words."""
    _, data, _ = bench_run
    assert data["config"]["conversation"] is True
    first, second = data["requests"]["streaming"][:2]
    assert second["llm_prompt_tokens"] > first["llm_prompt_tokens"] + 10
    assert second["llm_reused_tokens"] > first["llm_prompt_tokens"]


def test_bench_plot_is_a_png(bench_run: tuple) -> None:
    _, _, png = bench_run
    data = png.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 10_000


def test_bench_input_dir_without_wavs_is_bad_input(tmp_path: Path) -> None:
    r = run_os1("bench", "--input-dir", str(tmp_path))
    assert r.returncode == 2
    assert "no .wav files" in r.stderr


def test_summary_median_and_p90() -> None:
    rows = [dict.fromkeys(REQUEST_FIELDS) for _ in range(10)]
    for i, row in enumerate(rows):
        row["response_gap_ms"] = float(100 * (i + 1))
    s = summarize(rows)
    assert s["response_gap_ms"] == {"median": 550.0, "p90": 910.0, "n": 10}
    assert s["barge_in_stop_ms"] == {"median": None, "p90": None, "n": 0}


def test_request_row_without_a_turn_still_has_every_field() -> None:
    req = Request(0, "x", "piper", "Hi.", silence(1.0))
    row = request_row(Outcome(req, "streaming", False, None, 1.0))
    assert set(row) == set(REQUEST_FIELDS) and row["error"]
    turn = Turn(wake=None, transcript="Hi.", marks={"speech_end": 10.0, "transcript": 10.7})
    row = request_row(Outcome(req, "streaming", False, turn, 1.0))
    assert row["eos_to_transcript_ms"] == 700.0 and row["error"] == "no reply"


def test_bench_runs_on_the_pi_path(tmp_path: Path) -> None:
    """With nothing converted (a Pi), `auto` is llama.cpp: the bench measures that mind too, and leaves
    out only the comparison with onnxruntime-genai's own loop (it crashed on the llama.cpp model)."""
    (tmp_path / "models").mkdir()
    out = tmp_path / "bench.json"
    r = run_os1(
        "bench", "--requests", "1", "--idle-s", "1", "--json", str(out),
        "--cache-dir", str(tmp_path / "cache"),
        env={"OS1_STATE_DIR": str(tmp_path / "state"), "OS1_MODELS_DIR": str(tmp_path / "models")},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(out.read_text())
    row = result["requests"]["streaming"][0]
    assert row["error"] is None and row["reply"], row
    assert result["config"]["llm"] == "smollm2-135m-instruct-gguf (llama.cpp)"
    assert result["llm_overhead"] is None
    assert result["tts_overhead"]["first_audio_ratio"] > 0
