"""The daemon's answers to the control socket: status, mute, say and reload on the running voice loop."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from device.config import load as configuration
from device.config.edit import live_keys_changed
from device.config.schema import Config
from device.drivers import board
from device.pipeline.events import Turn

if TYPE_CHECKING:
    from device.memory import Memory

log = logging.getLogger("os1.control")

ASK_WAIT_S = 60.0  # a typed turn waits this long for a spoken one to finish, and as long for its reply


class LoopControls(Protocol):
    """The parts of VoiceLoop the control socket uses."""

    state: Any

    @property
    def muted(self) -> bool: ...

    def set_muted(self, muted: bool) -> None: ...

    def announce(self, text: str) -> None: ...

    def begin_typed(self, text: str, speak: bool = False, on_text: Any = None) -> Turn | None: ...

    def wait_reply(self, timeout_s: float | None = None) -> bool: ...


class DaemonControl:
    """A ControlHandler over a running VoiceLoop.

    `apply(new_config, keys)` is the runner's: it must apply each of `keys` (all of them live keys, see
    config_edit.LIVE_KEYS) to the running loop. Keys outside LIVE_KEYS are reported as needing a restart
    until the daemon restarts with them.
    """

    def __init__(
        self,
        loop: LoopControls,
        cfg: Config,
        config_file: Path | None,
        cli_config: str | None,
        apply: Callable[[Config, list[str]], None],
        devices: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
        models: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        memory: Memory | None = None,
        mind: Callable[[], dict[str, Any]] | None = None,
        on_reload: Callable[[], None] | None = None,
    ) -> None:
        self.loop = loop
        self.memory = memory  # the companion's, open for the daemon's life (None: memory is off)
        self.boot_config = cfg  # what the daemon started with: restart-only keys stay at this
        self.config = cfg  # the latest config read, with its live keys applied
        self.config_file = config_file
        self.cli_config = cli_config  # the --config the daemon was started with, to re-read the same file
        self.devices = devices or {}
        self.mind = mind  # which mind answered last, and the home server's health
        self.models = models or {}
        self.apply = apply
        self.on_reload = on_reload  # also re-read what is not config (the owner's voiceprint)
        self.clock = clock
        self.started = clock()
        self._last_turn: dict[str, Any] | None = None
        self._lock = threading.Lock()  # reload may come from two clients at once

    def record_turn(self, turn: Turn) -> None:
        """Chain from the loop's on_turn: status shows when the last turn was and what each stage took."""
        self._last_turn = {
            "at": time.time(),
            "timings_ms": {k: round(v) for k, v in turn.timings_ms.items()},
            "interrupted": turn.interrupted,
        }

    def status(self) -> dict[str, Any]:
        state = self.loop.state
        out: dict[str, Any] = {
            "state": getattr(state, "value", str(state)),
            "muted": bool(self.loop.muted),
            "uptime_s": round(self.clock() - self.started, 1),
            "pid": os.getpid(),
            "config_file": str(self.config_file) if self.config_file else None,
            "devices": self.devices() if callable(self.devices) else self.devices,
            "models": self.models,
        }
        if self._last_turn is not None:
            out["last_turn"] = self._last_turn
        if self.mind is not None:
            out["llm"] = self.mind()
        out.update(board.health())
        return out

    def set_muted(self, muted: bool) -> None:
        self.loop.set_muted(muted)
        log.info("control: %s", "muted" if muted else "unmuted")

    def say(self, text: str) -> None:
        self.loop.announce(text)

    def ask(self, text: str, speak: bool, on_text: Callable[[str], None]) -> dict[str, Any]:
        """A typed turn in the live conversation, once the loop is free (it may be mid-sentence with
        the owner's voice): the same companion, history and memory as a spoken turn."""
        deadline = self.clock() + ASK_WAIT_S
        while (turn := self.loop.begin_typed(text, speak, on_text)) is None:
            if self.clock() > deadline:
                raise TimeoutError(f"the companion stayed busy for {ASK_WAIT_S:.0f} s; try again")
            self.loop.wait_reply(0.1)
            time.sleep(0.05)
        if not self.loop.wait_reply(ASK_WAIT_S):
            raise TimeoutError("the reply took too long")
        return turn.as_json()

    def reload(self) -> dict[str, Any]:
        """Re-read the config file. A bad file raises ConfigError; the daemon keeps running as it was."""
        with self._lock:
            new, found = configuration.load(self.cli_config)
            applied, _ = live_keys_changed(self.config, new)
            _, need_restart = live_keys_changed(self.boot_config, new)
            if applied:
                self.apply(new, applied)
            self.config = new
            self.config_file = found
            if self.on_reload is not None:
                self.on_reload()
        log.info("control: reload from %s: live %s, need restart %s", found, applied, need_restart)
        return {
            "config_file": str(found) if found else None,
            "applied": applied,
            "need_restart": need_restart,
        }

    def forget_all(self, folder: str) -> dict[str, Any]:
        """`os1 memory forget --all` while the daemon runs. Wiped here, through the daemon's own Memory:
        files deleted by the CLI stay open (and written) in the daemon until it notices, a reopen between
        the CLI's unlinks can pick up the old WAL, and the conversation in progress would come back in
        its summary. {"held": false} when this daemon does not have that folder open."""
        from device.memory import StoreError

        memory = self.memory
        if memory is None or Path(folder).resolve() != memory.store.folder.resolve():
            return {"held": False}
        try:
            count = memory.store.count()
        except StoreError:  # a damaged database is deleted all the same
            count = 0
        removed = memory.wipe()
        log.info("control: forgot every memory (%d) in %s", count, folder)
        return {"held": True, "count": count, "removed": [f.name for f in removed]}
