"""Everything around the engines that makes it a companion: the persona (its prompt, its toned voice,
the first-meeting onboarding) and the intent layer (care, clock, reminders, letters, …), built from
config and the state directory, and wired into a voice loop."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.app.engines import Engines
from device.config import paths
from device.config.schema import Config
from device.drivers.camera import Camera, CameraError
from device.intents.assemble import Intents, build_intents
from device.intents.camera import CameraIntent
from device.intents.letters import dialogue_generate
from device.intents.router import Claimed, Handler
from device.memory import FULL_NOTICE, Memory, MemoryFull, StoreError
from device.models import ModelMissing
from device.persona.runtime import PersonaRuntime
from device.pipeline.events import Turn
from device.pipeline.loop import VoiceLoop

log = logging.getLogger("os1.companion")


@dataclass
class Companion:
    persona: PersonaRuntime
    intents: Intents
    memory: Memory | None = None
    after_turn: list[Callable[[Turn], None]] = field(default_factory=list)

    def wire(self, loop: VoiceLoop) -> None:
        """Put the intent layer before the loop's LLM and run the after-turn steps on each turn. The
        loop's prompt follows the persona (onboarding answers change it)."""
        self.persona.attach(loop)
        loop.intents = self.intents.router
        steps = list(self.after_turn)
        if self.memory is not None:
            loop.context = self.memory.context_for
            steps.insert(0, self._remember(loop, self.memory))
        previous = loop.on_turn

        def on_turn(turn: Turn) -> None:
            if previous is not None:
                previous(turn)
            for step in steps:
                try:
                    step(turn)
                except Exception:  # remembering or nudging must never end the conversation
                    log.exception("after-turn step %s failed", getattr(step, "__name__", step))
            if turn.answered_by != "announce":
                nudge = self.intents.nudge.observe()
                if nudge:
                    loop.announce(nudge)

        loop.on_turn = on_turn

    @staticmethod
    def _remember(loop: VoiceLoop, memory: Memory) -> Callable[[Turn], None]:
        def remember(turn: Turn) -> None:
            if turn.answered_by == "announce" or not turn.transcript:
                return
            try:
                stored = memory.after_turn(turn.transcript, turn.reply)
            except MemoryFull:  # already logged; the conversation goes on
                loop.announce(FULL_NOTICE)
                return
            if stored:
                log.info("remembered: %s", "; ".join(stored))

        return remember

    def close(self) -> None:
        self.intents.scheduler.stop()
        if self.memory is not None:
            self.memory.close()  # saves the summary of the conversation in progress


def build_companion(
    cfg: Config,
    engines: Engines,
    state_dir: Path | None = None,
    handlers: Sequence[Handler] = (),
    onboarding: bool = False,
    on_capture: Callable[[bool], None] | None = None,
) -> Companion:
    """`onboarding`: run the first-meeting questions if they are due (the live daemon; a recording
    or `os1 demo` is answered as it is). `on_capture` brackets each picture (the status LED)."""
    state = state_dir or paths.dirs(cfg).state
    if not onboarding and cfg.persona.onboarding:
        cfg = cfg.model_copy(deep=True)
        cfg.persona.onboarding = False
    persona = PersonaRuntime(cfg, state, engines.tts)
    memory = open_memory(cfg, state)
    intents = build_intents(
        state,
        dialogue_generate(engines.dialogue, max_new_tokens=cfg.letters.max_new_tokens),
        helpline=cfg.care.helpline,
        owner=cfg.persona.owner_name,
        snooze_min=cfg.reminders.snooze_min,
        tap_snooze_window_s=cfg.reminders.tap_snooze_window_s,
        letter_max_words=cfg.letters.max_words,
        nudge_after_min=cfg.care.nudge_after_min,
        nudge_people=cfg.care.nudge_people,
        # The onboarding's questions come before everything but care: its answers are not commands.
        other_handlers=[
            Claimed(persona.intent, persona.intent_claims),
            *([Claimed(memory.intent, memory.intent_claims)] if memory else []),
            CameraIntent(camera_on_demand(cfg), on_capture=on_capture),
            *handlers,
        ],
    )
    return Companion(persona, intents, memory)


def camera_on_demand(cfg: Config) -> Callable[[], np.ndarray]:
    """A capture function that finds the camera the first time it is asked to look, so a run that
    never looks does not probe for one. No camera: CameraError, and the owner hears "I can't see"."""
    from device.app.hardware import build_camera

    found: list[Camera | None] = []

    def capture() -> np.ndarray:
        if not found:
            found.append(build_camera(cfg.camera))
        camera = found[0]
        if camera is None:
            raise CameraError(
                "no camera found; connect one, or set camera.backend (picamera2, opencv or file) "
                "and camera.path"
            )
        return camera.capture()

    return capture


def open_memory(cfg: Config, state_dir: Path) -> Memory | None:
    """The long-term memory, or None (off in config, or it cannot open: the companion still talks)."""
    if not cfg.memory.enabled:
        return None
    try:
        return Memory.open(state_dir, cfg.memory, paths.dirs(cfg).models)
    except (StoreError, ModelMissing) as e:
        log.warning("memory is off: %s", e)
        return None
