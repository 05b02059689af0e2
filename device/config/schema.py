"""The config's shape: one pydantic section per part of the companion, every key with its default
and its range. `config/default.yaml` documents each key for the owner; a test keeps the two in step."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from device.pipeline.settings import DialogueSettings, LoopSettings

# The pipeline's own defaults are the config's: one direction, so the two cannot disagree.
_LOOP, _DIALOGUE = LoopSettings(), DialogueSettings()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


Level = Literal["low", "medium", "high"]


class PersonaConfig(_Section):
    name: str = Field("Samantha", min_length=1, max_length=40)
    pronouns: str = Field("she/her", max_length=20)
    owner_name: str = Field("", max_length=60)
    owner_pronunciation: str = Field("", max_length=80)
    voice: str = ""
    language: str = Field("en", pattern=r"^[a-z]{2}$")
    warmth: Level = "high"
    humour: Level = "medium"
    energy: Level = "medium"
    length: Literal["short", "medium"] = "short"
    onboarding: bool = True
    system_prompt: str = Field(
        "You are {name}, a helpful AI companion. Give short, direct answers. {language} {wishes}",
        min_length=1,
    )


class AudioConfig(_Section):
    device: str = ""
    input_device: str | None = None
    output_device: str | None = None
    device_rate: int = Field(0, ge=0, le=192000)
    period_ms: int = Field(10, ge=5, le=200)
    volume: float = Field(1.0, ge=0.0, le=2.0)
    echo_cancel: bool = True


class AudioReconnectConfig(_Section):
    first_retry_s: float = Field(0.5, gt=0.0, le=60.0)
    max_retry_s: float = Field(10.0, gt=0.0, le=600.0)
    stall_s: float = Field(2.0, ge=0.5, le=60.0)


class WakeConfig(_Section):
    engine: Literal["openwakeword", "microwakeword", "keyphrase", "none"] = "openwakeword"
    model: str = "hey_jarvis"
    phrase: str = "hey samantha"
    threshold: float = Field(0.7, gt=0.0, le=1.0)
    keyphrase_threshold: float = Field(1e-10, gt=0.0, le=1.0)
    preroll_ms: int = Field(_LOOP.preroll_ms, ge=0, le=3000)


class VadConfig(_Section):
    threshold: float = Field(_LOOP.vad_threshold, gt=0.0, lt=1.0)
    end_of_turn_ms: int = Field(_LOOP.end_of_turn_ms, ge=100, le=5000)
    early_reply_ms: int = Field(_LOOP.early_reply_ms, ge=0, le=5000)
    quick_end_of_turn_ms: int = Field(_LOOP.quick_end_of_turn_ms, ge=0, le=5000)
    smart_turn_ms: int = Field(_LOOP.smart_turn_ms, ge=0, le=5000)
    smart_turn_threshold: float = Field(_LOOP.smart_turn_threshold, gt=0.0, lt=1.0)
    max_utterance_s: float = Field(_LOOP.max_utterance_s, gt=1.0, le=120.0)
    listen_timeout_s: float = Field(_LOOP.listen_timeout_s, gt=0.5, le=60.0)


class RemoteSttConfig(_Section):
    uri: str = Field("", max_length=300)
    """The Wyoming speech-to-text server, tcp://host:port (wyoming-faster-whisper listens on 10300)."""
    deadline_ms: int = Field(1500, ge=100, le=30000)
    """The board transcribes the utterance itself when the server's transcript is not back this long
    after the end of speech."""
    language: str = Field("en", min_length=2, max_length=10)


class SttConfig(_Section):
    engine: Literal["whisper", "moonshine", "vosk", "wyoming"] = "whisper"
    model: str = ""
    fallback: Literal["whisper", "moonshine", "vosk", "none"] = "whisper"
    """With engine wyoming: the board's own ears behind the server (model: its model)."""
    remote: RemoteSttConfig = RemoteSttConfig()


class RemoteLlmConfig(_Section):
    url: str = Field("", max_length=300)
    model: str = Field("", max_length=200)
    first_token_ms: int = Field(800, ge=100, le=30000)
    ca_file: str = ""
    retry_max_s: float = Field(60.0, ge=1.0, le=3600.0)


class LlmConfig(_Section):
    engine: Literal["auto", "onnx", "llamacpp", "openai"] = "auto"
    """auto: onnx when the converted model (llm.model) is installed, else llamacpp on llm.gguf (a Pi)."""
    model: str = "smollm2-135m-instruct-int4"
    gguf: str = "smollm2-135m-instruct-gguf"
    fallback: Literal["auto", "onnx", "llamacpp", "none"] = "auto"
    remote: RemoteLlmConfig = RemoteLlmConfig()
    max_new_tokens: int = Field(_DIALOGUE.max_new_tokens, ge=8, le=1024)
    max_sentences: int = Field(_DIALOGUE.max_sentences, ge=1, le=20)
    repetition_penalty: float = Field(_DIALOGUE.repetition_penalty, ge=1.0, le=2.0)


class RemoteTtsConfig(_Section):
    uri: str = Field("", max_length=300)
    """The Wyoming text-to-speech server, tcp://host:port (wyoming-piper listens on 10200)."""
    voice: str = Field("", max_length=100)
    """The server's voice name; "" is the server's default voice."""
    deadline_ms: int = Field(800, ge=100, le=30000)
    """The board says the sentence itself when the server's audio does not start (or pauses) this long."""


