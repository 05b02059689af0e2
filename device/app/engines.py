"""Build the pipeline's engines from the validated config: the one place config meets models."""

from __future__ import annotations

import importlib.util
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from device.config import paths, secrets
from device.config.load import ConfigError
from device.config.schema import Config, LlmConfig, SttConfig, TtsConfig, WakeConfig
from device.models.catalog import ModelMissing, installed_path, resolve, resolve_piper_voice, spec
from device.persona.persona import Persona, voice_id
from device.persona.persona import resolve as resolve_persona
from device.pipeline.aec import EchoCancellerUnavailable, SpeexEchoCanceller
from device.pipeline.llm.fallback import FallbackDialogue
from device.pipeline.llm.onnx import OnnxDialogue
from device.pipeline.llm.openai import OpenAIDialogue, Server, http_error
from device.pipeline.server_health import ServerHealth
from device.pipeline.settings import DialogueSettings, LoopSettings
from device.pipeline.speech_fallback import FallbackSTT, FallbackTTS
from device.pipeline.stages import Dialogue, SpeechToText, TurnModel, Vad, WakeWord
from device.pipeline.stt.moonshine import MoonshineSTT
from device.pipeline.stt.vosk import VoskSTT
from device.pipeline.stt.whisper import WhisperSTT
from device.pipeline.tts import PiperTTS, Prosody, VoiceTTS
from device.pipeline.turn import SmartTurn
from device.pipeline.vad import SileroVad
from device.pipeline.wake.keyphrase import KeyphraseWakeWord
from device.pipeline.wake.micro import MicroWakeWord
from device.pipeline.wake.openwakeword import OpenWakeWord
from device.pipeline.wyoming import WyomingSTT, WyomingTTS, describe, parse_uri

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
    """The ears stt.engine names; with `wyoming`, the server's in front of stt.fallback on the board."""
    if cfg.engine != "wyoming":
        return board_stt(cfg.engine, cfg.model, models_dir)
    uri = wyoming_uri("stt", cfg.remote.uri, 10300)
    local = board_stt(cfg.fallback, cfg.model, models_dir) if cfg.fallback != "none" else None
    health = ServerHealth(lambda: describe(uri), what="the home server's speech recognition")
    return FallbackSTT(WyomingSTT(uri, cfg.remote.language), local, health, cfg.remote.deadline_ms / 1000)


def board_stt(engine: str, model: str, models_dir: Path | None) -> SpeechToText:
    path = resolve(model or STT_DEFAULT_MODEL[engine], models_dir)
    if engine == "moonshine":
        return MoonshineSTT(path)
    if engine == "vosk":
        return VoskSTT(path)
    return WhisperSTT(path)


def wyoming_uri(section: str, uri: str, port: int) -> str:
    """The configured Wyoming address, checked; a ConfigError names the key and the fix."""
    fix = f"os1 config set {section}.remote.uri tcp://HOST:{port}"
    if not uri:
        raise ConfigError(f"{section}.engine is wyoming but {section}.remote.uri is empty; fix: {fix}")
    try:
        parse_uri(uri)
    except ValueError as e:
        raise ConfigError(f"{section}.remote.uri: {e}; fix: {fix}") from None
    return uri


def build_dialogue(cfg: LlmConfig, models_dir: Path | None = None, send_memories: bool = True) -> Dialogue:
    """The mind llm.engine names; with `openai`, the server in front of llm.fallback on the board."""
    settings = DialogueSettings(
        max_new_tokens=cfg.max_new_tokens,
        max_sentences=cfg.max_sentences,
        repetition_penalty=cfg.repetition_penalty,
    )
    if cfg.engine != "openai":
        return board_dialogue(board_engine(cfg.engine, cfg, models_dir), cfg, settings, models_dir)
    remote = OpenAIDialogue(server(cfg), settings, send_context=send_memories)
    fallback = board_engine(cfg.fallback, cfg, models_dir)
    local = board_dialogue(fallback, cfg, settings, models_dir) if fallback != "none" else None
    health = ServerHealth(lambda: check_server(remote.server), max_retry_s=cfg.remote.retry_max_s)
    return FallbackDialogue(remote, local, health, cfg.remote.first_token_ms / 1000, settings)


