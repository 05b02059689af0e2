"""The `os1` command. Exit codes: 0 ok, 1 a check or run failed, 2 bad input (config, file, model)."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from device.config import load as configuration
from device.config import paths
from device.config.schema import Config

EXIT_FAIL, EXIT_BAD_INPUT, EXIT_NOT_RUNNING = 1, 2, 3

# Command groups that live in their own modules. Each module has `register(sub)`, which adds its
# subparsers and returns their names, and `dispatch(args) -> int`, which loads the config itself
# (with `config.load(args.config)`) if it needs it: `os1 config validate` must run on a broken one.
COMMAND_MODULES: list[str] = [
    "device.cli.letters",
    "device.cli.persona",
    "device.cli.control",
    "device.cli.config",
    "device.cli.memory",
]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="os1", description="OS1: an offline voice companion you wear.")
    p.add_argument(
        "--config", help="config file (default: $OS1_CONFIG, ~/.config/os1/config.yaml, /etc/os1/…)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = p.add_subparsers(dest="command", required=True)

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

    ask = sub.add_parser("ask", help="one text turn through persona and dialogue")
    ask.add_argument("text")
    ask.add_argument("--json", action="store_true")

    models = sub.add_parser("models", help="list, fetch, convert or verify models")
    msub = models.add_subparsers(dest="action", required=True)
    msub.add_parser("list", help="every known model and whether it is installed")
    fetch = msub.add_parser("fetch", help="download models (default: the device profile)")
    fetch.add_argument("ids", nargs="*")
    fetch.add_argument("--profile", choices=["device", "starter"])
    fetch.add_argument("--force", action="store_true")
    conv = msub.add_parser("convert", help="convert the GGUF LLMs into int4 ONNX (default: the starter)")
    conv.add_argument("ids", nargs="*")
    conv.add_argument("--force", action="store_true")
    ver = msub.add_parser("verify", help="check installed models against their SHA-256")
    ver.add_argument("ids", nargs="*")

    sub.add_parser("doctor", help="check Python, audio devices, models, disk and CPU")

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
        "--memory",
        action="store_true",
        help="instead: memory retrieval added per turn with 10,000 memories (python -m device.evals.memory)",
    )
    bench.add_argument(
        "--vision",
        action="store_true",
        help="instead: OCR time and memory for one camera picture (python -m device.evals.vision)",
    )
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        for command in module.register(sub):
            _MODULE_OF[command] = module
    return p


_MODULE_OF: dict[str, Any] = {}


def _setup_logging(verbose: bool) -> None:
    from device.app import logs as logsetup  # stderr for a terminal, or journald's format under systemd

    logsetup.setup(verbose, sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # every known failure becomes one line, never a trace
        return _report(e)


def _report(e: Exception) -> int:
    from device.drivers.audio import AudioDeviceError
    from device.drivers.wavfile import AudioFileError
    from device.models import ModelCorrupt, ModelMissing
    from device.models.fetch import DownloadError

    if isinstance(e, (configuration.ConfigError, AudioFileError, ModelMissing, ModelCorrupt)):
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(e, (AudioDeviceError, DownloadError)):
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_FAIL
    if isinstance(e, _engine_errors()):
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if isinstance(e, OSError) and e.errno == 28:
        print(
            f"os1: the disk is full ({e.filename or 'writing'}); free some space and try again",
            file=sys.stderr,
        )
        return EXIT_FAIL
    raise e


def _engine_errors() -> tuple[type[Exception], ...]:
    """Model load errors of each engine: a corrupt or missing model is bad input, not a crash."""
    from device.pipeline.dialogue import ModelLoadError
    from device.pipeline.stt import SttModelError
    from device.pipeline.vad import VadModelError
    from device.pipeline.wake import WakeModelError

    return (ModelLoadError, SttModelError, VadModelError, WakeModelError)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in _MODULE_OF:
        return int(_MODULE_OF[args.command].dispatch(args))
    cfg, source = configuration.load(args.config)
    models_dir = paths.dirs(cfg).models
    state_dir = paths.dirs(cfg).state

    if args.command == "models":
        from device.cli import models as models_cli

        if args.action == "list":
            return models_cli.cmd_list(models_dir)
        if args.action == "fetch":
            return models_cli.cmd_fetch(args.ids, args.profile, models_dir, args.force)
        if args.action == "convert":
            return models_cli.cmd_convert(args.ids, models_dir, args.force)
        return models_cli.cmd_verify(args.ids, models_dir)

    if args.command == "doctor":
        from device.cli import doctor

        return doctor.run(cfg, state_dir, models_dir)

    if args.command == "run":
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
        turns = runner.run_file(
            cfg, args.input, output, args.json, wake=not args.no_wake, realtime=not args.fast
        )
        if not turns:
            why = "nothing was heard after the wake" if args.no_wake else "the wake word was not heard"
            print(
                f"os1: no turn: {why} in {args.input} (pass --no-wake if the recording is already addressed)",
                file=sys.stderr,
            )
            return EXIT_FAIL
        if not args.json:
            print(f"spoken reply written to {output}")
        return 0

    if args.command == "demo":
        from device.app import files as runner

        return runner.demo(cfg, args.out_dir or state_dir / "demo")

    if args.command == "ask":
        return _ask(cfg, args.text, args.json)

    if args.command == "bench" and args.memory:
        from device.memory import bench as memory_bench

        return memory_bench.main([])
    if args.command == "bench" and args.vision:
        from device.evals import vision as vision_bench

        return vision_bench.main([])
    if args.command == "bench":
        from device.evals import bench

        return bench.run(cfg, bench.options_from_args(args))
    return EXIT_FAIL


def _ask(cfg: Config, text: str, as_json: bool) -> int:
    import time

    from device.app.engines import build_dialogue, persona
    from device.pipeline.dialogue import Message

    dialogue = build_dialogue(cfg.llm, paths.dirs(cfg).models)
    messages = [Message("system", persona(cfg).system_prompt()), Message("user", text)]
    t0 = time.monotonic()
    pieces: list[str] = []
    for piece in dialogue.stream(messages):
        pieces.append(piece)
        if not as_json:
            print(piece, end="", flush=True)
    reply = "".join(pieces).strip()
    if as_json:
        stats = dialogue.last_stats
        print(
            json.dumps(
                {
                    "question": text,
                    "reply": reply,
                    "seconds": round(time.monotonic() - t0, 3),
                    "tokens_per_s": round(getattr(stats, "tokens_per_s", 0.0), 1),
                }
            )
        )
    else:
        print()
    return 0
