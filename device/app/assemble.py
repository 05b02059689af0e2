"""Putting the companion together: the one place where hooks on the voice loop are set.

loop = make_loop(cfg, engines, earpiece, on_turn, companion)     # engines, persona, intents, memory
attach_body(loop, companion, cfg, audio=..., button=..., indicator=...)   # the daemon's hardware
reconfigure(loop, companion, new_cfg, keys, ...)                 # a live config reload
feed_frames(loop, microphone, stop, wait_for_reply)              # run it
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from device.app.companion import Companion, build_companion
from device.app.engines import Engines, build_aec, build_voice, build_wake, loop_settings, wake_phrase
from device.app.owner import learn_from_first_meeting
from device.app.voice_settings import LiveSettings
from device.config import paths
from device.config.schema import Config
from device.memory import FULL_NOTICE, Memory, MemoryFull
from device.persona.persona import Persona
from device.pipeline.audio import FRAME_MS, FRAME_SAMPLES
from device.pipeline.events import Message, State, Turn
from device.pipeline.loop import LoopParts, VoiceLoop, hearing_lost
from device.pipeline.stages import AudioSink
from device.pipeline.voice_check import OTHER, UNSURE

log = logging.getLogger("os1.assemble")


def make_loop(
    cfg: Config,
    engines: Engines,
    sink: AudioSink,
    on_turn: Callable[[Turn], None],
    companion: Companion | None = None,
    config_file: Path | None = None,
    on_setting: Callable[[Config], None] | None = None,
) -> VoiceLoop:
    """A voice loop on loaded engines, with the companion around it (one is built from the config if
    not given): the persona's prompt and toned voice, the intent layer before the LLM, memory recall
    for each request and remembering after it. Each loop gets its own echo canceller: it learns one
    echo path. Settings changed by voice are applied live, saved in `config_file` (None: not saved)
    and passed to `on_setting`."""
    companion = companion or build_companion(cfg, engines.dialogue, engines.tts)
    prompt = companion.persona.persona.system_prompt()
    if engines.dialogue.capabilities.prime:  # the persona's prompt is in the KV cache before the first turn
        engines.dialogue.prime([Message("system", prompt)])
    parts = LoopParts(
        vad=engines.vad,
        stt=engines.stt,
        dialogue=engines.dialogue,
        tts=companion.persona.tts,  # each sentence in its tone
        sink=sink,
        wake=engines.wake,
        system_prompt=prompt,
        wake_phrase=wake_phrase(cfg.wake),
        aec=build_aec(cfg.audio.echo_cancel),
        turn_model=engines.turn,
        intents=companion.intents.router,
        context=companion.memory.context_for if companion.memory is not None else None,
        steer=companion.steer,
        voice=companion.voice,
    )
    loop = VoiceLoop(parts, loop_settings(cfg))
    if companion.voice is not None and companion.voice.voiceprint is None and companion.persona.onboarding:
        state = companion.persona.state_dir
        learn = learn_from_first_meeting(
            companion.voice, companion.persona, state, cfg.owner.voice_model, loop.announce
        )
        companion.after_turn.append(learn)

    # The loop's prompt and the letters' signature follow the persona (an onboarding answer or a reload
    # changes it): the letters intent was given the owner's name when it was built.
    def follow(persona: Persona) -> None:
        loop.reconfigure(system_prompt=persona.system_prompt())
        companion.intents.letters.owner = persona.owner_name

    companion.persona.on_change = follow
    loop.on_turn = after_each_turn(loop.announce, companion, on_turn)
    models = paths.dirs(cfg).models

    def apply(new: Config, keys: list[str]) -> None:
        reconfigure(loop, companion, new, keys, sink, models)

    companion.intents.settings.controls = LiveSettings(loop, cfg, apply, config_file, on_setting)
    return loop


def after_each_turn(
    announce: Callable[[str], None], companion: Companion, on_turn: Callable[[Turn], None]
) -> Callable[[Turn], None]:
    """The caller's `on_turn`, then remembering, the companion's other after-turn steps and the nudge
    (said with `announce`)."""
    steps = list(companion.after_turn)
    if companion.memory is not None:
        steps.insert(0, _remember(announce, companion.memory))

    def after(turn: Turn) -> None:
        on_turn(turn)
        for step in steps:
            try:
                step(turn)
            except Exception:  # remembering or nudging must never end the conversation
                log.exception("after-turn step %s failed", getattr(step, "__name__", step))
        if turn.answered_by != "announce":
            nudge = companion.intents.nudge.observe()
            if nudge:
                announce(nudge)

    return after


def _remember(announce: Callable[[str], None], memory: Memory) -> Callable[[Turn], None]:
    def remember(turn: Turn) -> None:
        if turn.answered_by == "announce" or not turn.transcript:
            return
        if turn.speaker in (OTHER, UNSURE):  # another voice's words are never the owner's memories
            log.info("not remembered: not the owner's voice")
            return
        try:
            stored = memory.after_turn(turn.transcript, turn.reply)
        except MemoryFull:  # already logged; the conversation goes on
            announce(FULL_NOTICE)
            return
        if stored:
            log.info("remembered: %s", "; ".join(stored))

    return remember


def attach_body(
    loop: VoiceLoop,
    companion: Companion,
    cfg: Config,
    audio: object | None = None,
    button: object | None = None,
    indicator: object | None = None,
) -> None:
    """The daemon's hardware on the loop: the LED shows its state, the button taps, double-taps and
    long-presses, a microphone or earpiece that comes back is greeted, and reminders are spoken."""
    if indicator is not None:
        loop.on_state = indicator.show  # type: ignore[attr-defined]
    if audio is not None:
        cut_off: list[bool] = []  # a request was dropped half heard when the microphone went

        def lost(what: str) -> None:
            if what == "microphone" and hearing_lost(loop):
                cut_off.append(True)

        def back(_what: str) -> None:
            missed = " I missed what you were saying; say it again?" if cut_off else ""
            cut_off.clear()
            loop.announce("I'm back." + missed)

        audio.on_lost, audio.on_reconnect = lost, back  # type: ignore[attr-defined]
    scheduler = companion.intents.scheduler
    scheduler.start(loop.announce, is_muted=lambda: loop.muted)
    if companion.agenda is not None:  # synced in the background; heads-ups wait for a pause, and mute
        companion.agenda.start(loop.announce, cfg.calendar.sync_min * 60, cfg.calendar.heads_up_min)
    if companion.mailbox is not None:
        companion.mailbox.start(cfg.mail.sync_min * 60)
    if companion.contacts is not None:
        companion.contacts.start(cfg.contacts.sync_min * 60)  # only with a CardDAV server

    def on_tap() -> None:  # a tap just after a reminder snoozes it; otherwise attention or interrupt
        if scheduler.snooze_last() is not None:
            loop.announce(f"Okay, I'll remind you again in {cfg.reminders.snooze_min} minutes.")
        else:
            loop.tap()

    if button is not None:
        button.on_tap = on_tap  # type: ignore[attr-defined]
        button.on_double_tap = lambda: repeat_last(loop)  # type: ignore[attr-defined]
        button.on_long_press = lambda: loop.set_muted(not loop.muted)  # type: ignore[attr-defined]


def repeat_last(loop: VoiceLoop) -> None:
    """Say the last reply again (a double tap)."""
    loop.announce(loop.conversation.last_reply or "I haven't said anything yet.")


def reconfigure(
    loop: VoiceLoop,
    companion: Companion,
    cfg: Config,
    keys: list[str],
    earpiece: object,
    models_dir: Path,
) -> None:
    """Apply changed live keys (config.edit.LIVE_KEYS) to the running companion, between replies."""
    loop.wait_reply(timeout_s=30)
    if any(k.startswith(("persona.", "tts.")) for k in keys):
        new_voice = any(k.startswith("tts.") or k == "persona.voice" for k in keys)
        voice = build_voice(cfg, models_dir) if new_voice else None
        companion.persona.reload(cfg, voice)  # the loop's prompt follows through on_change
    if "audio.volume" in keys:
        earpiece.volume = cfg.audio.volume  # type: ignore[attr-defined]
    if any(k.startswith("vad.") for k in keys):
        loop.update_settings(loop_settings(cfg))
    if any(k.startswith("wake.") for k in keys):
        loop.reconfigure(wake=build_wake(cfg.wake, models_dir), wake_phrase=wake_phrase(cfg.wake))
    log.info("applied live: %s", ", ".join(keys))


def warm_loop(loop: VoiceLoop, seconds: float = 0.5) -> None:
    """Half a second of silence through the loop before the microphone's first frame: the first runs
    of the always-on stages (VAD, wake word, echo gate) build their graphs, and on a board held to a
    Pi 4's CPU that put the loop so far behind that the first wake word after READY=1 was dropped."""
    t0 = loop.clock()
    for i in range(int(seconds * 1000 / FRAME_MS)):
        loop.feed(np.zeros(FRAME_SAMPLES, np.int16), t0 + i * FRAME_MS / 1000)


def feed_frames(
    loop: VoiceLoop, mic: Iterable[tuple[np.ndarray, float]], stop: threading.Event, wait_for_reply: bool
) -> None:
    """Feed a microphone's (frame, time) pairs into the loop until it ends or `stop` is set. With
    `wait_for_reply` (a recording fed faster than real time) each reply is waited for, so the
    recording is not skipped over while the companion talks."""
    for frame, t in mic:
        if stop.is_set():
            return
        loop.feed(frame, t)
        if wait_for_reply:  # not real time: the end-of-turn model's verdict is in by the next frame
            loop.wait_turn_check()
        if wait_for_reply and loop.state in (State.THINKING, State.SPEAKING):
            loop.wait_reply()
