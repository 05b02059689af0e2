"""`os1 ask TEXT` and `os1 chat`: typed turns through the same companion as the voice.

With the daemon running they are its turns (one conversation, memory and state with what is said
aloud); without it, the companion runs here on the same state dir, and says so on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from device.cli import EXIT_FAIL, EXIT_OK
from device.config import load as configuration
from device.config import paths
from device.config.schema import Config

PROMPT = "you: "


def register(sub: Any) -> list[str]:
    ask = sub.add_parser("ask", help="one typed turn through the companion (the running one, if any)")
    ask.add_argument("text")
    ask.add_argument("--json", action="store_true", help="the turn as one JSON object")
    ask.add_argument("--speak", action="store_true", help="also say the reply through the earpiece")
    chat = sub.add_parser("chat", help="a typed conversation (over SSH from a phone); Ctrl-D ends it")
    chat.add_argument("--speak", action="store_true", help="also say each reply through the earpiece")
    return ["ask", "chat"]


def dispatch(args: argparse.Namespace) -> int:
    cfg, _ = configuration.load(args.config)
    if not args.verbose:  # the conversation is on stdout; the companion's log would interleave with it
        logging.getLogger("os1").setLevel(logging.WARNING)
    door = Door(cfg, speak=args.speak)
    try:
        if args.command == "ask":
            return door.ask(args.text, as_json=args.json)
        return door.chat(sys.stdin)
    finally:
        door.close()


class Door:
    """Where typed turns go: the running daemon if there is one, else a companion made here."""

    def __init__(self, cfg: Config, speak: bool = False):
        self.cfg = cfg
        self.speak = speak
        self.here: Any = None  # the TextCompanion, once it is needed
        from device.app import control

        self.daemon = control.daemon_running()

    def turn(self, text: str, write: Any) -> dict[str, Any]:
        """One typed turn; `write(piece)` gets the reply as it is written. Returns the turn as JSON."""
        if self.daemon:
            from device.app.text import ask_daemon

            result: dict[str, Any] = {}
            for message in ask_daemon(text, speak=self.speak):
                if "piece" in message:
                    write(str(message["piece"]))
                if message.get("done"):
                    result = dict(message["turn"])  # type: ignore[arg-type]
            return result
        if self.here is None:
            from device.app.text import TextCompanion

            self.here = TextCompanion.open(self.cfg)  # a missing model is its one-line error, alone
            print(
                f"os1: no companion running; answering here, on {paths.dirs(self.cfg).state}", file=sys.stderr
            )
        turn = self.here.turn(text, on_text=write)
        for note in self.here.notes:
            write(" " + note)
        self.here.notes.clear()
        if self.speak and turn.reply:
            speak_here(self.cfg, turn.reply)
        return turn.as_json()

    def ask(self, text: str, as_json: bool) -> int:
        if not text.strip():
            print("os1: ask needs something to say, e.g. os1 ask 'what time is it?'", file=sys.stderr)
            return EXIT_FAIL
        out = self.turn(text, (lambda _p: None) if as_json else _writer())
        if as_json:
            print(json.dumps({"question": text, "via": "daemon" if self.daemon else "here", **out}))
        else:
            print(flush=True)
        return EXIT_OK if out.get("reply") else EXIT_FAIL

    def chat(self, lines: Any) -> int:
        """Read a line, answer it, until end of input (Ctrl-D)."""
        interactive = lines.isatty()
        while True:
            if interactive:
                print(PROMPT, end="", flush=True)
            line = lines.readline()
            if not line:
                if interactive:
                    print()
                return EXIT_OK
            if not line.strip():
                continue
            print(f"{self._name()}: ", end="", flush=True)
            self.turn(line.strip(), _writer())
            print(flush=True)

    def _name(self) -> str:
        return self.here.companion.persona.persona.name if self.here is not None else self.cfg.persona.name

    def close(self) -> None:
        if self.here is not None:
            self.here.close()


def _writer() -> Any:
    """Prints reply pieces as they come, a space between them."""
    first = [True]

    def write(piece: str) -> None:
        print(piece if first[0] else " " + piece.lstrip(), end="", flush=True)
        first[0] = False

    return write


def speak_here(cfg: Config, text: str) -> None:
    """Say `text` on this machine's sound device (no daemon to say it)."""
    from device.app.engines import build_voice
    from device.drivers.audio import PyAudioEarpiece

    tts = build_voice(cfg, paths.dirs(cfg).models)
    ear = PyAudioEarpiece(
        cfg.audio.output_device or cfg.audio.device,
        cfg.audio.device_rate,
        cfg.audio.period_ms,
        cfg.audio.volume,
    )
    try:
        for audio in tts.synthesize(text):
            ear.play(audio, tts.sample_rate)
        ear.drain()
    finally:
        ear.close()
