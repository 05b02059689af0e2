"""One call that builds every intent from plain values (the runner maps the config onto these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from device.intents.care import CareIntent, ConversationNudge
from device.intents.clock import ClockIntent, Now, system_now
from device.intents.letters import Generate, LettersIntent, LetterStore
from device.intents.maths import MathsIntent
from device.intents.private import NOT_YOURS, OwnerOnly
from device.intents.reminders import ReminderScheduler, RemindersIntent, ReminderStore
from device.intents.router import Handler, IntentRouter
from device.intents.settings import SettingsIntent
from device.intents.units import convert


@dataclass
class Intents:
    router: IntentRouter
    scheduler: ReminderScheduler
    letters: LettersIntent
    nudge: ConversationNudge
    settings: SettingsIntent
    """Mute, volume and speed by voice; its controls are set once a voice loop runs (assemble.py)."""


def build_intents(
    state_dir: Path,
    generate: Generate,
    helpline: str,
    owner: str = "",
    snooze_min: int = 10,
    tap_snooze_window_s: float = 60.0,
    letter_max_words: int = 180,
    nudge_after_min: int = 0,
    nudge_people: Sequence[str] = (),
    other_handlers: Sequence[Handler] = (),
    now: Now = system_now,
) -> Intents:
    """Care first (crisis words win over everything), then the other helpers' handlers (onboarding,
    names, memory, camera), then the clock, sums and conversions, settings by voice, reminders and
    letters. Settings, reminders and letters answer the owner's voice only (intents/private.py)."""
    scheduler = ReminderScheduler(
        ReminderStore(Path(state_dir) / "reminders.db"),
        now=now,
        snooze_minutes=snooze_min,
        tap_window_s=tap_snooze_window_s,
    )
    letters = LettersIntent(
        LetterStore(Path(state_dir) / "letters"), generate, owner=owner, now=now, max_words=letter_max_words
    )
    settings = SettingsIntent()
    handlers: list[Handler] = [
        CareIntent(helpline),
        *other_handlers,
        ClockIntent(now),
        MathsIntent(convert),
        OwnerOnly(settings, for_other=NOT_YOURS),
        OwnerOnly(RemindersIntent(scheduler)),
        OwnerOnly(letters),
    ]
    nudge = ConversationNudge(nudge_after_min, nudge_people)
    return Intents(IntentRouter(handlers), scheduler, letters, nudge, settings)
