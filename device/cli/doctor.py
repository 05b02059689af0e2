"""`os1 doctor`: one line per check, OK / WARN / FAIL, with the fix for each failure."""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from device.app.engines import STT_DEFAULT_MODEL, board_engine
from device.config import load as configuration
from device.config import paths
from device.config.schema import Config
from device.models.catalog import ModelCorrupt, ModelMissing, verify

Check = tuple[str, str, str]  # (OK|WARN|FAIL, what, fix)


def _python() -> Iterator[Check]:
    v = sys.version_info
    ok = v >= (3, 11)
    yield (
        "OK" if ok else "FAIL",
        f"Python {v.major}.{v.minor}.{v.micro}",
        "" if ok else "install Python 3.11+",
    )
    bits = platform.architecture()[0]
    yield (
        "OK" if bits == "64bit" else "FAIL",
        f"{platform.machine()} {bits}",
        "" if bits == "64bit" else "use 64-bit Raspberry Pi OS: onnxruntime has no 32-bit wheels",
    )


def _models(cfg: Config, models_dir: Path) -> Iterator[Check]:
    named = cfg.llm.fallback if cfg.llm.engine == "openai" else cfg.llm.engine
    try:
        board = board_engine(named, cfg.llm, models_dir)
    except ModelMissing as e:
        msg = str(e)
        yield ("FAIL", msg.split("; fix: ", 1)[0], msg.split("; fix: ", 1)[1])
        board = "none"
    if named == "auto" and board != "none":
        why = "is converted" if board == "onnx" else "is not converted (as on a Pi)"
        yield ("OK", f"mind: llm.engine auto runs {board}: {cfg.llm.model} {why}", "")
    if board == "llamacpp":
        from device.pipeline.llm.llamacpp import INSTALL

        found = importlib.util.find_spec("llama_cpp") is not None
        yield (
            ("OK", "llama-cpp-python installed", "")
            if found
            else ("FAIL", "llama-cpp-python missing", INSTALL)
        )
    llm = {"onnx": [cfg.llm.model], "llamacpp": [cfg.llm.gguf], "none": []}[board]
    ears = cfg.stt.fallback if cfg.stt.engine == "wyoming" else cfg.stt.engine
    stt = [cfg.stt.model or STT_DEFAULT_MODEL[ears]] if ears != "none" else []
    voice = cfg.tts.engine == "piper" or cfg.tts.fallback == "piper"
    ids = ["silero-vad", *stt, *llm, *([cfg.tts.voice] if voice else [])]
    if cfg.wake.engine == "openwakeword":
        ids += [f"oww-{cfg.wake.model}", "oww-melspectrogram", "oww-embedding"]
    elif cfg.wake.engine == "microwakeword":
        ids.append(f"mww-{cfg.wake.model}")
    if cfg.memory.enabled:
        ids += ["minilm-l6-int8", "minilm-l6-tokenizer"]
    if cfg.owner.voice_check != "off":
        ids.append(cfg.owner.voice_model)
    for model_id in ids:
        try:
            yield ("OK", f"model {model_id}: {verify(model_id, models_dir)}", "")
        except (ModelMissing, ModelCorrupt) as e:
            msg = str(e)
            fix = msg.split("; ", 1)[1] if "; " in msg else ""
            yield ("FAIL", msg.split("; ", 1)[0], fix)


def _owner_voice(cfg: Config, state_dir: Path) -> Iterator[Check]:
    from device.persona import voiceprint

    policy = cfg.owner.voice_check
    if policy == "off":
        yield ("OK", "owner's voice: not checked (owner.voice_check off): anyone nearby is the owner", "")
        return
    try:
        vp = voiceprint.load(state_dir, cfg.owner.voice_model)
    except voiceprint.VoiceprintCorrupt as e:
        msg = str(e)
        yield ("FAIL", msg.split("; ", 1)[0], msg.split("; ", 1)[1])
        return
    if vp is None:
        yield (
            "WARN",
            "owner's voice: no voiceprint yet, so anyone nearby hears your memories and letters",
            "os1 voice enroll A.wav B.wav C.wav (or answer the first meeting's questions)",
        )
    else:
        yield ("OK", f"owner's voice: {policy}, voiceprint from {vp.utterances} utterances", "")


def _home_server(cfg: Config) -> Iterator[Check]:
    """With llm.engine openai: can this board reach the server, with its key and its certificate?"""
    if cfg.llm.engine != "openai":
        return
    from device.app.engines import check_server, server
    from device.config.load import ConfigError
    from device.config.secrets import SecretsError
    from device.pipeline.llm.openai import ServerError

    try:
        srv = server(cfg.llm)
        check_server(srv)
    except (ConfigError, SecretsError, ServerError) as e:
        what, _, fix = str(e).partition("; fix: ")
        board = cfg.llm.fallback
        board_fix = f"start it; until then the board answers ({board})"
        fix = fix or (board_fix if board != "none" else "start it, or set llm.fallback: onnx")
        yield ("WARN" if board != "none" else "FAIL", what, fix)
        return
    yield ("OK", f"home server {srv.url}" + (f" ({srv.model})" if srv.model else ""), "")


