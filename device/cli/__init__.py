"""The `os1` command: the top-level parser, logging, exit codes, and the command groups.

Exit codes: 0 ok, 1 a check or run failed, 2 bad input (config, file, model), 3 the daemon is not running.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

# Defined here only; every group imports them (`from device.cli import EXIT_FAIL`).
EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_NOT_RUNNING = 0, 1, 2, 3

# Every command lives in one of these modules, in `os1 --help` order. Each has `register(sub)`, which adds
# its subparsers and returns their names, and `dispatch(args) -> int`, which loads the config itself (with
# `config.load(args.config)`) if it needs it: `os1 config validate` must run on a broken one.
COMMAND_MODULES: list[str] = [
    "device.cli.run",
    "device.cli.talk",
    "device.cli.models",
    "device.cli.doctor",
    "device.cli.bench",
    "device.cli.letters",
    "device.cli.persona",
    "device.cli.control",
    "device.cli.config",
    "device.cli.memory",
    "device.cli.voice",
    "device.cli.calendar",
    "device.cli.contacts",
    "device.cli.owner_data",
    "device.cli.eval",
    "device.cli.service",
]


def _parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    """The parser, and the module that handles each command name."""
    p = argparse.ArgumentParser(prog="os1", description="OS1: an offline voice companion you wear.")
    p.add_argument(
        "--config", help="config file (default: $OS1_CONFIG, ~/.config/os1/config.yaml, /etc/os1/…)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = p.add_subparsers(dest="command", required=True)
    module_of: dict[str, ModuleType] = {}
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        for command in module.register(sub):
            module_of[command] = module
    return p, module_of


def _setup_logging(verbose: bool) -> None:
    from device.app import logs as logsetup  # stderr for a terminal, or journald's format under systemd

    logsetup.setup(verbose, sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from device.cli import errors

    parser, module_of = _parser()
    args = parser.parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return int(module_of[args.command].dispatch(args))
    except KeyboardInterrupt:
        return 130  # the shell's code for Ctrl-C
    except Exception as e:  # every known failure becomes one line, never a trace
        return errors.report(e)
