"""The bench's numbers: one flat row per request and mode, then medians, p90s, the response gap stage
by stage, and the streaming/sequential ratio."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from device.evals.bench.harness import Outcome

TARGETS = {
    "response_gap_ms": 600.0,
    "response_gap_stretch_ms": 400.0,
    "streaming_over_sequential": 0.4,
    "tts_first_audio_ms": 150.0,
    "overhead": 1.05,
    "barge_in_stop_ms": 100.0,
    "idle_cpu_s_per_audio_s": 0.05,
}

# (key in a request row, label, target or None): summarized as median and p90 over the requests.
METRICS: tuple[tuple[str, str, float | None], ...] = (
    ("wake_ms", "wake delay after the phrase (ms)", None),
    ("eos_to_transcript_ms", "end of speech -> transcript (ms)", None),
    ("stt_ms", "  STT compute after end of turn (ms)", None),
    ("llm_first_token_ms", "LLM first token (ms)", None),
    ("llm_tokens_per_s", "LLM tokens/s", None),
    ("tts_first_audio_ms", "TTS first audio (ms)", TARGETS["tts_first_audio_ms"]),
    ("tts_rtf", "TTS real-time factor", None),
    ("voice_check_ms", "voice check, during the silence (ms)", None),
    ("response_gap_ms", "response gap (ms)", TARGETS["response_gap_ms"]),
    ("gap_from_last_sample_ms", "  gap from the clip's last speech (ms)", None),
    ("barge_in_stop_ms", "barge-in stop (ms)", TARGETS["barge_in_stop_ms"]),
)

REQUEST_FIELDS = (
    "index", "name", "voice", "noise_dbfs", "text", "audio_s", "mode", "woke", "wake_ms",
    "eos_to_transcript_ms", "end_of_turn_ms", "stt_ms", "llm_first_token_ms", "llm_tokens_per_s",
    "llm_new_tokens", "llm_prompt_tokens", "llm_reused_tokens", "tts_first_audio_ms", "tts_rtf",
    "response_gap_ms", "gap_from_last_sample_ms", "voice_check_ms", "speaker",
    "barge_in", "barge_in_stop_ms", "peak_rss_mb", "other_cpu_pct", "transcript", "reply", "marks_ms",
    "error",
)  # fmt: skip

GAP_SEGMENTS = (  # (label, from mark, to mark): the response gap, stage by stage
    ("silence before the reply is started", "speech_end", "end_of_turn"),
    ("STT final transcript", "end_of_turn", "transcript"),
    ("LLM first token", "transcript", "llm_first_token"),
    ("LLM writing the first chunk", "llm_first_token", "tts_start"),
    ("TTS first chunk", "tts_start", "first_audio_ready"),
    ("held until early_reply_ms of quiet", "first_audio_ready", "first_audio"),
)
QUIET_OTHER_CPU_PCT = 20.0  # a request is "quiet" if other processes used less than this of a core


def _ms(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (b - a) * 1000


def rounded(v: float | None, digits: int = 1) -> float | None:
    """`v` rounded, or None; for the JSON (numpy floats become plain floats)."""
    return None if v is None else round(float(v), digits)


def request_row(o: Outcome) -> dict[str, Any]:
    """Everything measured for one request in one mode, flat; None where a stage did not happen."""
    req, turn = o.request, o.turn
    row: dict[str, Any] = dict.fromkeys(REQUEST_FIELDS)
    row.update(index=req.index, name=req.name, voice=req.voice, noise_dbfs=req.noise_dbfs, text=req.text,
               audio_s=round(req.seconds, 2), mode=o.mode, woke=o.woke, barge_in=req.barge_in,
               peak_rss_mb=round(o.peak_rss_mb, 1), other_cpu_pct=o.other_cpu_pct, marks_ms={})  # fmt: skip
    if turn is None:
        row["error"] = "no turn (nothing heard after the wake/tap)"
        return row
    m, tm, st = turn.marks, turn.timings_ms, turn.stats
    row.update(
        transcript=turn.transcript,
        reply=turn.reply,
        wake_ms=tm.get("wake") if o.woke else None,
        eos_to_transcript_ms=_ms(m.get("speech_end"), m.get("transcript")),
        end_of_turn_ms=tm.get("end_of_turn"),
        stt_ms=tm.get("stt"),
        llm_first_token_ms=tm.get("llm_first_token"),
        llm_tokens_per_s=st.get("llm_tokens_per_s"),
        llm_new_tokens=st.get("llm_new_tokens"),
        llm_prompt_tokens=st.get("llm_prompt_tokens"),
        llm_reused_tokens=st.get("llm_reused_tokens"),
        tts_first_audio_ms=tm.get("tts_first_audio"),
        tts_rtf=st.get("tts_real_time_factor"),
        response_gap_ms=tm.get("response_gap"),
        gap_from_last_sample_ms=_ms(o.last_speech_fed_t, m.get("first_audio")),
        barge_in_stop_ms=tm.get("barge_in_stop"),
        voice_check_ms=tm.get("voice_check"),
        speaker=turn.speaker,
    )
    for key, _, _ in METRICS:
        row[key] = rounded(row[key], 3 if key == "tts_rtf" else 1)
    row["end_of_turn_ms"] = rounded(row["end_of_turn_ms"])
    if "speech_end" in m:
        row["marks_ms"] = {k: round((v - m["speech_end"]) * 1000, 1) for k, v in m.items()}
    if "first_audio" not in m:
        row["error"] = "no reply" if turn.transcript else "empty transcript"
    return row


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def summarize(rows: list[dict]) -> dict[str, dict[str, float | int | None]]:
    """Median and p90 (and how many requests had a value) of every metric."""
    out: dict[str, dict[str, float | int | None]] = {}
    for key, _, _ in METRICS:
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = {
            "median": rounded(statistics.median(values), 3) if values else None,
            "p90": rounded(percentile(values, 90), 3) if values else None,
            "n": len(values),
        }
    return out


def _quiet(row: dict) -> bool:
    return row["other_cpu_pct"] is not None and row["other_cpu_pct"] < QUIET_OTHER_CPU_PCT


def gap_breakdown(rows: list[dict]) -> dict[str, float | None]:
    """The median of each part of the response gap (they add up to about the median gap)."""
    out: dict[str, float | None] = {}
    for label, start, end in GAP_SEGMENTS:
        parts = [
            r["marks_ms"][end] - r["marks_ms"][start] for r in rows if {start, end} <= set(r["marks_ms"])
        ]
        out[label] = rounded(statistics.median(parts)) if parts else None
    return out


def quiet_gap(rows: list[dict]) -> dict[str, float | int | None]:
    """The median response gap over the requests the rest of the machine left alone."""
    gaps = [r["response_gap_ms"] for r in rows if r["response_gap_ms"] is not None and _quiet(r)]
    return {"median": rounded(statistics.median(gaps)) if gaps else None, "n": len(gaps)}


def quiet_ratio(rows: dict[str, list[dict]]) -> dict[str, float | int | None]:
    """Streaming/sequential median gap over the requests that were quiet (and answered) in both runs."""
    if "sequential" not in rows:
        return {"ratio": None, "n": 0}
    pairs = [
        (a["response_gap_ms"], b["response_gap_ms"])
        for a, b in zip(rows["streaming"], rows["sequential"], strict=True)
        if _quiet(a) and _quiet(b) and a["response_gap_ms"] is not None and b["response_gap_ms"] is not None
    ]
    if not pairs:
        return {"ratio": None, "n": 0}
    ratio = statistics.median(a for a, _ in pairs) / statistics.median(b for _, b in pairs)
    return {"ratio": rounded(ratio, 3), "n": len(pairs)}


def streaming_ratio(summaries: dict[str, dict]) -> float | None:
    """Streaming/sequential median response gap, if both ran."""
    if "sequential" not in summaries:
        return None
    a = summaries["streaming"]["response_gap_ms"]["median"]
    b = summaries["sequential"]["response_gap_ms"]["median"]
    return rounded(a / b, 3) if a is not None and b else None
