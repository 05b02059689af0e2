"""`os1 status | mute | unmute | say | logs | restart`: the running daemon, from an SSH session."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from device.app import control
from device.cli import EXIT_FAIL, EXIT_NOT_RUNNING

SERVICE = "os1"


def register(sub: Any) -> list[str]:
    status = sub.add_parser("status", help="what the running companion is doing, and the board's health")
    status.add_argument("--json", action="store_true", help="the daemon's full answer as JSON")
    sub.add_parser("mute", help="stop listening (no wake word, no microphone) until unmute")
    sub.add_parser("unmute", help="listen again")

    say = sub.add_parser("say", help="speak TEXT through the running companion's earpiece, or to a file")
    say.add_argument("text")
    say.add_argument("--output", type=Path, help="write the speech to this WAV file instead")
    say.add_argument("--local", action="store_true", help="speak through this process's own audio device")
    say.add_argument("--audio-device", help="speak locally on this ALSA device (name substring)")

    logs = sub.add_parser("logs", help="the daemon's log (journalctl -u os1)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=50, metavar="N", help="how many lines (default 50)")

    sub.add_parser("restart", help="restart the os1 service (systemctl restart os1)")
    return ["status", "mute", "unmute", "say", "logs", "restart"]


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "logs":
        return logs(args.follow, args.lines)
    if args.command == "restart":
        return restart()
    if args.command == "say" and (args.output is not None or args.local or args.audio_device):
        return say_locally(args)
    message: dict[str, Any] = {"cmd": args.command}
    if args.command == "say":
        message["text"] = args.text
    reply, code = ask_daemon(message)
    if reply is None:
        return code
    if args.command == "status":
        print(json.dumps(reply, indent=2) if args.json else format_status(reply))
    elif args.command in ("mute", "unmute"):
        print("muted: not listening until `os1 unmute`" if reply.get("muted") else "listening again")
    else:
        print("sent: it speaks when it is idle (and not muted)")
    return 0


def ask_daemon(message: dict[str, Any], timeout_s: float = 10.0) -> tuple[dict[str, Any] | None, int]:
    """(the daemon's reply, 0), or (None, exit code) after printing the one-line reason."""
    try:
        return control.send(message, timeout_s), 0
    except control.DaemonNotRunning as e:
        print(
            f"os1: the daemon is not running (no socket at {e}); "
            "start it with `sudo systemctl start os1` or `os1 run`",
            file=sys.stderr,
        )
        return None, EXIT_NOT_RUNNING
    except control.ControlError as e:
        print(f"os1: {e}", file=sys.stderr)
        return None, EXIT_FAIL


# ------------------------------------------------------------------------------------ status
def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def format_status(r: dict[str, Any]) -> str:
    """The daemon's status for a person: one fact per line, anything it did not report left out."""
    lines = [f"state     : {r.get('state', '?')}" + (" (muted)" if r.get("muted") else "")]
    if "uptime_s" in r:
        lines.append(f"uptime    : {_duration(float(r['uptime_s']))} (pid {r.get('pid', '?')})")
    if r.get("devices"):
        lines.append("devices   : " + "; ".join(f"{k}: {v}" for k, v in r["devices"].items()))
    if r.get("models"):
        lines.append("models    : " + "; ".join(f"{k}: {v}" for k, v in r["models"].items()))
    turn = r.get("last_turn")
    if turn:
        ago = _duration(max(0.0, time.time() - float(turn.get("at", time.time()))))
        timings = ", ".join(f"{k} {v} ms" for k, v in turn.get("timings_ms", {}).items())
        cut = f" (interrupted by {turn['interrupted']})" if turn.get("interrupted") else ""
        lines.append(f"last turn : {ago} ago{cut}: {timings or 'no timings'}")
    else:
        lines.append("last turn : none yet")
    llm = r.get("llm")
    if llm and "server" in llm:
        health = llm["server"] + (f" ({llm['server_error']})" if llm.get("server_error") else "")
        lines.append(f"mind      : {llm.get('mind')} answered last; home server {health}")
    for name, what in (("ears", "heard"), ("voice", "spoke")):
        part = (llm or {}).get(name)
        if part:
            health = part["server"] + (f" ({part['server_error']})" if part.get("server_error") else "")
            lines.append(f"{name:<10}: {part.get('last')} {what} last; home server {health}")
    if "cpu_temp_c" in r:
        lines.append(f"cpu temp  : {r['cpu_temp_c']:.1f} °C")
    if "throttled" in r:
        flags = r.get("throttled_flags") or []
        lines.append(f"throttled : {r['throttled']}" + (f" ({'; '.join(flags)})" if flags else " (never)"))
    lines.append(f"config    : {r.get('config_file') or 'built-in defaults'}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ say locally
def say_locally(args: argparse.Namespace) -> int:
    """`say --output FILE` or `say --local`: synthesize here, without the daemon."""
    from device.app.engines import build_tts
    from device.config import load as configuration
    from device.config import paths

    cfg, _ = configuration.load(args.config)
    tts = build_tts(cfg.tts, paths.dirs(cfg).models)
    if args.output is not None:
        from device.drivers.audio_files import FileEarpiece

        ear: Any = FileEarpiece(args.output, realtime=False)
    else:
        from device.drivers.audio import PyAudioEarpiece

        device = args.audio_device
        ear = PyAudioEarpiece(
            device if device is not None else cfg.audio.output_device or cfg.audio.device,
            cfg.audio.device_rate,
            cfg.audio.period_ms,
            cfg.audio.volume,
        )
    for audio in tts.synthesize(args.text):
        ear.play(audio, tts.sample_rate)
    ear.drain()
    ear.close()
    if args.output is not None:
        print(f"wrote {args.output}")
    return 0


# ------------------------------------------------------------------------------------ logs, restart
def logs(follow: bool, lines: int) -> int:
    exe = shutil.which("journalctl")
    if exe is None:
        print(
            "os1: journalctl is not installed here, so there is no service log; "
            "`os1 run` prints its log on stderr",
            file=sys.stderr,
        )
        return EXIT_FAIL
    cmd = [exe, "-u", SERVICE, "-o", "cat", "--no-pager", "-n", str(max(0, lines))]
    return subprocess.call(cmd + (["-f"] if follow else []))


def restart() -> int:
    exe = shutil.which("systemctl")
    if exe is None:
        print(
            "os1: systemctl is not installed here; stop `os1 run` with Ctrl-C and start it again",
            file=sys.stderr,
        )
        return EXIT_FAIL
    # --no-ask-password: fail with a reason instead of a polkit prompt over SSH.
    r = subprocess.run([exe, "--no-ask-password", "restart", SERVICE], capture_output=True, text=True)
    if r.returncode == 0:
        print("restarted os1")
        return 0
    reason = (r.stderr.strip().splitlines() or [f"systemctl exited with {r.returncode}"])[0]
    if "not been booted with systemd" in reason:
        fix = "there is no service manager here; stop `os1 run` with Ctrl-C and start it again"
    elif "not found" in reason or "not loaded" in reason:
        fix = "install the service first (see hardware/README.md), or use `os1 run`"
    else:
        fix = f"run `sudo systemctl restart {SERVICE}`"
    print(f"os1: cannot restart the service: {reason}; {fix}", file=sys.stderr)
    return EXIT_FAIL
