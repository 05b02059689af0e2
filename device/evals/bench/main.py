"""`os1 bench`'s entry: the options, loading and warming the engines, measuring every set, and the
report printed (and written as JSON, and plotted) at the end."""

from __future__ import annotations

import importlib.util
import json
import logging
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.app.engines import Engines, llm_name, load_all, mind_status, persona
from device.config.schema import Config
from device.evals.bench.corpus import Request, synthesized_requests, wav_requests
from device.evals.bench.harness import run_set, wake_fires
from device.evals.bench.overhead import llm_overhead, stt_engines, tts_overhead
from device.evals.bench.plot import plot_waterfall
from device.evals.bench.report import breakdown_table, extra_lines, request_table, summary_table
from device.evals.bench.stats import (
    METRICS,
    TARGETS,
    gap_breakdown,
    quiet_gap,
    quiet_ratio,
    rounded,
    streaming_ratio,
    summarize,
)
from device.evals.bench.system import OtherLoad, idle_cpu, peak_rss_mb, rss_mb
from device.pipeline.audio import SAMPLE_RATE, frames
from device.pipeline.events import Message
from device.pipeline.llm.onnx import OnnxDialogue


@dataclass
class BenchOptions:
    """What `os1 bench` runs, from its command line."""

    requests: int | None = None
    """Run only the first N requests (None: all of them)."""
    sequential: bool = True
    """Run the set a second time in sequential mode, for the streaming/sequential ratio."""
    stt: str | None = None
    """The STT engine instead of the configured one."""
    input_dir: Path | None = None
    """The user's own WAV requests instead of synthesized ones."""
    json_path: Path | None = None
    """Where to write every request and the summary."""
    plot_path: Path | None = None
    """Where to draw a waterfall timeline of one request (PNG)."""
    cache_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "os1-bench-cache")
    """Where synthesized requests are cached."""
    idle_s: float = 15.0
    """Seconds of idle audio for idle CPU."""
    home_server: str = ""
    """Also run the requests with the mind on this OpenAI-compatible server (llm.remote.url)."""
    home_stt: str = ""
    """…and the ears on this Wyoming server (stt.remote.uri)."""
    home_tts: str = ""
    """…and the voice on this Wyoming server (tts.remote.uri)."""
    compare: bool = True
    """Raw engines vs ours, and the other STT engine."""
    conversation: bool = False
    """The requests as one conversation (history carried), as live."""
    verbose: bool = False
    """Keep the loop's own log lines."""


def warm_up(engines: Engines, system_prompt: str, audio: np.ndarray) -> None:
    """A running companion has every engine warm; the first call of each is slower (graph init)."""
    from device.pipeline.stt.base import transcribe

    transcribe(engines.stt, audio)
    engines.dialogue.reply([Message("system", system_prompt), Message("user", "Hello there.")])
    engines.tts.synthesize_all("Warming up.")
    for f in frames(audio[:SAMPLE_RATE]):
        engines.vad.probability(f)
    wake_fires(engines, audio[:SAMPLE_RATE])


