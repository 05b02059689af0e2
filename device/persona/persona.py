"""Who the companion is: the persona's system prompt, built from config."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    name: str = "Samantha"
    owner_name: str = ""
    prompt_template: str = "You are {name}. Answer in one or two short spoken sentences."

    def system_prompt(self) -> str:
        """The template with {name} and {owner} filled in; an unknown {field} is left as written."""
        owner = self.owner_name or "your owner"
        return self.prompt_template.replace("{name}", self.name).replace("{owner}", owner)