class TtsConfig(_Section):
    engine: Literal["piper", "wyoming"] = "piper"
    voice: str = "en_US-joe-medium"
    length_scale: float = Field(1.0, gt=0.3, le=3.0)
    fallback: Literal["piper", "none"] = "piper"
    """With engine wyoming: the board's Piper (tts.voice) behind the server."""
    remote: RemoteTtsConfig = RemoteTtsConfig()


class MemoryConfig(_Section):
    enabled: bool = True
    max_prompt_tokens: int = Field(120, ge=0, le=2000)
    min_similarity: float = Field(0.35, ge=0.0, le=1.0)
    max_items: int = Field(4, ge=1, le=20)
    merge_similarity: float = Field(0.9, gt=0.5, le=1.0)
    use_llm_extraction: bool = False
    conversation_gap_s: int = Field(600, ge=30, le=86400)
    summaries: bool = True


class PrivacyConfig(_Section):
    send_memories: bool = True


class ButtonConfig(_Section):
    enabled: bool = True
    pin: int = Field(17, ge=0, le=27)
    bounce_ms: int = Field(20, ge=0, le=200)
    double_tap_ms: int = Field(300, ge=0, le=1000)
    long_press_ms: int = Field(1500, ge=300, le=10000)


class IndicatorConfig(_Section):
    enabled: bool = True
    led_pin: int = Field(27, ge=0, le=27)
    motor_pin: int = Field(0, ge=0, le=27)
    brightness: float = Field(1.0, gt=0.0, le=1.0)


class CameraConfig(_Section):
    backend: Literal["auto", "picamera2", "opencv", "file", "none"] = "auto"
    size: list[Annotated[int, Field(ge=64, le=4608)]] = Field([1280, 720], min_length=2, max_length=2)
    path: str = ""
    autofocus: bool = True


class PathsConfig(_Section):
    state_dir: str = ""
    models_dir: str = ""


class RemindersConfig(_Section):
    snooze_min: int = Field(10, ge=1, le=240)
    tap_snooze_window_s: float = Field(60.0, ge=0.0, le=600.0)


class LettersConfig(_Section):
    max_words: int = Field(180, ge=20, le=1000)
    max_new_tokens: int = Field(200, ge=32, le=1024)


class CareConfig(_Section):
    helpline: str = Field("Samaritans on 116 123", max_length=200)
    nudge_after_min: int = Field(0, ge=0, le=600)
    nudge_people: list[str] = Field(default_factory=list)


class OwnerConfig(_Section):
    voice_check: Literal["private", "strict", "off"] = "private"

    @field_validator("voice_check", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        return "off" if v is False else v  # YAML 1.1 reads a bare `off` as false

    tap_is_owner: bool = _LOOP.tap_is_owner
    voice_threshold: float = Field(0.75, ge=0.3, le=0.99)
    voice_model: str = "ge2e-voice-encoder"


class CalendarConfig(_Section):
    source: Literal["none", "local", "caldav"] = "none"
    url: str = ""
    username: str = ""
    ca_file: str = ""
    sync_min: int = Field(15, ge=1, le=1440)
    heads_up_min: int = Field(10, ge=0, le=240)

    @field_validator("source", mode="before")
    @classmethod
    def _yaml_none(cls, v: object) -> object:
        return "none" if v is None or v is False else v


class MailConfig(_Section):
    source: Literal["none", "imap"] = "none"
    imap_host: str = ""
    imap_port: int = Field(993, ge=1, le=65535)
    username: str = ""
    ca_file: str = ""
    sync_min: int = Field(10, ge=1, le=1440)
    newest: int = Field(200, ge=1, le=5000)
    smtp_host: str = ""
    smtp_port: int = Field(465, ge=1, le=65535)
    smtp_security: Literal["tls", "starttls"] = "tls"
    from_address: str = ""

    @field_validator("source", mode="before")
    @classmethod
    def _yaml_none(cls, v: object) -> object:
        return "none" if v is None or v is False else v


class ContactsConfig(_Section):
    source: Literal["file", "carddav"] = "file"
    url: str = ""
    username: str = ""
    ca_file: str = ""
    sync_min: int = Field(60, ge=1, le=1440)


class Config(_Section):
    persona: PersonaConfig = PersonaConfig()
    audio: AudioConfig = AudioConfig()
    audio_reconnect: AudioReconnectConfig = AudioReconnectConfig()
    wake: WakeConfig = WakeConfig()
    vad: VadConfig = VadConfig()
    stt: SttConfig = SttConfig()
    llm: LlmConfig = LlmConfig()
    tts: TtsConfig = TtsConfig()
    memory: MemoryConfig = MemoryConfig()
    paths: PathsConfig = PathsConfig()
    reminders: RemindersConfig = RemindersConfig()
    letters: LettersConfig = LettersConfig()
    care: CareConfig = CareConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    button: ButtonConfig = ButtonConfig()
    indicator: IndicatorConfig = IndicatorConfig()
    camera: CameraConfig = CameraConfig()
    owner: OwnerConfig = OwnerConfig()
    calendar: CalendarConfig = CalendarConfig()
    mail: MailConfig = MailConfig()
    contacts: ContactsConfig = ContactsConfig()
