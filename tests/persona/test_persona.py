"""The persona: config fields, the system prompt, config-vs-profile precedence, the persona log,
the profile store and `os1 persona`. No models are loaded here."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from device.app.engines import persona as config_persona
from device.config.load import ConfigError, parse
from device.config.schema import Config
from device.persona.changes import PersonaLog, current
from device.persona.persona import Persona, resolve, voice_id
from device.persona.profile import Profile, ProfileStore
from tests.conftest import run_os1

pytestmark = pytest.mark.models


def state(tmp_path: Path) -> Path:
    return Path(os.environ["OS1_STATE_DIR"])


def test_default_prompt_is_short_and_filled_in() -> None:
    prompt = config_persona(Config()).system_prompt()
    assert "{" not in prompt
    assert prompt.startswith("You are Samantha")
    assert "short, direct answers" in prompt
    assert len(prompt.split()) < 40  # every token is prefilled on a Pi


def test_style_fields_change_the_prompt() -> None:
    cfg = parse(
        "persona:\n  warmth: low\n  humour: high\n  length: medium\n  language: de\n"
        "  system_prompt: 'You are {name}. {style}'\n"
    )
    prompt = config_persona(cfg).system_prompt()
    assert "plain-spoken" in prompt and "playful" in prompt
    assert "two to four" in prompt and "German" in prompt
    default = config_persona(parse("persona:\n  language: de\n")).system_prompt()
    assert "German" in default  # the default prompt keeps the language


def test_old_style_template_still_works() -> None:
    p = Persona("Ava", "Theo", "You are {name}, talking with {owner}. {unknown} stays.")
    assert p.system_prompt() == "You are Ava, talking with Theo. {unknown} stays."


@pytest.mark.parametrize(
    "text, key",
    [
        ("persona:\n  warmth: scorching\n", "persona.warmth"),
        ("persona:\n  length: epic\n", "persona.length"),
        ("persona:\n  language: English\n", "persona.language"),
        ("persona:\n  onboarding: maybe\n", "persona.onboarding"),
    ],
)
def test_bad_persona_values_name_the_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse(text, "my.yaml")


def test_voice_persona_overrides_tts_only_when_set() -> None:
    assert voice_id(Config()) == "en_US-joe-medium"
    assert voice_id(parse("tts:\n  voice: en_GB-alan-low\n")) == "en_GB-alan-low"
    cfg = parse("tts:\n  voice: en_GB-alan-low\npersona:\n  voice: en_US-amy-low\n")
    assert voice_id(cfg) == "en_US-amy-low"


def test_profile_fills_what_config_leaves_at_default_and_config_wins_otherwise() -> None:
    profile = Profile(owner_name="Theodore", companion_name="Ava", length="medium", wishes="company")
    p, sources = resolve(Config().persona, profile)
    assert (p.owner_name, p.name, p.length, p.wishes) == ("Theodore", "Ava", "medium", "company")
    assert sources["name"] == "profile" and sources["energy"] == "default"
    cfg = parse("persona:\n  name: Joi\n  owner_name: Theo\n")
    p, sources = resolve(cfg.persona, profile)
    assert (p.name, p.owner_name, p.length) == ("Joi", "Theo", "medium")
    assert sources["name"] == "config" and sources["length"] == "profile"
    assert "Theo wants: company." in p.system_prompt()


def test_persona_log_records_only_changes(tmp_path: Path) -> None:
    sd = state(tmp_path)
    log = PersonaLog(sd)
    current(Config(), sd, source="start")
    current(Config(), sd, source="start")  # the same persona: nothing new
    assert len(log.entries()) == 1
    current(parse("persona:\n  name: Ava\n"), sd, source="reload")
    entries = log.entries()
    assert len(entries) == 2
    assert entries[1]["source"] == "reload"
    assert entries[1]["changes"] == {"name": ["Samantha", "Ava"]}
    with log.path.open("a") as f:
        f.write('{"time": "torn by a power cu')  # a half-written last line is skipped
    assert len(log.entries()) == 2
    assert current(parse("persona:\n  name: Ava\n"), sd, source="start").name == "Ava"
    assert len(log.entries()) == 2


def test_profile_is_saved_atomically_and_a_damaged_one_is_set_aside(tmp_path: Path) -> None:
    store = ProfileStore(state(tmp_path))
    store.save(Profile(owner_name="Theodore", answered=["owner_name"]))
    assert store.load().owner_name == "Theodore"
    assert [p.name for p in store.path.parent.iterdir()] == ["profile.json"]  # no temp files left
    store.path.write_text('{"owner_name": "Theo')
    assert store.load() == Profile()
    assert store.path.with_name("profile.json.corrupt").read_text() == '{"owner_name": "Theo'
    store.path.write_text(json.dumps({"owner_name": "Theo", "from_a_newer_version": 1}))
    assert store.load().owner_name == "Theo"


def test_cli_show_history_reset(tmp_path: Path) -> None:
    sd = state(tmp_path)
    r = run_os1("persona", "show")
    assert r.returncode == 0, r.stderr
    assert "Samantha" in r.stdout and "will run at next start (0 of 5" in r.stdout
    assert "You are Samantha" in r.stdout

    ProfileStore(sd).save(Profile(owner_name="Theodore", answered=["owner_name"]))
    current(Config(), sd, source="start")
    r = run_os1("persona", "show")
    assert "Theodore  (profile)" in r.stdout and "1 of 5" in r.stdout

    r = run_os1("persona", "reset")  # not a terminal: it says what it would delete and stops
    assert r.returncode == 2 and r.stdout == ""
    assert "profile.json" in r.stderr and "--yes" in r.stderr and len(r.stderr.splitlines()) == 1
    assert ProfileStore(sd).exists()

    r = run_os1("persona", "reset", "--yes")
    assert r.returncode == 0, r.stderr
    assert not ProfileStore(sd).exists()
    r = run_os1("persona", "history")
    assert r.returncode == 0
    assert "reset" in r.stdout and "owner_name: 'Theodore' -> ''" in r.stdout


def test_cli_bad_config_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("persona:\n  warmth: 11\n")
    r = run_os1("--config", str(bad), "persona", "show")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "persona.warmth" in r.stderr
