"""What the owner told the companion during onboarding, kept in `<state_dir>/profile.json`.

Written atomically (temp file, fsync, rename), so a power cut leaves the old file or the new one.
A file that cannot be read is moved aside (profile.json.corrupt), never silently overwritten.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from device.atomic import write_text_atomic

log = logging.getLogger("os1.persona")

PROFILE_FILE = "profile.json"


@dataclass
class Profile:
    owner_name: str = ""
    owner_pronunciation: str = ""
    companion_name: str = ""
    wishes: str = ""
    length: str = ""  # short | medium, "" = not chosen
    energy: str = ""  # low | medium | high, "" = not chosen
    answered: list[str] = field(default_factory=list)  # onboarding steps done, so a restart resumes
    done: bool = False  # onboarding finished (or skipped)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Profile:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # unknown keys: a newer version's

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ProfileStore:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / PROFILE_FILE

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> Profile:
        """The saved profile, or an empty one. A damaged file is set aside and reported in the log."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            return Profile.from_json(data)
        except FileNotFoundError:
            return Profile()
        except (ValueError, TypeError) as e:
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            log.warning("%s could not be read (%s); moved to %s and starting afresh", self.path, e, aside)
            return Profile()

    def save(self, profile: Profile) -> None:
        write_text_atomic(
            self.path, json.dumps(profile.to_json(), indent=2, ensure_ascii=False) + "\n", mode=0o600
        )

    def reset(self) -> bool:
        """Forget the profile and the onboarding progress. True if there was something to delete."""
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False