def enrol_bench_voice(cfg: Config, state: Path) -> None:
    """The requests' voice (Piper joe) as the owner's voiceprint, so each turn pays for a real voice
    check as the owner's would. Made in a child process: its Piper and encoder must not count in the
    benchmark's memory. owner.voice_check off, or no encoder: nothing is checked."""
    import subprocess

    if cfg.owner.voice_check == "off":
        return
    done = subprocess.run(
        [sys.executable, "-m", "device.cli", "eval", "voice", "--enrol-into", str(state)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"no voice check in this run: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)


def measure(cfg: Config, opts: BenchOptions, requests: list[Request], out_dir: Path) -> dict[str, Any]:
    # The companion around each loop (memory, reminders, persona log) keeps its state in a scratch
    # dir: the benchmark's requests must not become the owner's memories.
    cfg = cfg.model_copy(deep=True)
    cfg.paths.state_dir = str(out_dir / "state")
    enrol_bench_voice(cfg, out_dir / "state")
    print(f"loading engines (stt: {cfg.stt.engine}) ...", file=sys.stderr)
    engines = load_all(cfg)
    system_prompt = persona(cfg).system_prompt()
    warm_up(engines, system_prompt, requests[0].audio)
    rss_warm = rss_mb()
    print(f"idle CPU: {opts.idle_s:g} s of background noise ...", file=sys.stderr)
    idle = idle_cpu(cfg, engines, opts.idle_s, out_dir)
    modes = {"streaming": False, **({"sequential": True} if opts.sequential else {})}
    rows: dict[str, list[dict]] = {}
    histories: list[list[Message]] | None = [[]] if opts.conversation else None
    for mode, sequential in modes.items():
        print(f"{mode}: {len(requests)} requests in real time ...", file=sys.stderr)
        rows[mode] = run_set(cfg, engines, requests, sequential, out_dir, histories)
    summaries = {mode: summarize(r) for mode, r in rows.items()}
    result: dict[str, Any] = {
        "requests": rows,
        "summary": summaries,
        "ratio_streaming_sequential": streaming_ratio(summaries),
        "ratio_streaming_sequential_quiet": quiet_ratio(rows),
        "idle": idle,
        "gap_breakdown_ms": {mode: gap_breakdown(r) for mode, r in rows.items()},
        "quiet_response_gap_ms": {mode: quiet_gap(r) for mode, r in rows.items()},
        "rss_after_warm_up_mb": rounded(rss_warm),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "wake": {"requests": len(rows["streaming"]), "fired": sum(r["woke"] for r in rows["streaming"])},
    }
    if opts.compare:
        print("raw engines vs ours, and the STT engines offline ...", file=sys.stderr)
        result.update(compare_engines(cfg, engines, system_prompt, requests, rows["streaming"]))
    result["peak_rss_mb_total"] = round(peak_rss_mb(), 1)
    return result


def home_config(cfg: Config, opts: BenchOptions) -> Config:
    """The same config with the parts `opts` names moved to the home server, the board behind them."""
    home = cfg.model_copy(deep=True)
    if opts.home_server:
        home.llm.engine, home.llm.remote.url = "openai", opts.home_server
    if opts.home_stt:
        home.stt.engine, home.stt.remote.uri = "wyoming", opts.home_stt
    if opts.home_tts:
        home.tts.engine, home.tts.remote.uri = "wyoming", opts.home_tts
    return home


def measure_home(cfg: Config, opts: BenchOptions, requests: list[Request], out_dir: Path) -> dict[str, Any]:
    """The same requests, streaming, through the home server: its summary, and how often the board
    had to take over (each takeover costs at most the deadline)."""
    home = home_config(cfg, opts)
    out_dir.mkdir(parents=True, exist_ok=True)
    home.paths.state_dir = str(out_dir / "state")
    print("the same requests through the home server ...", file=sys.stderr)
    engines = load_all(home)
    time.sleep(1.0)  # the start-up health checks
    system_prompt = persona(home).system_prompt()
    warm_up(engines, system_prompt, requests[0].audio)
    rows = run_set(home, engines, requests, False, out_dir, [[]] if opts.conversation else None)
    used = {k: v for k, v in (("llm", opts.home_server), ("stt", opts.home_stt), ("tts", opts.home_tts)) if v}
    return {
        "servers": used,
        "requests": rows,
        "summary": summarize(rows),
        "status": mind_status(engines.dialogue, engines.stt, engines.tts),
    }


def compare_engines(
    cfg: Config, engines: Engines, system_prompt: str, requests: list[Request], rows: list[dict]
) -> dict[str, Any]:
    questions = [r["transcript"] for r in rows if r["transcript"]] or [r.text for r in requests if r.text]
    replies = [r["reply"] for r in rows if r["reply"]] or ["The capital of France is Paris."]
    # Ours against onnxruntime-genai's own loop: only the onnx engine has that loop to compare with.
    onnx = isinstance(engines.dialogue, OnnxDialogue)
    return {
        "llm_overhead": llm_overhead(engines.dialogue, system_prompt, questions) if onnx else None,
        "tts_overhead": tts_overhead(engines.tts, replies),
        "stt_engines": stt_engines(cfg, engines, requests),
    }


def report(result: dict[str, Any]) -> str:
    parts = [f"command: {result['command']}", ""]
    for mode, rows in result["requests"].items():
        legend = "ms unless noted; stop = barge-in stop; oth% = other processes' CPU meanwhile"
        parts += [f"{mode} ({legend})", request_table(rows), ""]
    parts += ["summary (medians and p90 over the requests)", summary_table(result["summary"]), ""]
    parts += ["where the response gap goes (median of each part)", breakdown_table(result), ""]
    parts += extra_lines(result)
    if "home_server" in result:
        parts += ["", *home_lines(result)]
    return "\n".join(parts)


def home_lines(result: dict[str, Any]) -> list[str]:
    """The board against the home server, side by side, on the same requests in one run."""
    home = result["home_server"]
    board, server = result["summary"]["streaming"], home["summary"]
    servers = ", ".join(f"{k} {v}" for k, v in home["servers"].items())
    lines = [f"the board against the home server ({servers}), streaming, median (p90)"]
    lines.append(f"{'':38} {'board':>16} {'home server':>16}")
    for key, label, _ in METRICS:
        if board[key]["n"] or server[key]["n"]:
            cells = [f"{s[key]['median']} ({s[key]['p90']})" if s[key]["n"] else "-" for s in (board, server)]
            lines.append(f"{label:38} {cells[0]:>16} {cells[1]:>16}")
    status = home["status"]
    taken = [f"{part} {status[part]['takeovers']}" for part in ("ears", "voice") if part in status]
    if "takeovers" in status:
        taken.insert(0, f"mind {status['takeovers']}")
    lines.append("board takeovers during the run: " + (", ".join(taken) or "none"))
    return lines


def run(cfg: Config, opts: BenchOptions) -> int:
    if opts.requests is not None and opts.requests < 1:
        print("os1: --requests must be at least 1", file=sys.stderr)
        return 2
    if opts.plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        print(
            "os1: --plot needs matplotlib; install it with: pip install matplotlib==3.11.2", file=sys.stderr
        )
        return 2
    if opts.stt:
        cfg.stt.engine = opts.stt  # type: ignore[assignment]
        cfg.stt.model = ""
    if not opts.verbose:
        for name in ("os1.loop", "os1.reply", "os1.persona"):  # one progress line per request instead
            logging.getLogger(name).setLevel(logging.WARNING)
    if opts.input_dir is not None:
        if not opts.input_dir.is_dir() or not any(opts.input_dir.glob("*.[wW][aA][vV]")):
            print(f"os1: no .wav files in {opts.input_dir}; pass a folder of WAV requests", file=sys.stderr)
            return 2
        requests = wav_requests(opts.input_dir, opts.requests)
    else:
        print(f"synthesizing requests (cache: {opts.cache_dir}) ...", file=sys.stderr)
        requests = synthesized_requests(opts.requests, opts.cache_dir)
    with tempfile.TemporaryDirectory(prefix="os1-bench-") as tmp, OtherLoad() as load:
        result = measure(cfg, opts, requests, Path(tmp))
        if opts.home_server or opts.home_stt or opts.home_tts:
            result["home_server"] = measure_home(cfg, opts, requests, Path(tmp) / "home")
    result["other_cpu_pct"] = load.percent
    result = {"command": shlex.join(["os1", *sys.argv[1:]]), **result}
    result["config"] = {
        "stt": cfg.stt.engine,
        "llm": llm_name(cfg.llm),  # the mind that ran: with `auto`, which of the two
        "tts": cfg.tts.voice,
        "wake": f"{cfg.wake.engine}:{cfg.wake.model}",
        "end_of_turn_ms": cfg.vad.end_of_turn_ms,
        "early_reply_ms": cfg.vad.early_reply_ms,
        "conversation": opts.conversation,
    }
    result["targets"] = TARGETS
    print(report(result), flush=True)
    if opts.json_path is not None:
        opts.json_path.parent.mkdir(parents=True, exist_ok=True)
        opts.json_path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {opts.json_path}")
    if opts.plot_path is not None:
        rows = [r for mode_rows in result["requests"].values() for r in mode_rows]
        print(f"wrote {plot_waterfall(rows, opts.plot_path)}")
    answered = [r for r in result["requests"]["streaming"] if r["response_gap_ms"] is not None]
    return 0 if answered else 1


def options_from_args(args: Any) -> BenchOptions:
    """`os1 bench`'s parsed arguments (see device/cli) as options."""
    opts = BenchOptions(
        requests=args.requests,
        sequential=args.sequential,
        stt=args.stt,
        input_dir=args.input_dir,
        json_path=args.json,
        plot_path=args.plot,
        idle_s=args.idle_s,
        compare=not args.no_compare,
        conversation=args.conversation,
        verbose=args.verbose,
        home_server=args.home_server or "",
        home_stt=args.home_stt or "",
        home_tts=args.home_tts or "",
    )
    if args.cache_dir is not None:
        opts.cache_dir = args.cache_dir
    return opts
