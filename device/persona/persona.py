"""Who the companion is: the persona's fields and its system prompt, from config and the profile.

Precedence for a field the owner can choose during onboarding (name, owner_name,
owner_pronunciation, length, energy): the config value if it differs from the built-in default
(someone set it on purpose), else what the owner said during onboarding, else the default.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from device.persona.profile import Profile

if TYPE_CHECKING:
    from device.config.schema import Config, PersonaConfig

DEFAULT_TEMPLATE = "You are {name}. Answer in one or two short spoken sentences."

_WARMTH = {"high": "warm", "medium": "friendly", "low": "plain-spoken"}
_HUMOUR = {"high": "playful and funny", "medium": "a little playful", "low": ""}
_ENERGY = {"high": "lively", "medium": "", "low": "calm"}
_LENGTH = {
    "short": "Answer in one or two short spoken sentences.",
    "medium": "Answer in two to four spoken sentences.",
}
_LANGUAGES = {"de": "German", "es": "Spanish", "fr": "French", "it": "Italian", "nl": "Dutch"}

# Profile field -> persona field, for the fields onboarding can set.
_FROM_PROFILE = {
    "companion_name": "name",
    "owner_name": "owner_name",
    "owner_pronunciation": "owner_pronunciation",
    "length": "length",
    "energy": "energy",
}


@dataclass(frozen=True)
class Persona:
    name: str = "Samantha"
    owner_name: str = ""
    prompt_template: str = DEFAULT_TEMPLATE
    pronouns: str = "she/her"
    owner_pronunciation: str = ""
    wishes: str = ""
    warmth: str = "high"
    humour: str = "medium"
    energy: str = "medium"
    length: str = "short"
    language: str = "en"

    def style(self) -> str:
        """One or two sentences from warmth, humour, energy, length and language."""
        words = [w for w in (_WARMTH[self.warmth], _ENERGY[self.energy], _HUMOUR[self.humour]) if w]
        be = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        out = f"Be {be}. {_LENGTH[self.length]}"
        if self.language != "en":
            out += f" Always answer in {_LANGUAGES.get(self.language, self.language)}."
        return out

    def system_prompt(self) -> str:
        """The template with its {fields} filled in; an unknown {field} is left as written."""
        owner = self.owner_name or "your owner"
        language = _LANGUAGES.get(self.language, self.language)
        values = {
            "language": f"Always answer in {language}." if self.language != "en" else "",
            "name": self.name,
            "owner": owner,
            "pronouns": self.pronouns,
            "style": self.style(),
            "wishes": f"{owner} wants: {self.wishes.rstrip('.')}." if self.wishes else "",
        }
        text = self.prompt_template
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return re.sub(r"\s{2,}", " ", text).strip()

    def fields(self) -> dict[str, str]:
        """Every field, for the persona log and `os1 persona show`."""
        return {k: str(v) for k, v in asdict(self).items()}


def resolve(cfg: PersonaConfig, profile: Profile | None = None) -> tuple[Persona, dict[str, str]]:
    """The effective persona, and where each onboarding field came from (config/profile/default)."""
    from device.config.schema import PersonaConfig

    default = PersonaConfig()
    values: dict[str, str] = {
        "name": cfg.name,
        "owner_name": cfg.owner_name,
        "owner_pronunciation": cfg.owner_pronunciation,
        "length": cfg.length,
        "energy": cfg.energy,
    }
    sources: dict[str, str] = {}
    for key in values:
        sources[key] = "config" if values[key] != getattr(default, key) else "default"
    for pkey, key in _FROM_PROFILE.items():
        chosen = getattr(profile, pkey, "") if profile is not None else ""
        if chosen and sources[key] == "default":
            values[key], sources[key] = chosen, "profile"
    wishes = profile.wishes if profile is not None else ""
    sources["wishes"] = "profile" if wishes else "default"
    persona = Persona(
        name=values["name"],
        owner_name=values["owner_name"],
        prompt_template=cfg.system_prompt,
        pronouns=cfg.pronouns,
        owner_pronunciation=values["owner_pronunciation"],
        wishes=wishes,
        warmth=cfg.warmth,
        humour=cfg.humour,
        energy=values["energy"],
        length=values["length"],
        language=cfg.language,
    )
    return persona, sources


def voice_id(cfg: Config) -> str:
    """The Piper voice: persona.voice when set, else tts.voice (where it has always been)."""
    return cfg.persona.voice or cfg.tts.voice
