"""Text to speech with Piper: the voice is loaded once, and audio comes out sentence by sentence."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prosody:
    """Piper's knobs, passed per call. None keeps the voice's own default."""

    length_scale: float | None = None
    """> 1 is slower."""
    noise_scale: float | None = None
    noise_w_scale: float | None = None
    volume: float = 1.0


class VoiceTTS(Protocol):
    """A voice the persona can shape: Piper on the board, or a server's voice with Piper behind it."""

    sample_rate: int
    prosody: Prosody

    def synthesize(self, text: str, prosody: Prosody | None = None) -> Iterator[np.ndarray]:
        """int16 mono chunks at `sample_rate`, one per sentence, each as soon as it is ready."""
        ...

    def synthesize_all(self, text: str) -> np.ndarray: ...


class PiperTTS:
    def __init__(self, model_path: Path, config_path: Path | None = None, prosody: Prosody | None = None):
        self.voice = _load_voice(model_path, config_path)
        self.sample_rate: int = self.voice.config.sample_rate
        self.prosody = prosody or Prosody()

    def synthesize(self, text: str, prosody: Prosody | None = None) -> Iterator[np.ndarray]:
        from piper import SynthesisConfig

        p = prosody or self.prosody
        config = SynthesisConfig(
            length_scale=p.length_scale,
            noise_scale=p.noise_scale,
            noise_w_scale=p.noise_w_scale,
            volume=p.volume,
        )
        text = text.strip()
        if not text:
            return
        for chunk in self.voice.synthesize(text, config):
            yield chunk.audio_int16_array

    def synthesize_all(self, text: str) -> np.ndarray:
        parts = list(self.synthesize(text))
        return np.concatenate(parts) if parts else np.zeros(0, np.int16)


class _ShrinkingSession:
    """Piper's onnxruntime session, with the CPU arena handed back after each run. The arena keeps the
    peak of every run, and a sentence's buffers scale with its length, so RSS rose to the longest
    sentence ever said and stayed there: a 12-clause sentence left 1474 MB, 264 MB with this (and 480 MB
    with the arena off, which is also slower). The 8-hour soak grew 35 % that way."""

    def __init__(self, session: Any):
        import onnxruntime as ort

        self._session = session
        self._run_options = ort.RunOptions()
        self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        return self._session.run(output_names, input_feed, run_options or self._run_options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _load_voice(model_path: Path, config_path: Path | None) -> Any:
    from piper import PiperVoice  # imported here: loading piper costs ~0.3 s

    voice = PiperVoice.load(model_path, config_path=config_path)
    voice.session = _ShrinkingSession(voice.session)
    return voice
