"""`os1 bench --server-stall`: what a home server that stalls costs the owner.

For the mind (first words), the ears (the transcript) and the voice (the first sentence's audio): the
board alone, then the same engine built from config for a server on a local port that accepts the
connection and never answers. Each hung run meets the hang fresh (a new health record, so the server
counts as up). The cost should be the deadline and no more.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from device.app.engines import build_dialogue, build_stt, build_tts
from device.config.schema import Config
from device.evals.speech import espeak_speech, join, silence
from device.pipeline.events import Message
from device.pipeline.server_health import ServerHealth
from device.pipeline.stt.base import transcribe

MESSAGES = [
    Message("system", "You are Samantha. Give short answers."),
    Message("user", "What is the capital of France?"),
]


@contextmanager
def hung_port() -> Iterator[int]:
    """A port that accepts connections and never reads or answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        t.join(2)
        for c in held:
            c.close()
        sock.close()


def _runner(part: str, cfg: Config) -> tuple[Callable[[], object], object]:
    """One request to the part `cfg` configures, and the engine (to reset its health between runs)."""
    if part == "mind":
        mind = build_dialogue(cfg.llm)
        return lambda: next(iter(mind.stream(MESSAGES))), mind
    if part == "ears":
        audio = join(silence(0.3), espeak_speech("Remind me to call my sister tomorrow."), silence(0.4))
        ears = build_stt(cfg.stt)
        return lambda: transcribe(ears, audio), ears
    voice = build_tts(cfg.tts)
    return lambda: next(iter(voice.synthesize("The capital of France is Paris."))), voice


def _median_ms(run: Callable[[], object], engine: object, runs: int) -> float:
    run()  # warm
    times = []
    for _ in range(runs):
        if hasattr(engine, "health"):
            engine.health.close()  # type: ignore[attr-defined]
            engine.health = ServerHealth(lambda: None, start_check=False)  # type: ignore[attr-defined]
        t0 = time.monotonic()
        run()
        times.append(time.monotonic() - t0)
    return round(statistics.median(times) * 1000, 1)


def measure(runs: int = 5) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with hung_port() as port:
        for part in ("mind", "ears", "voice"):
            hung = Config()
            hung.llm.remote.url = f"http://127.0.0.1:{port}/v1"
            hung.stt.remote.uri = hung.tts.remote.uri = f"tcp://127.0.0.1:{port}"
            if part == "mind":
                hung.llm.engine = "openai"
            elif part == "ears":
                hung.stt.engine = "wyoming"
            else:
                hung.tts.engine = "wyoming"
            board = _median_ms(*_runner(part, Config()), runs)
            stalled = _median_ms(*_runner(part, hung), runs)
            deadline = {
                "mind": hung.llm.remote.first_token_ms,
                "ears": hung.stt.remote.deadline_ms,
                "voice": hung.tts.remote.deadline_ms,
            }[part]
            out[part] = {
                "deadline_ms": deadline,
                "board_ms": board,
                "hung_server_ms": stalled,
                "cost_ms": round(stalled - board, 1),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{'part':8} {'deadline':>9} {'board':>9} {'hung':>9} {'cost':>9}   (ms, median of {args.runs})")
    for part, r in result.items():
        print(f"{part:8} {r['deadline_ms']:>9} {r['board_ms']:>9} {r['hung_server_ms']:>9} {r['cost_ms']:>9}")
    over = [p for p, r in result.items() if r["cost_ms"] > r["deadline_ms"] + 100]
    if over:
        print(f"over the deadline by more than 100 ms: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
