"""The pipeline's settings and the config's defaults are one set of numbers: the schema takes them from
`pipeline/settings.py`, and what the engines are built with from a default config is the same."""

from __future__ import annotations

from dataclasses import fields

from device.app.engines import loop_settings
from device.config.schema import Config
from device.pipeline.settings import DialogueSettings, LoopSettings


def test_a_default_config_builds_the_default_loop_settings() -> None:
    assert loop_settings(Config()) == LoopSettings()


def test_the_llm_section_defaults_are_the_dialogue_defaults() -> None:
    llm, dialogue = Config().llm, DialogueSettings()
    for name in ("max_new_tokens", "max_sentences", "repetition_penalty"):
        assert getattr(llm, name) == getattr(dialogue, name), name


def test_settings_are_frozen() -> None:
    import dataclasses

    import pytest

    for settings in (LoopSettings(), DialogueSettings()):
        name = fields(settings)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(settings, name, 1)