def _calendar(cfg: Config, state_dir: Path) -> Iterator[Check]:
    """With a calendar: does the source answer, with this password and certificate? (A sync.)"""
    if cfg.calendar.source == "none":
        return
    from device.agenda.events import AgendaError
    from device.agenda.sources import AgendaUnreachable
    from device.app.agenda import build_agenda

    try:
        agenda = build_agenda(cfg.calendar, state_dir)
        assert agenda is not None
        try:
            n = agenda.sync()
        finally:
            agenda.cache.close()
    except AgendaError as e:
        what, _, fix = str(e).partition("; fix: ")
        # Down is a warning (the board's copy answers meanwhile); refused or broken needs the owner.
        yield ("WARN" if isinstance(e, AgendaUnreachable) else "FAIL", f"calendar: {what}", fix or "start it")
        return
    yield ("OK", f"calendar ({cfg.calendar.source}): {n} objects synced", "")


def _mail(cfg: Config, state_dir: Path) -> Iterator[Check]:
    """With an inbox: does the server answer, with this password and certificate? (A sync.)"""
    if cfg.mail.source == "none":
        return
    from device.app.agenda import build_mailbox
    from device.mail.imap import MailError, MailUnreachable

    try:
        mailbox = build_mailbox(cfg.mail, state_dir)
        assert mailbox is not None
        try:
            n = mailbox.sync()
        finally:
            mailbox.cache.close()
    except MailError as e:
        what, _, fix = str(e).partition("; fix: ")
        yield ("WARN" if isinstance(e, MailUnreachable) else "FAIL", f"mail: {what}", fix or "start it")
        return
    yield ("OK", f"mail ({cfg.mail.imap_host}): {n} mails read", "")


def _contacts(cfg: Config, state_dir: Path) -> Iterator[Check]:
    """With CardDAV contacts: does the server answer, with this password and certificate? (A sync.)"""
    if cfg.contacts.source != "carddav":
        return
    from device.app.agenda import build_contacts
    from device.mail.imap import MailError, MailUnreachable

    try:
        n = build_contacts(cfg.contacts, state_dir).sync()
    except MailError as e:
        what, _, fix = str(e).partition("; fix: ")
        yield ("WARN" if isinstance(e, MailUnreachable) else "FAIL", f"contacts: {what}", fix or "start it")
        return
    yield ("OK", f"contacts (carddav): {n} cards synced", "")


def _speech_servers(cfg: Config) -> Iterator[Check]:
    """With stt/tts engine wyoming: does each server answer (a Wyoming describe)?"""
    from device.pipeline.wyoming import WyomingError, describe, parse_uri

    for section, remote, fallback in (
        ("stt", cfg.stt.remote, cfg.stt.fallback),
        ("tts", cfg.tts.remote, cfg.tts.fallback),
    ):
        if getattr(cfg, section).engine != "wyoming":
            continue
        key = f"{section}.remote.uri"
        try:
            parse_uri(remote.uri)
            name = describe(remote.uri)
        except ValueError as e:
            yield ("FAIL", f"{key}: {e}", f"os1 config set {key} tcp://HOST:PORT")
            continue
        except WyomingError as e:
            if fallback == "none":
                yield ("FAIL", f"{section} server: {e}", f"start it, or set {section}.fallback")
            else:
                yield ("WARN", f"{section} server: {e}", f"start it; until then the board's {fallback} works")
            continue
        yield ("OK", f"{section} server {remote.uri} ({name})", "")


def _audio(cfg: Config) -> Iterator[Check]:
    try:
        from device.drivers.audio import AudioDeviceError, list_devices, match_device

        devices = list_devices()
    except Exception as e:  # no PortAudio at all
        yield ("FAIL", f"audio: {e}", "sudo apt-get install portaudio19-dev && pip install pyaudio")
        return
    for kind, key, want in (
        ("input", "inputs", cfg.audio.input_device or cfg.audio.device),
        ("output", "outputs", cfg.audio.output_device or cfg.audio.device),
    ):
        names = [str(d["name"]) for d in devices if int(d[key]) > 0]  # type: ignore[call-overload]
        if not names:
            yield (
                "FAIL",
                f"audio {kind}: no {kind} devices at all",
                "plug in a USB headset or enable the I2S overlay (hardware/README.md)",
            )
            continue
        if not want:
            yield ("OK", f"audio {kind}: system default (devices: {', '.join(names)})", "")
            continue
        try:
            chosen = match_device(devices, want, want_input=kind == "input")
        except AudioDeviceError as e:
            yield (
                "FAIL",
                f"audio {kind}: {str(e).split('; set ')[0]}",
                "set audio.device in the config to part of one of those names",
            )
            continue
        yield ("OK", f"audio {kind}: '{want}' -> {chosen['name']}", "")


