"""Vosk (Kaldi): a streaming engine, the device default with a downloaded English model."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, to_int16
from device.pipeline.stages import SttCapabilities
from device.pipeline.stt.base import SttModelError, _one_line, _require_dir
from device.pipeline.text import tidy_transcript

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- Vosk (streaming)

_VOSK_FIX = (
    "download a Vosk model (e.g. vosk-model-small-en-us-0.15) and unpack it there, or point the STT model "
    "setting at an unpacked Vosk model folder (it has am/ and conf/)"
)


class VoskSTT:
    """Vosk (Kaldi) with partial results. Decoding happens in `accept()`; `finish()` just flushes."""

    capabilities = SttCapabilities(hypothesis=True)

    def __init__(self, model_dir: Path, sample_rate: int = SAMPLE_RATE):
        import vosk

        vosk.SetLogLevel(-1)
        model_dir = _require_dir(model_dir, ("conf",), "Vosk", _VOSK_FIX)
        t0 = time.monotonic()
        try:
            self.model = vosk.Model(str(model_dir))
        except Exception as e:
            reason = _one_line(e)
            raise SttModelError(f"cannot load Vosk model at {model_dir} ({reason}); {_VOSK_FIX}") from None
        log.info("stt vosk model loaded from %s in %.1f s", model_dir, time.monotonic() - t0)
        self._vosk = vosk
        self.model_dir = model_dir
        self.sample_rate = sample_rate
        self._rec = None
        self._done: list[str] = []
        self._partial = ""

    def start(self) -> None:
        self._rec = self._vosk.KaldiRecognizer(self.model, self.sample_rate)
        self._rec.SetWords(False)
        self._done = []
        self._partial = ""

    def accept(self, frame: np.ndarray) -> None:
        if self._rec is None:
            self.start()
        if self._rec.AcceptWaveform(to_int16(np.asarray(frame)).tobytes()):
            # Vosk hit one of its own endpoints: that stretch is final, keep it and go on.
            self._keep(json.loads(self._rec.Result()).get("text", ""))
            self._partial = ""
        else:
            self._partial = json.loads(self._rec.PartialResult()).get("partial", "")

    def partial(self) -> str:
        return tidy_transcript(" ".join([*self._done, self._partial]))

    def speculate(self) -> None:
        """Nothing to start early: a streaming engine decodes as the audio comes."""

    def hypothesis(self) -> str:
        # Decoding happens in accept(), so the partial result is as current as it gets.
        return self.partial()

    def drop(self) -> None:
        self._rec = None
        self._done = []
        self._partial = ""

    def finish(self) -> str:
        if self._rec is None:
            return ""
        self._keep(json.loads(self._rec.FinalResult()).get("text", ""))
        self._rec = None
        self._partial = ""
        return tidy_transcript(" ".join(self._done))

    def _keep(self, text: str) -> None:
        text = tidy_transcript(text)
        if text:
            self._done.append(text)
