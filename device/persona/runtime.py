"""The persona in a running companion: the effective persona, the toned voice and the onboarding,
kept in step when an onboarding answer changes who it is.

    runtime = PersonaRuntime(cfg, state_dir, engines.tts)
    loop = VoiceLoop(..., tts=runtime.tts, system_prompt=runtime.persona.system_prompt(),
                     intents=runtime.intent)           # first in the intent chain
    runtime.attach(loop)
    if (question := runtime.opening()) is not None:
        loop.announce(question)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from device.config.schema import Config
from device.persona.changes import current
from device.persona.onboarding import Onboarding
from device.persona.persona import Persona
from device.persona.profile import Profile, ProfileStore
from device.persona.tone import TonedTTS
from device.pipeline.tts import PiperTTS


class PersonaRuntime:
    def __init__(self, cfg: Config, state_dir: Path, tts: PiperTTS, source: str = "start"):
        self.cfg = cfg
        self.state_dir = Path(state_dir)
        self.persona: Persona = current(cfg, self.state_dir, source=source)
        self.tts = TonedTTS(tts, self.persona)
        self.onboarding: Onboarding | None = None
        if cfg.persona.onboarding:
            self.onboarding = Onboarding(ProfileStore(self.state_dir), cfg.persona, on_change=self._changed)
        self._loop: Any = None

    def attach(self, loop: Any) -> None:
        """The loop whose system prompt follows the persona (anything with `system_prompt`)."""
        self._loop = loop

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
        self.persona = current(self.cfg, self.state_dir, source="onboarding")
        self.tts.persona = self.persona
        if self._loop is not None:
            self._loop.system_prompt = self.persona.system_prompt()
