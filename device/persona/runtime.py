"""The persona in a running companion: the effective persona, the toned voice and the onboarding,
kept in step when an onboarding answer or a config reload changes who it is.

    runtime = PersonaRuntime(cfg, state_dir, engines.tts)
    runtime.on_change = lambda persona: ...          # the loop's prompt follows (app/assemble.py)
    router handlers: Claimed(runtime.intent, runtime.intent_claims)   # first in the intent chain
    if (question := runtime.opening()) is not None:
        loop.announce(question)

It is changed in place (`reload`), never replaced, so every holder (the loop's voice, the intent
router, the companion) sees the same persona.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from device.config.schema import Config
from device.persona.changes import current
from device.persona.onboarding import Onboarding
from device.persona.persona import Persona
from device.persona.profile import Profile, ProfileStore
from device.persona.tone import TonedTTS
from device.pipeline.tts import VoiceTTS


class PersonaRuntime:
    def __init__(self, cfg: Config, state_dir: Path, tts: VoiceTTS | None, source: str = "start"):
        """`tts` None: a companion that only types (os1 ask / chat); nothing is synthesized."""
        self.state_dir = Path(state_dir)
        self.on_change: Callable[[Persona], None] | None = None
        """Called with the new persona whenever it changes (the loop's system prompt follows)."""
        self.cfg = cfg
        self.persona: Persona = current(cfg, self.state_dir, source=source)
        self.tts = TonedTTS(tts, self.persona)
        self.onboarding: Onboarding | None = self._onboarding(cfg)

    def _onboarding(self, cfg: Config) -> Onboarding | None:
        if not cfg.persona.onboarding:
            return None
        return Onboarding(ProfileStore(self.state_dir), cfg.persona, on_change=self._changed)

    def reload(self, cfg: Config, tts: VoiceTTS | None = None) -> None:
        """A new config (a live reload of persona.* or tts.*), applied in place; `tts`: a new voice."""
        self.cfg = cfg
        if tts is not None:
            self.tts.inner = tts
        if bool(cfg.persona.onboarding) != (self.onboarding is not None):
            self.onboarding = self._onboarding(cfg)
        self._set(current(cfg, self.state_dir, source="reload"))

    def opening(self) -> str | None:
        """The onboarding's first question, to announce at start; None when there is no setup."""
        return self.onboarding.opening() if self.onboarding is not None else None

    def intent(self, text: str) -> str | None:
        """The intent hook: the onboarding's reply while it runs, else None (the LLM answers)."""
        return self.onboarding.handle(text) if self.onboarding is not None else None

    def intent_claims(self, _text: str) -> bool:
        """While the first meeting runs, every answer is the onboarding's."""
        return self.onboarding is not None and self.onboarding.active

    def _changed(self, _profile: Profile) -> None:
        self._set(current(self.cfg, self.state_dir, source="onboarding"))

    def _set(self, persona: Persona) -> None:
        self.persona = persona
        self.tts.persona = persona
        if self.on_change is not None:
            self.on_change(persona)
