"""`os1 bench`: the whole pipeline measured as the user feels it (or, with a flag, memory or vision)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from device.config import load as configuration


def register(sub: Any) -> list[str]:
    bench = sub.add_parser("bench", help="measure the pipeline: response gap, each stage, barge-in, CPU")
    bench.add_argument("--requests", type=int, metavar="N", help="run only the first N requests")
    bench.add_argument(
        "--sequential",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run sequentially (no overlap) and print the streaming/sequential ratio (default: on)",
    )
    bench.add_argument("--stt", "--engine", dest="stt", choices=["whisper", "moonshine"], help="STT engine")
    bench.add_argument("--input-dir", type=Path, help="your own WAV requests instead of synthesized ones")
    bench.add_argument("--json", type=Path, metavar="FILE", help="write every request and the summary")
    bench.add_argument("--plot", type=Path, metavar="FILE.png", help="a waterfall timeline of one request")
    bench.add_argument("--cache-dir", type=Path, help="where synthesized requests are cached")
    bench.add_argument("--idle-s", type=float, default=15.0, help="seconds of idle audio for idle CPU")
    bench.add_argument(
        "--no-compare", action="store_true", help="skip raw engines vs ours and the other STT engine"
    )
    bench.add_argument(
        "--conversation",
        action="store_true",
        help="run the requests as one conversation (history kept), as the live daemon and the black-box "
        "check do; default: each request on its own",
    )
    bench.add_argument(
        "--home-server",
        metavar="URL",
        help="also run the requests with the mind on this OpenAI-compatible server, and print the "
        "response gap side by side with the board's",
    )
    bench.add_argument("--home-stt", metavar="tcp://HOST:PORT", help="…and the ears on this Wyoming server")
    bench.add_argument("--home-tts", metavar="tcp://HOST:PORT", help="…and the voice on this Wyoming server")
    bench.add_argument(
        "--server-stall",
        action="store_true",
        help="instead: what a home server that accepts and never answers costs (mind, ears, voice)",
    )
    bench.add_argument(
        "--memory",
        action="store_true",
        help="instead: memory retrieval added per turn with 10,000 memories (python -m device.evals.memory)",
    )
    bench.add_argument(
        "--llm-engines",
        action="store_true",
        help="instead: onnx against llamacpp on the same SmolLM2 weights (first token, tokens/s, RSS)",
    )
    bench.add_argument(
        "--vision",
        action="store_true",
        help="instead: OCR time and memory for one camera picture (python -m device.evals.vision)",
    )
    return ["bench"]


def dispatch(args: argparse.Namespace) -> int:
    cfg, _source = configuration.load(args.config)  # first, as before: a broken config stops every bench
    if args.memory:
        from device.evals import memory

        return memory.main([])
    if args.llm_engines:
        from device.evals import llm_engines

        return llm_engines.main(["--show"])
    if args.server_stall:
        from device.evals import server_stall

        return server_stall.main([])
    if args.vision:
        from device.evals import vision

        return vision.main([])
    from device.evals.bench import main as bench

    return bench.run(cfg, bench.options_from_args(args))
