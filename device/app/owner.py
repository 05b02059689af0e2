"""The owner's voice in a running companion: the speaker encoder and voiceprint from the config and
the state dir, and learning the voiceprint from the first meeting's spoken answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from device.config.schema import Config
from device.models.catalog import ModelMissing, resolve
from device.models.convert_voice import ONNX_FILE
from device.persona import voiceprint
from device.persona.runtime import PersonaRuntime
from device.pipeline.events import Turn
from device.pipeline.voice_check import OwnerVoice
from device.pipeline.voiceprint import VoiceEncoder, VoiceprintError

log = logging.getLogger("os1.owner")


def load_encoder(cfg: Config, models_dir: Path) -> VoiceEncoder:
    """The speaker encoder, or ModelMissing / VoiceprintError naming the fix."""
    return VoiceEncoder(resolve(cfg.owner.voice_model, models_dir) / ONNX_FILE)


def build_owner_voice(cfg: Config, state_dir: Path, models_dir: Path) -> OwnerVoice | None:
    """The voice check for the loop, or None (owner.voice_check off, or no encoder: then anyone is
    treated as the owner, as before, and doctor says why). With no voiceprint yet it only listens,
    so the first meeting can learn one; a corrupt voiceprint is logged and treated as none."""
    if cfg.owner.voice_check == "off":
        return None
    try:
        encoder = load_encoder(cfg, models_dir)
    except (ModelMissing, VoiceprintError) as e:
        log.warning("the owner's voice is not checked: %s", e)
        return None
    vector = stored_vector(state_dir, cfg.owner.voice_model)
    return OwnerVoice(encoder, vector, threshold=cfg.owner.voice_threshold)


def learn_from_first_meeting(
    owner: OwnerVoice, persona: PersonaRuntime, state_dir: Path, model: str, announce: Callable[[str], None]
) -> Callable[[Turn], None]:
    """An after-turn step: while the first meeting runs and there is no voiceprint, each answer's
    embedding is kept; once there is enough clean speech the voiceprint is saved and used from the
    next turn on. If the meeting ends short of it, the owner hears how to finish. The voice check
    embeds utterances only while this listens (`owner.learning`)."""
    enrolment = voiceprint.Enrolment(model)
    owner.learning = True

    def learn(turn: Turn) -> None:
        onboarding = persona.onboarding
        if not owner.learning or turn.typed:
            return
        if owner.voiceprint is not None or onboarding is None:  # enrolled from the shell; setup off
            owner.learning = False
            return
        if turn.verdict is not None and turn.verdict.embedding is not None and turn.answered_by == "intent":
            problem = enrolment.add(turn.verdict.embedding)
            if problem:
                log.info("enrolment: %s", problem)
        if enrolment.ready:
            vp = enrolment.voiceprint()
            voiceprint.save(state_dir, vp)
            owner.learn(vp.vector)
            owner.learning = False
            log.info("voiceprint learned from %d answers (%.1f s of speech)", vp.utterances, vp.speech_s)
        elif not onboarding.active:  # the meeting is over, short of a voiceprint
            owner.learning = False
            if enrolment.embeddings:
                announce("I didn't hear quite enough of your voice to know it yet. You can teach me "
                         "later with the voice enroll command.")  # fmt: skip

    return learn


def stored_vector(state_dir: Path, model: str) -> np.ndarray | None:
    """The voiceprint's vector, or None: none yet, or unreadable or from another encoder (logged;
    the companion then asks to enrol, as with none)."""
    try:
        stored = voiceprint.load(state_dir, model)
    except voiceprint.VoiceprintCorrupt as e:
        log.warning("%s", e)
        return None
    return stored.vector if stored is not None else None


def reload_voiceprint(owner: OwnerVoice | None, state_dir: Path, model: str) -> None:
    """Take up a voiceprint enrolled or forgotten from the shell (`os1 voice`, then a reload)."""
    if owner is None:
        return
    vector = stored_vector(state_dir, model)
    owner.learn(vector)
    log.info("voiceprint %s", "reloaded" if vector is not None else "none: the voice is not checked")
