"""What the settings intent changes on a running companion: mute once the reply is said, and a live
config key (volume, speaking speed) applied between replies and, where the file can be written,
saved in the config file the daemon reads, comments kept (config.edit)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from device.atomic import write_text_atomic
from device.config.edit import get_value, is_live, set_in_text
from device.config.load import ConfigError, parse
from device.config.schema import Config
from device.intents.text import storage_problem
from device.pipeline.loop import VoiceLoop

log = logging.getLogger("os1.settings")

Apply = Callable[[Config, list[str]], None]


class LiveSettings:
    """`apply(new_config, keys)` is the runner's live reload (assemble.reconfigure, which waits for the
    reply in flight). `config_file`: where a change is saved; None saves nothing (a recording run).
    `on_change(new_config)`: the daemon's control handler keeps the config it compares a reload with."""

    def __init__(
        self,
        loop: VoiceLoop,
        cfg: Config,
        apply: Apply,
        config_file: Path | None = None,
        on_change: Callable[[Config], None] | None = None,
    ) -> None:
        self.loop = loop
        self.config = cfg
        self.apply = apply
        self.config_file = config_file
        self.on_change = on_change
        self._lock = threading.Lock()

    def mute(self) -> None:
        self.loop.set_muted(True, confirm=False, after_reply=True)  # the reply says so itself

    def value(self, key: str) -> float:
        return float(get_value(self.config, key))

    def change(self, key: str, value: float) -> str:
        """'' once saved in the config file, else why not (the reply says it lasts until a restart)."""
        if not is_live(key):
            raise ValueError(f"{key} is not a live key")
        with self._lock:
            data = self.config.model_dump()
            section, name = key.split(".")
            data[section][name] = value
            new = Config.model_validate(data)
            why = self._save(key, value)
            self.config = new
        if self.on_change is not None:
            self.on_change(new)
        # On its own thread: the reply that says "okay" is still going, and the reload waits for it.
        # Not a daemon thread (as one made on the reply thread would be): Python waits for it at exit,
        # so it is never cut off inside onnxruntime loading a voice, which aborts the process.
        threading.Thread(target=self.apply, args=(new, [key]), name="os1-voice-setting", daemon=False).start()
        log.info("voice setting: %s = %s (%s)", key, value, "until restart" if why else "saved")
        return why

    def _save(self, key: str, value: float) -> str:
        path = self.config_file
        if path is None:
            return "I have no config file to keep it in"
        try:
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            new_text = set_in_text(text, key, value, str(path))
            parse(new_text, str(path))  # never write a file the daemon could not read back
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, new_text)
        except OSError as e:
            log.warning("voice setting %s not saved in %s: %s", key, path, e)
            return storage_problem(e)
        except ConfigError as e:
            log.warning("voice setting %s not saved in %s: %s", key, path, e)
            return "my config file has a mistake in it (os1 doctor shows it)"
        return ""