def board_engine(engine: str, cfg: LlmConfig, models_dir: Path | None = None) -> str:
    """The board's engine, with `auto` decided: onnx when llm.model (converted on a PC) is installed, else
    llamacpp on llm.gguf when llama-cpp-python is. A Pi takes the second way: no torch, no conversion."""
    if engine != "auto":
        return engine
    if installed_path(cfg.model, models_dir) is not None:
        return "onnx"
    if importlib.util.find_spec("llama_cpp") is not None and installed_path(cfg.gguf, models_dir) is not None:
        return "llamacpp"
    raise ModelMissing(
        f"no language model: neither {cfg.model} (onnx) nor {cfg.gguf} with llama.cpp is installed; "
        f"fix: {spec(cfg.gguf).fix()} and pip install 'os1[llamacpp]' (a Pi), "
        f"or os1 models convert {cfg.model} (a PC)"
    )


def board_dialogue(engine: str, cfg: LlmConfig, settings: DialogueSettings, md: Path | None) -> Dialogue:
    if engine == "llamacpp":
        from device.pipeline.llm.llamacpp import LlamaCppDialogue  # an extra: not every board has it

        return LlamaCppDialogue(resolve(cfg.gguf, md), settings)
    return OnnxDialogue(resolve(cfg.model, md), settings)


def server(cfg: LlmConfig) -> Server:
    """The home server llm.remote names, with its API key from the secrets (never from the config)."""
    if not cfg.remote.url:
        fix = "os1 config set llm.remote.url http://HOST:8080/v1"
        raise ConfigError(f"llm.engine is openai but llm.remote.url is empty; fix: {fix}")
    ca = str(Path(cfg.remote.ca_file).expanduser()) if cfg.remote.ca_file else ""
    return Server(cfg.remote.url, cfg.remote.model, api_key=secrets.get("llm_api_key"), ca_file=ca)


def check_server(srv: Server) -> None:
    """The health check: the server lists its models (GET /models) with our key; raises ServerError."""
    status = srv.get("/models", timeout_s=srv.connect_timeout_s)
    if status != 200:
        raise http_error(srv, status, b"")


def llm_name(cfg: LlmConfig, models_dir: Path | None = None) -> str:
    """The mind llm.engine names, for status and logs (never the API key)."""

    def board(engine: str) -> str:
        try:
            engine = board_engine(engine, cfg, models_dir)
        except ModelMissing:
            return "none installed"
        return {"onnx": cfg.model, "llamacpp": f"{cfg.gguf} (llama.cpp)", "none": "none"}[engine]

    if cfg.engine == "openai":
        return f"{cfg.remote.model or 'server'} at {cfg.remote.url}, board: {board(cfg.fallback)}"
    return board(cfg.engine)


def mind_status(dialogue: Dialogue, stt: object = None, tts: object = None) -> dict[str, object]:
    """For `os1 status`: which mind answered last and the server's health (a board engine: itself),
    and the same for the ears and the voice when they are the server's."""
    out = dialogue.status() if isinstance(dialogue, FallbackDialogue) else {"mind": "board"}
    for name, engine in (("ears", stt), ("voice", tts)):
        if isinstance(engine, FallbackSTT | FallbackTTS):
            out[name] = engine.status()
    return out


def build_tts(cfg: TtsConfig, models_dir: Path | None = None) -> VoiceTTS:
    """The voice tts.engine names; with `wyoming`, the server's in front of the board's Piper."""
    local = board_tts(cfg, models_dir) if cfg.engine == "piper" or cfg.fallback == "piper" else None
    if cfg.engine != "wyoming":
        assert local is not None
        return local
    uri = wyoming_uri("tts", cfg.remote.uri, 10200)
    rate = local.sample_rate if local is not None else 22050  # Piper's medium voices
    prosody = Prosody(length_scale=cfg.length_scale)
    remote = WyomingTTS(uri, rate, cfg.remote.voice, prosody)
    health = ServerHealth(lambda: describe(uri), what="the home server's voice")
    return FallbackTTS(remote, local, health, cfg.remote.deadline_ms / 1000)


def board_tts(cfg: TtsConfig, models_dir: Path | None = None) -> PiperTTS:
    model, config = resolve_piper_voice(cfg.voice, models_dir)
    return PiperTTS(model, config, Prosody(length_scale=cfg.length_scale))


def build_voice(cfg: Config, models_dir: Path | None = None) -> VoiceTTS:
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
        voice_policy=cfg.owner.voice_check,
        tap_is_owner=cfg.owner.tap_is_owner,
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
    tts: VoiceTTS
    """Piper itself (or the server's voice with Piper behind it): the persona's toned voice wraps it
    and sets its prosody per sentence."""
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
        dialogue = pool.submit(build_dialogue, cfg.llm, md, cfg.privacy.send_memories)
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
