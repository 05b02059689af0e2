"""The bench's report as text: a table per mode, the summary against the targets, where the response
gap goes, and one line for each extra (ratio, idle CPU, RSS, wake word, raw engines vs ours)."""

from __future__ import annotations

from typing import Any

from device.evals.bench.stats import GAP_SEGMENTS, METRICS, QUIET_OTHER_CPU_PCT, TARGETS
from device.evals.bench.system import IDLE_NOISE_DBFS


def fmt(v: float | None, digits: int = 0) -> str:
    """A table cell: the number, or "-" where a stage did not happen."""
    return "-" if v is None else f"{v:.{digits}f}"


def request_table(rows: list[dict]) -> str:
    head = (f"{'#':>2} {'voice':<26} {'wake':>5} {'eos>txt':>7} {'stt':>5} {'llm1st':>6} {'tok/s':>5} "
            f"{'tts1st':>6} {'rtf':>5} {'gap':>5} {'stop':>4} {'oth%':>4}  heard")  # fmt: skip
    lines = [head]
    for r in rows:
        wake = fmt(r["wake_ms"]) if r["woke"] else "miss"
        heard = r["error"] if r["error"] and not r["transcript"] else r["transcript"]
        lines.append(
            f"{r['index'] + 1:>2} {r['name'][:26]:<26} {wake:>5} {fmt(r['eos_to_transcript_ms']):>7} "
            f"{fmt(r['stt_ms']):>5} {fmt(r['llm_first_token_ms']):>6} {fmt(r['llm_tokens_per_s']):>5} "
            f"{fmt(r['tts_first_audio_ms']):>6} {fmt(r['tts_rtf'], 2):>5} {fmt(r['response_gap_ms']):>5} "
            f"{fmt(r['barge_in_stop_ms']):>4} {fmt(r['other_cpu_pct']):>4}  {(heard or '')[:44]}"
        )
    return "\n".join(lines)


def _target_text(key: str, target: float | None) -> str:
    if target is None:
        return ""
    if key == "response_gap_ms":
        return f"<= {target:.0f} (stretch {TARGETS['response_gap_stretch_ms']:.0f})"
    return f"<= {target:g}"


def summary_table(summaries: dict[str, dict]) -> str:
    modes = list(summaries)
    head = f"{'metric':<36}" + "".join(f"{m + ' med':>16}{'p90':>8}" for m in modes) + "   target"
    lines = [head]
    for key, label, target in METRICS:
        digits = 2 if key == "tts_rtf" else 0
        cells = "".join(
            f"{fmt(summaries[m][key]['median'], digits):>16}{fmt(summaries[m][key]['p90'], digits):>8}"
            for m in modes
        )
        lines.append(f"{label:<36}{cells}   {_target_text(key, target)}")
    return "\n".join(lines)


def breakdown_table(result: dict[str, Any]) -> str:
    parts, modes = result["gap_breakdown_ms"], list(result["gap_breakdown_ms"])
    lines = [f"{'part':<36}" + "".join(f"{m:>16}" for m in modes)]
    for label, _, _ in GAP_SEGMENTS:
        lines.append(f"{label:<36}" + "".join(f"{fmt(parts[m][label]):>16}" for m in modes))
    quiet = result["quiet_response_gap_ms"]
    label = f"gap, quiet requests only (oth% < {QUIET_OTHER_CPU_PCT:.0f})"
    cells = [f"{fmt(quiet[m]['median'])} (n={quiet[m]['n']})" for m in modes]
    lines.append(f"{label:<36}" + "".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "met" if value <= target else "not met"


def _llm_line(llm: dict[str, Any]) -> str:
    t = TARGETS["overhead"]
    return (
        f"LLM, ours vs a raw og.Generator loop ({llm['prompts']} prompts, no KV reuse): first token "
        f"{llm['ours_first_token_ms']:.0f} vs {llm['raw_first_token_ms']:.0f} ms = "
        f"{llm['first_token_ratio']:.2f}x; {llm['ours_tokens_per_s']:.0f} vs {llm['raw_tokens_per_s']:.0f} "
        f"tokens/s = {fmt(llm['time_per_token_ratio'], 2)}x time per token (target <= {t}x).\n"
        f"  With the system prompt's KV kept, as in the loop: first token "
        f"{llm['ours_kv_reuse_first_token_ms']:.0f} ms = {llm['kv_reuse_first_token_ratio']:.2f}x raw"
    )


def _tts_line(tts: dict[str, Any]) -> str:
    t = TARGETS["overhead"]
    return (
        f"TTS, ours vs raw PiperVoice.synthesize ({tts['texts']} replies): first audio "
        f"{tts['ours_first_audio_ms']:.0f} vs {tts['raw_first_audio_ms']:.0f} ms = "
        f"{tts['first_audio_ratio']:.2f}x; total {tts['total_time_ratio']:.2f}x "
        f"(rtf {tts['ours_rtf']:.3f} vs {tts['raw_rtf']:.3f}) (target <= {t}x)"
    )


def _stt_line(name: str, s: dict[str, Any]) -> str:
    if "error" in s:
        return f"STT {name}: not measured ({s['error']})"
    how = " + speculate" if s["speculate"] else ""
    where = ", the engine in the loop" if s["in_loop"] else ""
    return (
        f"STT {name}{how} (offline on the same clips{where}): end -> transcript "
        f"{s['finish_ms_median']:.0f} ms, compute {s['compute_ms_median']:.0f} ms (medians)"
    )


def extra_lines(result: dict[str, Any]) -> list[str]:
    out = []
    ratio, t = result["ratio_streaming_sequential"], TARGETS["streaming_over_sequential"]
    if ratio is not None:
        quiet = result["ratio_streaming_sequential_quiet"]
        also = (
            f"; {quiet['ratio']:.2f} over the {quiet['n']} requests quiet in both runs" if quiet["n"] else ""
        )
        out.append(
            f"streaming/sequential median response gap: {ratio:.2f}{also} "
            f"(target <= {t}: {_verdict(ratio, t)})"
        )
    idle, t = result["idle"], TARGETS["idle_cpu_s_per_audio_s"]
    out.append(
        f"idle CPU: {idle['cpu_s_per_audio_s']:.3f} CPU-s per audio s ({idle['audio_s']:.0f} s of noise at "
        f"{IDLE_NOISE_DBFS:.0f} dBFS, {idle['false_wakes']} false wakes) "
        f"(target <= {t}: {_verdict(idle['cpu_s_per_audio_s'], t)})"
    )
    rss, rss_all, warm = result["peak_rss_mb"], result["peak_rss_mb_total"], result["rss_after_warm_up_mb"]
    out.append(
        f"peak RSS: {rss:.0f} MB over the pipeline runs ({fmt(warm)} MB once loaded and warm), "
        f"{rss_all:.0f} MB with the comparisons"
    )
    out.append(
        "barge-in stop is timed on the file earpiece (stop() is immediate); a sound card adds its buffer"
    )
    w = result["wake"]
    missed = w["requests"] - w["fired"]
    tapped = f"; {missed} missed, so tapped in instead ('miss' in the tables)" if missed else ""
    out.append(f"wake word: fired on {w['fired']}/{w['requests']} requests{tapped}")
    if (load := result.get("other_cpu_pct")) is not None:
        out.append(f"other processes used {load:.0f}% of one core during the bench (timings assume ~0)")
    if llm := result.get("llm_overhead"):
        out.append(_llm_line(llm))
    if tts := result.get("tts_overhead"):
        out.append(_tts_line(tts))
    out += [_stt_line(name, s) for name, s in (result.get("stt_engines") or {}).items()]
    return out
