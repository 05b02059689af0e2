"""The daemon (`os1 run` with no --input): the voice loop on the live microphone and earpiece, with the
companion around it, the control socket for `os1 status|mute|say|config`, and systemd's notify and
watchdog protocol. Runs until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from device.app import control, heap
from device.app import systemd as service
from device.app.assemble import attach_body, feed_frames, make_loop, reconfigure, warm_loop
from device.app.companion import build_companion
from device.app.control_handler import DaemonControl
from device.app.engines import llm_name, load_all, mind_status, wake_phrase
from device.app.hardware import build_button, build_indicator, check_pins
from device.app.logs import format_turn_log
from device.app.owner import reload_voiceprint
from device.atomic import sweep_temp_files
from device.config import edit as config_edit
from device.config import paths
from device.config.load import ConfigError
from device.config.schema import Config
from device.drivers.audio_devices import AudioDevices, Backoff, live_audio
from device.drivers.button import Button
from device.intents import when
from device.pipeline.events import Turn

log = logging.getLogger("os1.daemon")


class Heartbeat:
    """systemd's watchdog, fed while the daemon is healthy: mic frames are reaching the voice loop, or
    the microphone is away and being retried. A stuck pipeline (or a PortAudio call that never
    returns) stops the pings, and systemd restarts the daemon."""

    STUCK_S = 5.0

    def __init__(self, waiting_for_device: Callable[[], bool], clock: Callable[[], float] = time.monotonic):
        self._dog = service.Watchdog(clock)
        self._waiting = waiting_for_device
        self._clock = clock
        self.last_frame = clock()

    def frames(self, frames: Iterable[tuple[np.ndarray, float]]) -> Iterator[tuple[np.ndarray, float]]:
        for item in frames:
            self.last_frame = self._clock()
            yield item

    def healthy(self) -> bool:
        return self._clock() - self.last_frame < self.STUCK_S or self._waiting()

    def run(self, stop: threading.Event) -> None:
        if not self._dog.enabled:
            return
        while not stop.wait(0.5):
            if self.healthy():
                self._dog.tick()


def _open_audio(cfg: Config, device: str | None, stop: threading.Event) -> AudioDevices:
    """The microphone and earpiece. A missing device is not fatal: a worn device boots before its
    Bluetooth headset connects, and is retried with backoff."""
    name = cfg.audio.device if device is None else device
    retry = cfg.audio_reconnect
    return live_audio(
        cfg.audio.input_device or name,
        cfg.audio.output_device or name,
        cfg.audio.device_rate,
        cfg.audio.period_ms,
        cfg.audio.volume,
        backoff=Backoff(retry.first_retry_s, retry.max_retry_s),
        stall_s=retry.stall_s,
        stop=stop,
    )


def _state_at_start(cfg: Config) -> paths.Dirs:
    """The dirs, with the temp files of writes a crash cut short cleared from the state dir."""
    dirs = paths.dirs(cfg)
    for tmp in sweep_temp_files(dirs.state) if dirs.state.is_dir() else []:
        log.info("removed %s, left by a write cut short", tmp)
    return dirs


def _model_names(cfg: Config, dirs: paths.Dirs) -> dict[str, str]:
    """For `os1 status`: the model of each stage."""
    return {
        "wake": cfg.wake.model,
        "stt": cfg.stt.engine,
        "llm": llm_name(cfg.llm, dirs.models),
        "tts": cfg.tts.voice,
    }


def _stop_on_signals(stop: threading.Event) -> None:
    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():  # only the main thread may set them
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)


def _reload_on_sighup(handler: DaemonControl) -> None:
    """SIGHUP (`systemctl reload`, or the terminal of an `os1 run` over SSH hanging up) re-reads the
    config, as `os1 config set` has the daemon do, instead of Python's default: dying mid-sentence without
    saving the conversation. On a thread: a reload waits for the reply in flight."""

    def reload() -> None:
        try:
            handler.reload()
        except ConfigError as e:
            log.warning("SIGHUP: config not reloaded, the running one stays: %s", e)

    def on_hup(_signum: int, _frame: object) -> None:
        log.info("signal SIGHUP: reloading the config")
        threading.Thread(target=reload, name="os1-sighup-reload", daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGHUP, on_hup)


def _control_server(handler: DaemonControl) -> control.ControlServer | None:
    """The ways in besides the voice: the control socket (`os1` over SSH), and SIGHUP."""
    _reload_on_sighup(handler)
    server = control.ControlServer(control.daemon_socket_path(), handler)
    try:
        server.start()
    except OSError as e:  # another daemon, or a runtime dir we must not use: say so, keep talking
        log.warning("no control socket: %s", e)
        return None
    return server


def run(
    cfg: Config,
    device: str | None = None,
    button: Button | None = None,
    config_file: Path | None = None,
    cli_config: str | None = None,
    stop: threading.Event | None = None,
    audio: AudioDevices | None = None,
) -> int:
    """Until SIGINT/SIGTERM, or until `stop` is set (a test running the daemon on a thread). `audio`:
    devices made by the caller (the soak's), on the same `stop`; by default the configured ones."""
    check_pins(cfg.button, cfg.indicator)  # before the slow part: a config error is exit 2 at once
    heap.tune()  # before the models and their threads
    engines = load_all(cfg)
    dirs = _state_at_start(cfg)
    stop = stop or threading.Event()
    audio = audio or _open_audio(cfg, device, stop)
    _stop_on_signals(stop)
    turns: list[Callable[[Turn], None]] = []  # the control handler's, once it exists

    def on_turn(turn: Turn) -> None:  # on the reply's thread, once it is over
        log.info("%s", format_turn_log(turn))
        for record in turns:
            record(turn)
        heap.give_back()

    indicator = build_indicator(cfg.indicator)
    button = button or build_button(cfg.button)
    capturing = indicator.capturing if indicator else None
    companion = build_companion(
        cfg, engines.dialogue, engines.tts, dirs.state, onboarding=True, on_capture=capturing
    )
    # A setting changed by voice is saved where `os1 config set` would save it; the control handler
    # (made below, once the loop exists) keeps it as the config a reload is compared with.
    setting_file = config_file or config_edit.target_path(cli_config, None, daemon_is_other_user=False)

    def keep(new: Config) -> None:
        handler.config = new

    loop = make_loop(cfg, engines, audio.earpiece, on_turn, companion, setting_file, keep)
    attach_body(loop, companion, cfg, audio=audio, button=button, indicator=indicator)
    handler = DaemonControl(
        loop,
        cfg,
        config_file,
        cli_config,
        apply=lambda new, keys: reconfigure(loop, companion, new, keys, audio.earpiece, dirs.models),
        devices=audio.status,
        models=_model_names(cfg, dirs),
        memory=companion.memory,
        mind=lambda: mind_status(engines.dialogue, engines.stt, engines.tts),
        on_reload=lambda: reload_voiceprint(companion.voice, dirs.state, cfg.owner.voice_model),
    )
    turns.append(handler.record_turn)
    server = _control_server(handler)

    warm_loop(loop)
    when.warm()  # dateparser's tables (~0.2 s; seconds on a slow board): not in the first request's way
    if (question := companion.persona.opening()) is not None:
        loop.announce(question)
    log.info("ready: say '%s'", wake_phrase(cfg.wake) if engines.wake else "(wake word off)")
    heartbeat = Heartbeat(waiting_for_device=lambda: not audio.connected)
    threading.Thread(target=heartbeat.run, args=(stop,), name="os1-watchdog", daemon=True).start()
    service.ready(f"listening for '{wake_phrase(cfg.wake)}'")
    audio.drop_backlog()  # heard while loading: held, the loop never caught up and lost the first wake
    try:
        feed_frames(loop, heartbeat.frames(audio.microphone), stop, wait_for_reply=False)
    finally:
        stop.set()
        service.stopping()
        if server is not None:
            server.close()
        companion.close()
        loop.wait_reply(timeout_s=5)
        audio.close()
        for part in (button, indicator):
            if part is not None:
                part.close()
    log.info("stopped")
    return 0
