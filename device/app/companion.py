"""Everything around the engines that makes it a companion: the persona (its prompt, its toned voice,
the first-meeting onboarding), the memory and the intent layer (care, clock, reminders, letters, …),
built from config and the state directory."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.agenda.agenda import Agenda
from device.agenda.events import AgendaError
from device.app.agenda import build_agenda, build_contacts, build_mailbox, build_sender
from device.app.owner import build_owner_voice
from device.config import paths
from device.config.schema import Config
from device.drivers.camera import Camera, CameraError
from device.intents.assemble import Intents, build_intents
from device.intents.calendar import CalendarIntent
from device.intents.camera import CameraIntent
from device.intents.identity import IdentityIntent
from device.intents.letters import Letter, dialogue_generate
from device.intents.mail import MailIntent
from device.intents.private import OwnerOnly
from device.intents.router import Claimed, Handler
from device.mail.contacts import ContactBook
from device.mail.imap import MailError
from device.mail.mailbox import Mailbox
from device.memory import Memory, StoreError
from device.models.catalog import ModelMissing
from device.persona.mood import MoodReader
from device.persona.runtime import PersonaRuntime
from device.persona.steer import Steering
from device.pipeline.events import Turn
from device.pipeline.stages import Dialogue
from device.pipeline.tts import VoiceTTS
from device.pipeline.voice_check import OwnerVoice

log = logging.getLogger("os1.companion")


@dataclass
class Companion:
    """Who it is and what it knows, around the engines (wired into a loop by `assemble.make_loop`)."""

    persona: PersonaRuntime
    intents: Intents
    """The intent layer (care, clock, reminders, letters, memory and camera commands) and its router."""
    memory: Memory | None = None
    """Long-term memory; None when it is off or cannot open (the companion still talks)."""
    after_turn: list[Callable[[Turn], None]] = field(default_factory=list)
    """More steps after each turn (remembering is added by the assembly)."""
    steer: Steering | None = None
    """How a reply meets the owner's mood; None when there is no mood reader (memory off)."""
    voice: OwnerVoice | None = None
    """Tells the owner's voice from others (a spoken companion with owner.voice_check on)."""
    agenda: Agenda | None = None
    """The owner's calendar (calendar.source), synced by the daemon; None: no calendar."""
    mailbox: Mailbox | None = None
    """The owner's inbox (mail.source), synced by the daemon; None: no mail."""
    contacts: ContactBook | None = None
    """Where mail addresses come from (with the inbox): the vCard file, and the CardDAV copy."""

    def close(self) -> None:
        self.intents.scheduler.stop()
        if self.agenda is not None:
            self.agenda.stop()
        if self.mailbox is not None:
            self.mailbox.stop()
        if self.contacts is not None:
            self.contacts.stop()
        if self.memory is not None:
            self.memory.close()  # saves the summary of the conversation in progress


