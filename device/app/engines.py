"""Build the pipeline's engines from the validated config: the one place config meets models."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from device.config import paths
from device.config.schema import Config, LlmConfig, SttConfig, TtsConfig, WakeConfig
from device.models.catalog import resolve, resolve_piper_voice
from device.persona.persona import Persona, voice_id
from device.persona.persona import resolve as resolve_persona
from device.pipeline.aec import EchoCancellerUnavailable, SpeexEchoCanceller
from device.pipeline.llm.onnx import OnnxDialogue
from device.pipeline.settings import DialogueSettings, LoopSettings
from device.pipeline.stages import Dialogue, SpeechToText, TurnModel, Vad, WakeWord
from device.pipeline.stt.moonshine import MoonshineSTT
from device.pipeline.stt.vosk import VoskSTT
from device.pipeline.stt.whisper import WhisperSTT
from device.pipeline.tts import PiperTTS, Prosody
from device.pipeline.turn import SmartTurn
from device.pipeline.vad import SileroVad
from device.pipeline.wake.keyphrase import KeyphraseWakeWord
from device.pipeline.wake.micro import MicroWakeWord
from device.pipeline.wake.openwakeword import OpenWakeWord

log = logging.getLogger("os1.engines")

STT_DEFAULT_MODEL = {
    "whisper": "whisper-tiny.en",
    "moonshine": "moonshine-tiny-en",
    "vosk": "vosk-model-small-en-us-0.15",
}


def build_wake(cfg: WakeConfig, models_dir: Path | None = None) -> WakeWord | None:
    if cfg.engine == "none":
        return None
    if cfg.engine == "keyphrase":
        return KeyphraseWakeWord(cfg.phrase, kws_threshold=cfg.keyphrase_threshold)
    if cfg.engine == "microwakeword":
        return MicroWakeWord(resolve(f"mww-{cfg.model}", models_dir), probability_cutoff=cfg.threshold)
    return OpenWakeWord(
        resolve(f"oww-{cfg.model}", models_dir),
        resolve("oww-melspectrogram", models_dir),
        resolve("oww-embedding", models_dir),
        threshold=cfg.threshold,
    )


def wake_phrase(cfg: WakeConfig) -> str:
    """What the user says to wake it, as words (for stripping it from the transcript)."""
    return cfg.phrase if cfg.engine == "keyphrase" else cfg.model.replace("_", " ")


def build_stt(cfg: SttConfig, models_dir: Path | None = None) -> SpeechToText:
    path = resolve(cfg.model or STT_DEFAULT_MODEL[cfg.engine], models_dir)
    if cfg.engine == "moonshine":
        return MoonshineSTT(path)
    if cfg.engine == "vosk":
        return VoskSTT(path)
    return WhisperSTT(path)


def build_dialogue(cfg: LlmConfig, models_dir: Path | None = None) -> OnnxDialogue:
    settings = DialogueSettings(
        max_new_tokens=cfg.max_new_tokens,
        max_sentences=cfg.max_sentences,
        repetition_penalty=cfg.repetition_penalty,
    )
    return OnnxDialogue(resolve(cfg.model, models_dir), settings)


def build_tts(cfg: TtsConfig, models_dir: Path | None = None) -> PiperTTS:
    model, config = resolve_piper_voice(cfg.voice, models_dir)
    return PiperTTS(model, config, Prosody(length_scale=cfg.length_scale))


def build_voice(cfg: Config, models_dir: Path | None = None) -> PiperTTS:
    """The companion's voice: the persona's voice if it names one, else tts.voice."""
    return build_tts(cfg.tts.model_copy(update={"voice": voice_id(cfg)}), models_dir)


def persona(cfg: Config) -> Persona:
    """The persona from config alone; the runner adds the onboarding profile (persona.changes.current)."""
    return resolve_persona(cfg.persona)[0]


# persona.length -> the words a reply in the LLM's words stops after (at a sentence end): ~2.6 words a
# second, so "short" is about 8 s of speech at most.
REPLY_WORDS = {"short": 20, "medium": 45}


def loop_settings(cfg: Config) -> LoopSettings:
    return LoopSettings(
        end_of_turn_ms=cfg.vad.end_of_turn_ms,
        early_reply_ms=cfg.vad.early_reply_ms,
        quick_end_of_turn_ms=cfg.vad.quick_end_of_turn_ms,
        smart_turn_ms=cfg.vad.smart_turn_ms,
        smart_turn_threshold=cfg.vad.smart_turn_threshold,
        vad_threshold=cfg.vad.threshold,
        preroll_ms=cfg.wake.preroll_ms,
        listen_timeout_s=cfg.vad.listen_timeout_s,
        max_utterance_s=cfg.vad.max_utterance_s,
        max_reply_words=REPLY_WORDS[cfg.persona.length],
    )


def build_aec(enabled: bool) -> SpeexEchoCanceller | None:
    if not enabled:
        return None
    try:
        return SpeexEchoCanceller()
    except EchoCancellerUnavailable as e:
        log.warning("%s; using echo gating only", e)
        return None


@dataclass
class Engines:
    """The loaded models, each behind its stage contract (`pipeline/stages.py`)."""

    vad: Vad
    wake: WakeWord | None
    stt: SpeechToText
    dialogue: Dialogue
    tts: PiperTTS
    """Piper itself: the persona's toned voice wraps it and sets its prosody per sentence."""
    load_s: float
    """How long loading took."""
    turn: TurnModel | None = None
    """The end-of-turn model, when vad.smart_turn_ms is on."""


def load_all(cfg: Config, use_wake: bool = True) -> Engines:
    """Load every engine, in parallel (the models take seconds each and mostly wait on disk and ORT)."""
    md = paths.dirs(cfg).models
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        vad = pool.submit(SileroVad, resolve("silero-vad", md))
        wake = pool.submit(
            build_wake, cfg.wake if use_wake else cfg.wake.model_copy(update={"engine": "none"}), md
        )
        stt = pool.submit(build_stt, cfg.stt, md)
        dialogue = pool.submit(build_dialogue, cfg.llm, md)
        tts = pool.submit(build_voice, cfg, md)
        turn = pool.submit(SmartTurn, resolve("smart-turn-v3", md)) if cfg.vad.smart_turn_ms else None
        engines = Engines(
            vad.result(),
            wake.result(),
            stt.result(),
            dialogue.result(),
            tts.result(),
            time.monotonic() - t0,
            turn.result() if turn is not None else None,
        )
    log.info("engines loaded in %.1f s", engines.load_s)
    return engines