def _echo_canceller(cfg: Config) -> Iterator[Check]:
    """libspeexdsp: without it the canceller is quietly off and only the echo gate keeps the companion
    from hearing itself. It still talks, so WARN, not FAIL."""
    from device.pipeline.aec import EchoCancellerUnavailable, SpeexEchoCanceller

    if not cfg.audio.echo_cancel:
        yield ("OK", "echo canceller: off in the config (audio.echo_cancel)", "")
        return
    try:
        SpeexEchoCanceller()
    except EchoCancellerUnavailable:
        yield (
            "WARN",
            "echo canceller: libspeexdsp is missing, so it is off (echo gating only)",
            "sudo apt install libspeexdsp1",
        )
        return
    yield ("OK", "echo canceller: libspeexdsp", "")


def _disk(state_dir: Path, models_dir: Path) -> Iterator[Check]:
    for label, path in (("state", state_dir), ("models", models_dir)):
        probe = path
        while not probe.exists():
            probe = probe.parent
        free_mb = shutil.disk_usage(probe).free / 1e6
        status = "OK" if free_mb > 500 else ("WARN" if free_mb > 50 else "FAIL")
        yield (
            status,
            f"{label} dir {path}: {free_mb:,.0f} MB free",
            "" if status == "OK" else "free some space: memories and downloads need room",
        )


def _body(cfg: Config) -> Iterator[Check]:
    """The button, LED and camera: present, or why not (each is optional: WARN, not FAIL)."""
    import logging

    from device.app.hardware import auto_camera_backend, build_button, build_indicator

    logging.getLogger("os1.body").setLevel(logging.ERROR)  # the reasons are in our own lines
    for name, part, pin, build in (
        ("button", cfg.button, cfg.button.pin, build_button),
        ("LED", cfg.indicator, cfg.indicator.led_pin, build_indicator),
    ):
        if not getattr(part, "enabled", True):
            yield ("OK", f"{name}: off in the config", "")
            continue
        built = build(part)  # type: ignore[operator]
        if built is None:
            yield ("WARN", f"{name}: GPIO {pin} is not usable here", "on a Pi: pip install -e '.[pi]'")
        else:
            built.close()
            yield ("OK", f"{name}: GPIO {pin}", "")
    backend = cfg.camera.backend if cfg.camera.backend != "auto" else auto_camera_backend(cfg.camera)
    if backend == "none":
        yield (
            "WARN",
            "camera: none found",
            "sudo apt install python3-picamera2, or set camera.backend / camera.path",
        )
    else:
        yield ("OK", f"camera: {backend}", "")


def _cpu() -> Iterator[Check]:
    n = os.cpu_count() or 1
    load = os.getloadavg()[0]
    yield (
        "OK" if n >= 2 else "WARN",
        f"CPU: {n} cores, load {load:.2f}",
        "" if n >= 2 else "one core is slow for the LLM: use a Pi 4/5 or a home server",
    )
    from device.drivers.board import cpu_temp_c

    c = cpu_temp_c()
    if c is not None:
        yield (
            "OK" if c < 75 else "WARN",
            f"CPU temperature {c:.0f} °C",
            "" if c < 75 else "add a heatsink or fan",
        )


def run(cfg: Config, state_dir: Path, models_dir: Path) -> int:
    failed = 0
    checks = (
        _python(),
        _audio(cfg),
        _echo_canceller(cfg),
        _models(cfg, models_dir),
        _owner_voice(cfg, state_dir),
        _home_server(cfg),
        _speech_servers(cfg),
        _calendar(cfg, state_dir),
        _mail(cfg, state_dir),
        _contacts(cfg, state_dir),
        _body(cfg),
        _disk(state_dir, models_dir),
        _cpu(),
    )
    for check in checks:
        for status, what, fix in check:
            print(f"{status:4} {what}" + (f"  -> fix: {fix}" if fix else ""))
            failed += status == "FAIL"
    return 1 if failed else 0


def register(sub: Any) -> list[str]:
    sub.add_parser("doctor", help="check Python, audio devices, models, disk and CPU")
    return ["doctor"]


def dispatch(args: argparse.Namespace) -> int:
    cfg, _source = configuration.load(args.config)
    return run(cfg, paths.dirs(cfg).state, paths.dirs(cfg).models)