def build_companion(
    cfg: Config,
    dialogue: Dialogue,
    tts: VoiceTTS | None,
    state_dir: Path | None = None,
    handlers: Sequence[Handler] = (),
    onboarding: bool = False,
    on_capture: Callable[[bool], None] | None = None,
) -> Companion:
    """The companion around a dialogue engine and a voice (None: text only, os1 ask / chat).
    `onboarding`: run the first-meeting questions if they are due (the live daemon; a recording or
    `os1 demo` is answered as it is). `on_capture` brackets each picture (the status LED)."""
    state = state_dir or paths.dirs(cfg).state
    if not onboarding and cfg.persona.onboarding:
        cfg = cfg.model_copy(deep=True)
        cfg.persona.onboarding = False
    persona = PersonaRuntime(cfg, state, tts)
    memory = open_memory(cfg, state)
    identity = IdentityIntent(lambda: persona.persona.name, lambda: owner_name(persona, memory))
    agenda = _open_agenda(cfg, state)
    mailbox = _open_mailbox(cfg, state)
    contacts = _open_contacts(cfg, state) if mailbox is not None else None
    intents = build_intents(
        state,
        dialogue_generate(dialogue, max_new_tokens=cfg.letters.max_new_tokens),
        helpline=cfg.care.helpline,
        owner=persona.persona.owner_name,
        snooze_min=cfg.reminders.snooze_min,
        tap_snooze_window_s=cfg.reminders.tap_snooze_window_s,
        letter_max_words=cfg.letters.max_words,
        nudge_after_min=cfg.care.nudge_after_min,
        nudge_people=cfg.care.nudge_people,
        # The onboarding's questions come before everything but care: its answers are not commands.
        # What reaches the profile or the memories answers the owner's voice only (intents/private.py).
        other_handlers=[
            OwnerOnly(Claimed(persona.intent, persona.intent_claims)),
            identity,
            # The calendar before the memory: "when is my dentist appointment" is the calendar's first.
            *_day_intents(cfg, agenda, mailbox, contacts, lambda who: intents.letters.store.latest(who)),
            # The camera before the memory: "what am I looking at?" reads like a question about the
            # owner ("You haven't told me that yet.", found by the fault suite).
            CameraIntent(camera_on_demand(cfg), on_capture=on_capture),
            *(
                [OwnerOnly(Claimed(memory.intent, memory.intent_claims), read_only_beyond_claims=True)]
                if memory
                else []
            ),
            *handlers,
        ],
    )
    steer = Steering(MoodReader(memory.embedder), persona.tts) if memory is not None else None
    # Typed turns (os1 ask / chat) are the owner's by the socket's peer check: no voice to check.
    voice = build_owner_voice(cfg, state, paths.dirs(cfg).models) if tts is not None else None
    return Companion(
        persona, intents, memory, steer=steer, voice=voice, agenda=agenda, mailbox=mailbox, contacts=contacts
    )


def _day_intents(
    cfg: Config,
    agenda: Agenda | None,
    mailbox: Mailbox | None,
    contacts: ContactBook | None,
    latest_letter: Callable[[str], Letter | None],
) -> list[Handler]:
    """The calendar's and the inbox's intents, for the owner's voice only, where they are set up."""
    out: list[Handler] = []
    if agenda is not None:
        out.append(OwnerOnly(CalendarIntent(agenda), read_only_beyond_claims=True))
    if mailbox is not None:
        book = contacts.contacts if contacts is not None else list
        mail = MailIntent(mailbox, build_sender(cfg.mail), book, latest_letter)
        out.append(OwnerOnly(mail))
    return out


def _open_mailbox(cfg: Config, state: Path) -> Mailbox | None:
    """The inbox, or None (not set up, or set up wrong: logged in one line, and it still talks)."""
    try:
        return build_mailbox(cfg.mail, state)
    except MailError as e:
        log.warning("mail: %s", e)
        return None


def _open_contacts(cfg: Config, state: Path) -> ContactBook:
    """The contacts; with CardDAV set up wrong (logged in one line), the vCard file alone."""
    try:
        return build_contacts(cfg.contacts, state)
    except MailError as e:
        log.warning("contacts: %s", e)
        return build_contacts(cfg.contacts.model_copy(update={"source": "file"}), state)


def _open_agenda(cfg: Config, state: Path) -> Agenda | None:
    """The calendar, or None (not set up, or set up wrong: logged in one line, and it still talks)."""
    try:
        return build_agenda(cfg.calendar, state)
    except AgendaError as e:
        log.warning("calendar: %s", e)
        return None


def owner_name(persona: PersonaRuntime, memory: Memory | None) -> str:
    """The owner's name: from the config or the first meeting, else from what they told the memory."""
    if persona.persona.owner_name:
        return persona.persona.owner_name
    record = memory.store.by_key("me", "name") if memory is not None else None
    if record is not None and record.text.startswith("My name is "):
        return record.text.removeprefix("My name is ").rstrip(".")
    return ""


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
