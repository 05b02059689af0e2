"""onnx against llamacpp on the same SmolLM2 weights (`os1 bench --llm-engines`): load time, first
token, tokens a second and peak RSS, each engine in a process of its own so their memory is not mixed.

The board should run whichever is faster on it: published reports put onnxruntime-genai's int4 kernels
several times behind llama.cpp on some ARM CPUs (microsoft/onnxruntime-genai#1098).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from device.pipeline.events import Message

REQUESTS = [
    "What is the capital of France?",
    "Why is the sky blue?",
    "How many days are there in a week?",
    "Tell me something nice about the sea.",
    "What should I cook tonight?",
    "Who wrote Romeo and Juliet?",
    "Can you suggest a name for a cat?",
    "What is a good way to relax after work?",
]
SYSTEM = "You are Samantha, a helpful AI companion. Give short, direct answers."
ENGINES = ("onnx", "llamacpp")


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(engine: str) -> dict[str, object]:
    """Load the engine, prime the persona, answer each request on its own (as a fresh turn would)."""
    from device.app.engines import board_dialogue
    from device.config import paths
    from device.config.schema import Config
    from device.pipeline.settings import DialogueSettings

    cfg = Config()
    t0 = time.monotonic()
    d = board_dialogue(engine, cfg.llm, DialogueSettings(), paths.dirs(cfg).models)
    load_s = time.monotonic() - t0
    system = Message("system", SYSTEM)
    first, rates, replies = [], [], []
    for text in REQUESTS:
        d.prime([system])
        replies.append(d.reply([system, Message("user", text)]))
        s = d.last_stats
        if s.first_token_s is not None:
            first.append(s.first_token_s * 1000)
        if s.tokens_per_s:
            rates.append(s.tokens_per_s)
    return {
        "engine": engine,
        "load_s": round(load_s, 2),
        "first_token_ms_p50": round(statistics.median(first), 1),
        "first_token_ms_max": round(max(first), 1),
        "tokens_per_s_p50": round(statistics.median(rates), 1),
        "peak_rss_mb": round(_peak_rss_mb()),
        "replies": replies,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="os1 bench --llm-engines", description=__doc__)
    ap.add_argument("--engine", choices=ENGINES, help="measure one engine here and print JSON (internal)")
    ap.add_argument("--show", action="store_true", help="print each engine's replies too")
    args = ap.parse_args(argv)
    if args.engine:
        print(json.dumps(measure(args.engine)))
        return 0
    rows = []
    for engine in ENGINES:
        r = subprocess.run(
            [sys.executable, "-m", "device.evals.llm_engines", "--engine", engine],
            capture_output=True,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "")},
        )
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["failed"])[-1]
            print(f"{engine}: {last}", file=sys.stderr)
            continue
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    print(f"{len(REQUESTS)} requests, greedy, persona primed; {os.cpu_count()} cores")
    print("| engine | load | first token p50 (max) | tokens/s p50 | peak RSS |")
    print("|---|---|---|---|---|")
    for row in rows:
        first = f"{row['first_token_ms_p50']} ms ({row['first_token_ms_max']})"
        rate, rss = row["tokens_per_s_p50"], row["peak_rss_mb"]
        print(f"| {row['engine']} | {row['load_s']} s | {first} | {rate} | {rss} MB |")
    if args.show:
        for row in rows:
            for text, reply in zip(REQUESTS, row["replies"], strict=True):  # type: ignore[arg-type]
                print(f"[{row['engine']}] {text} -> {reply}")
    return 0 if len(rows) == len(ENGINES) else 1


if __name__ == "__main__":
    raise SystemExit(main())
