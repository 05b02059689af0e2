"""`os1 run | demo`: the companion live or on a recording, and a spoken demo (typed turns: cli/talk.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from device.cli import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK
from device.config import load as configuration
from device.config import paths
from device.config.schema import Config


def register(sub: Any) -> list[str]:
    run = sub.add_parser("run", help="the companion: live, or on a recording with --input")
    run.add_argument("--input", type=Path, help="a WAV file standing in for the microphone")
    run.add_argument("--output", type=Path, help="a WAV file standing in for the earpiece (with --input)")
    run.add_argument("--json", action="store_true", help="one JSON object per turn on stdout")
    run.add_argument(
        "--no-wake", action="store_true", help="the recording is already addressed (as after a tap)"
    )
    run.add_argument("--fast", action="store_true", help="feed the recording as fast as it is processed")
    run.add_argument("--audio-device", help="ALSA device name substring for microphone and earpiece")

    demo = sub.add_parser("demo", help="speak a request with the Piper voice and answer it")
    demo.add_argument("--out-dir", type=Path, help="where request.wav and reply.wav go")
    return ["run", "demo"]


def dispatch(args: argparse.Namespace) -> int:
    cfg, source = configuration.load(args.config)
    if args.command == "run":
        return _run(cfg, source, args)
    from device.app import files as runner

    return runner.demo(cfg, args.out_dir or paths.dirs(cfg).state / "demo")


def _run(cfg: Config, source: Path | None, args: argparse.Namespace) -> int:
    from device.app import files as runner

    if args.input is None:
        if args.output or args.json or args.fast:
            print("os1: --output, --json and --fast go with --input", file=sys.stderr)
            return EXIT_BAD_INPUT
        if args.no_wake:
            cfg.wake.engine = "none"
        from device.app import daemon

        return daemon.run(cfg, args.audio_device, config_file=source, cli_config=args.config)
    output = args.output or args.input.with_name(args.input.stem + ".reply.wav")
    turns = runner.run_file(cfg, args.input, output, args.json, wake=not args.no_wake, realtime=not args.fast)
    if not turns:
        why = "nothing was heard after the wake" if args.no_wake else "the wake word was not heard"
        print(
            f"os1: no turn: {why} in {args.input} (pass --no-wake if the recording is already addressed)",
            file=sys.stderr,
        )
        return EXIT_FAIL
    if not args.json:
        print(f"spoken reply written to {output}")
    return EXIT_OK
