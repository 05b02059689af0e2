"""The bench's waterfall: one request's stages on a time axis around the end of the user's speech,
streaming above sequential, with the response gap marked (matplotlib, only with --plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGES = (  # (label, start mark, end mark, colour)
    ("user speech", "speech_start", "speech_end", "#9ecae1"),
    ("wait to start the reply", "speech_end", "end_of_turn", "#d9d9d9"),
    ("STT (final)", "end_of_turn", "transcript", "#fdae6b"),
    ("LLM", "llm_start", "llm_done", "#a1d99b"),
    ("TTS (to first audio)", "tts_start", "first_audio_ready", "#bcbddc"),
    ("held for the owner's quiet", "first_audio_ready", "first_audio", "#f0f0f0"),
    ("playback", "first_audio", "playback_end", "#6baed6"),
)


def _panel(ax: Any, row: dict, title: str) -> None:
    m = dict(row["marks_ms"])
    m["playback_end"] = m.get("playback_stopped", m.get("playback_done"))
    labels = [s[0] for s in STAGES]
    for y, (_, start, end, colour) in enumerate(STAGES):
        if m.get(start) is not None and m.get(end) is not None:
            ax.barh(y, max(m[end] - m[start], 2.0), left=m[start], color=colour, edgecolor="black", lw=0.5)
            ax.text(m[end], y, f" {m[end] - m[start]:.0f} ms", va="center", fontsize=8)
    if "llm_first_token" in m:
        ax.plot([m["llm_first_token"]], [3], marker="|", color="black", ms=14)
        ax.text(m["llm_first_token"], 3.45, "first token", ha="center", va="top", fontsize=7)
    if "wake" in m:
        ax.axvline(m["wake"], color="purple", ls=":", lw=1)
        ax.text(m["wake"], len(STAGES) - 0.4, " wake", color="purple", fontsize=8)
    ax.axvline(0, color="black", lw=1)
    if "first_audio" in m:
        gap = m["first_audio"]
        ax.axvline(gap, color="red", lw=1)
        ax.annotate("", xy=(gap, -0.8), xytext=(0, -0.8), arrowprops={"arrowstyle": "<->", "color": "red"})
        ax.text(
            gap / 2, -0.95, f"response gap {gap:.0f} ms", color="red", ha="center", va="bottom", fontsize=9
        )
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-1.8, len(STAGES) - 0.2)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def plot_waterfall(rows: list[dict], path: Path) -> Path:
    """One request's stages on a time axis relative to the end of the user's speech, streaming above
    sequential (if run), with the response gap marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = _plot_choice(rows)
    panels = [r for r in rows if r["index"] == chosen["index"] and r["marks_ms"]]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(11, 2.8 * len(panels) + 0.6), sharex=True, squeeze=False
    )
    for ax, row in zip(axes[:, 0], panels, strict=True):
        _panel(ax, row, f"{row['mode']}: {row['name']} - {row['transcript'][:60]!r}")
    axes[-1, 0].set_xlabel("ms relative to the end of the user's speech")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_choice(rows: list[dict]) -> dict:
    """The first streaming request that woke, was not cut off, and was answered; else any answered one."""
    answered = [r for r in rows if r["response_gap_ms"] is not None]
    if not answered:
        raise RuntimeError("nothing to plot: no request was answered")
    good = [r for r in answered if r["mode"] == "streaming" and r["woke"] and not r["barge_in"]]
    return (good or answered)[0]
