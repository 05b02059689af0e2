"""The soak's figures from the daemon's events (device/evals/reliability/soak_daemon.py), the targets they
are held to, and the PNG of the RSS and response-gap curves."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

RSS_GROWTH_PCT = 5.0
GAP_DRIFT_PCT = 10.0
COMPARED_TURNS = 100  # the first and the last this many answered requests (fewer on a short day)


def figures(events: list[dict[str, Any]], hours: float) -> dict[str, Any]:
    turns = [e for e in events if e["kind"] == "turn"]
    samples = [e for e in events if "rss_kb" in e]
    start = next((e for e in events if e["kind"] == "start"), None)
    end = next((e for e in events if e["kind"] == "end"), None)
    audio_s = end["audio_s"] if end else (events[-1]["audio_s"] if events else 0.0)
    wall = (end["wall"] - start["wall"]) if end and start else 0.0
    devices = (end or {}).get("devices") or {}
    by_kind: dict[str, int] = {}
    for t in turns:
        by_kind[t["say"]] = by_kind.get(t["say"], 0) + 1
    return {
        "hours_planned": hours,
        "audio_h": audio_s / 3600,
        "speedup": audio_s / wall if wall else 0.0,
        "requests": len(turns),
        "by_kind": by_kind,
        "answered": sum(1 for t in turns if t.get("log")),
        "cut_mid_request": sum(1 for t in turns if t.get("unplugged") == "microphone"),
        "answered_after_unplug": _after_unplug(turns),
        "tapped": sum(1 for t in turns if t["tap"]),
        "over_street": sum(1 for t in turns if t["street"]),
        "other_turns": sum(1 for e in events if e["kind"] == "other-turn"),
        "unplugs": sum(1 for e in events if e["kind"] == "unplug"),
        "reconnects": sum(int(d.get("reconnects", 0)) for d in devices.values()),
        "memories_kept": sum(1 for t in turns if t["say"] == "memory" and "remember" in (t.get("log") or "")),
        "memory": _resources(samples, audio_s),
        "gap_ms": _gaps([t["gap_ms"] for t in turns if t.get("gap_ms") is not None and t.get("log")]),
        "samples": [
            [
                round(e["audio_s"] / 3600, 3),
                round(e["rss_kb"] / 1024, 1),
                e["threads"],
                e["fds"],
                round(e.get("heap_used_kb", 0) / 1024, 1),
            ]
            for e in samples
        ],  # fmt: skip
        "gaps": [[round(t["audio_s"] / 3600, 3), t["gap_ms"]] for t in turns if t.get("gap_ms") is not None],
        "exchanges": _exchanges(turns),
    }


def _resources(samples: list[dict[str, Any]], audio_s: float) -> dict[str, Any]:
    """After the warm-up against the end of the day. The warm-up is the first hour, or on a shorter day
    until just after the first unplug: things done once (the first "I'm back." starts a thread) are
    not growth."""
    warm = min(3600.0, audio_s / 2.5 + 60)
    warm_rows = [s for s in samples if warm <= s["audio_s"] < warm + max(60.0, audio_s / 16)]
    end_rows = [s for s in samples if s["audio_s"] >= audio_s - max(60.0, audio_s / 16)]
    if not warm_rows or not end_rows:
        return {"rss_warm_mb": 0.0, "rss_end_mb": 0.0, "rss_growth_pct": 0.0, "rss_peak_mb": 0.0,
                "threads_warm": 0, "threads_end": 0, "fds_warm": 0, "fds_end": 0}  # fmt: skip

    def median(rows: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r[key] for r in rows))

    heap = all("heap_used_kb" in r for r in warm_rows + end_rows)
    rss_warm, rss_end = median(warm_rows, "rss_kb") / 1024, median(end_rows, "rss_kb") / 1024
    return {
        "rss_warm_mb": round(rss_warm, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_warm) / rss_warm, 2),
        "rss_peak_mb": round(max(s["rss_kb"] for s in samples) / 1024, 1),
        "threads_warm": int(median(warm_rows, "threads")),
        "threads_end": int(median(end_rows, "threads")),
        "fds_warm": int(median(warm_rows, "fds")),
        "fds_end": int(median(end_rows, "fds")),
        # glibc's view: what malloc has handed out and not had back, against what RSS holds
        "heap_used_warm_mb": round(median(warm_rows, "heap_used_kb") / 1024, 1) if heap else None,
        "heap_used_end_mb": round(median(end_rows, "heap_used_kb") / 1024, 1) if heap else None,
    }


def _after_unplug(turns: list[dict[str, Any]]) -> list[bool]:
    """For each request a device was pulled during: whether the next request was answered (the
    device came back, and the loop with it)."""
    return [bool(nxt.get("log")) for t, nxt in zip(turns, turns[1:], strict=False) if t.get("unplugged")]


def _gaps(gaps: list[int]) -> dict[str, Any]:
    n = min(COMPARED_TURNS, len(gaps) // 2)
    if n == 0:
        return {"n": 0, "first_median": None, "last_median": None, "drift_pct": 0.0, "median": None}
    first, last = statistics.median(gaps[:n]), statistics.median(gaps[-n:])
    return {
        "n": n,
        "first_median": round(first),
        "last_median": round(last),
        "drift_pct": round(100 * (last - first) / first, 1),
        "median": round(statistics.median(gaps)),
        "p90": round(sorted(gaps)[int(0.9 * (len(gaps) - 1))]),
    }


def _exchanges(turns: list[dict[str, Any]]) -> list[str]:
    """The first answered request of each kind, as the daemon logged it."""
    seen: dict[str, str] = {}
    for t in turns:
        if t.get("log") and t["say"] not in seen:
            seen[t["say"]] = t["log"]
    return list(seen.values())


def problems_of(r: dict[str, Any]) -> list[str]:
    m, g, rem = r["memory"], r["gap_ms"], r.get("reminders") or {}
    problems = []
    if m["rss_growth_pct"] >= RSS_GROWTH_PCT:
        grew = m["rss_growth_pct"]
        problems.append(f"RSS grew {grew:.1f} % after the warm-up (target < {RSS_GROWTH_PCT} %)")
    if m["threads_end"] > m["threads_warm"]:
        problems.append(f"threads grew from {m['threads_warm']} to {m['threads_end']}")
    if m["fds_end"] > m["fds_warm"]:
        problems.append(f"open files grew from {m['fds_warm']} to {m['fds_end']}")
    if abs(g["drift_pct"]) > GAP_DRIFT_PCT:
        problems.append(f"the response gap drifted {g['drift_pct']:+.1f} % (target within {GAP_DRIFT_PCT} %)")
    if not all(r.get("answered_after_unplug", [])):
        problems.append(f"a request after an unplug went unanswered ({r['answered_after_unplug']})")
    if r["reconnects"] < r["unplugs"]:
        problems.append(f"{r['unplugs']} devices unplugged, {r['reconnects']} came back")
    if rem.get("spoken", 0) < rem.get("due", 0):
        problems.append(f"{rem['due'] - rem['spoken']} of {rem['due']} reminders due were never spoken")
    if r["audio_h"] < 0.95 * r["hours_planned"]:
        problems.append(f"the day stopped after {r['audio_h']:.2f} h of {r['hours_planned']:g} h")
    return problems


def plot(r: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rss_ax, gap_ax) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    hours = [s[0] for s in r["samples"]]
    rss_ax.plot(hours, [s[1] for s in r["samples"]], color="tab:blue", label="RSS")
    if all(len(s) > 4 and s[4] for s in r["samples"][1:]):
        rss_ax.plot(hours, [s[4] for s in r["samples"]], color="tab:green", label="malloc in use")
    rss_ax.set_ylabel("MB")
    rss_ax.legend(loc="lower right")
    rss_ax.set_title(f"os1 soak: {r['audio_h']:.1f} h of audio in one daemon ({r['speedup']:.1f}x real time)")
    gx, gy = [g[0] for g in r["gaps"]], [g[1] for g in r["gaps"]]
    gap_ax.scatter(gx, gy, s=6, color="tab:orange", label="each request")
    window = [statistics.median(gy[max(0, i - 10) : i + 11]) for i in range(len(gy))]
    gap_ax.plot(gx, window, color="black", label="running median (21)")
    gap_ax.set_ylabel("response gap (ms)")
    gap_ax.set_xlabel("hours of audio")
    gap_ax.legend(loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
