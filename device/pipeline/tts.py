"""Text to speech with Piper: the voice is loaded once, and audio comes out sentence by sentence."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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
        from piper import PiperVoice  # imported here: loading piper costs ~0.3 s

        self.voice = PiperVoice.load(model_path, config_path=config_path)
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
