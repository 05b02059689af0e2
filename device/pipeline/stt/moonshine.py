"""Moonshine: a streaming engine with its own decoder, fed frame by frame."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, to_float32, to_int16
from device.pipeline.stages import SttCapabilities
from device.pipeline.stt.base import SttModelError, _one_line, _require_dir, _TailWatch
from device.pipeline.text import tidy_transcript

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- Moonshine (streaming)

_MOONSHINE_FILES = ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")
_MOONSHINE_FIX = (
    "reinstall the bundled tiny-en with: pip install --force-reinstall moonshine-voice==0.1.0, or point the "
    "STT model setting at a folder with encoder_model.ort, decoder_model_merged.ort and tokenizer.bin"
)


class MoonshineSTT:
    """Moonshine through moonshine-voice's stream API.

    Its own VAD is switched off (vad_threshold=0): the utterance is one segment and results are deterministic.
    The whole segment is re-decoded every `update_interval_s` of audio that had sound in it (so compute grows
    with the square of the utterance's length). `finish()` decodes once more only if something loud arrived
    since the last decode; after the end-of-turn silence it has nothing left to do and takes well under 1 ms.
    """

    capabilities = SttCapabilities(hypothesis=True)

    def __init__(
        self,
        model_dir: Path | None = None,
        model_arch: str = "tiny",
        update_interval_s: float = 0.5,
        options: dict[str, str] | None = None,
    ):
        from moonshine_voice.moonshine_api import ModelArch
        from moonshine_voice.transcriber import MOONSHINE_FLAG_FORCE_UPDATE, Transcriber
        from moonshine_voice.utils import get_model_path

        if model_dir is None:
            model_dir = get_model_path("tiny-en")
        model_dir = _require_dir(model_dir, _MOONSHINE_FILES, "Moonshine", _MOONSHINE_FIX)
        try:
            arch = ModelArch[model_arch.upper().replace("-", "_")]
        except KeyError:
            names = ", ".join(a.name.lower() for a in ModelArch)
            raise SttModelError(f"unknown Moonshine model_arch {model_arch!r}; use one of: {names}") from None
        opts = {"vad_threshold": "0", **(options or {})}
        try:
            self._transcriber = Transcriber(model_dir, arch, update_interval=update_interval_s, options=opts)
        except Exception as e:
            raise SttModelError(
                f"cannot load Moonshine model at {model_dir} ({_one_line(e)}); {_MOONSHINE_FIX}"
            ) from None
        self._force = MOONSHINE_FLAG_FORCE_UPDATE
        self.model_dir = model_dir
        self.update_interval_samples = max(1, int(update_interval_s * SAMPLE_RATE))
        self._stream = None
        self._tail = _TailWatch()
        self._text = ""
        self._since_decode = 0
        self._lock = threading.Lock()  # hypothesis() decodes on the reply thread

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        self._close_stream()
        # The Python-side auto-update is disabled (huge interval): this class decides when to decode.
        self._stream = self._transcriber.create_stream(update_interval=1e9)
        self._stream.start()
        self._tail.reset()
        self._text = ""
        self._since_decode = 0

    def accept(self, frame: np.ndarray) -> None:
        frame = to_int16(np.asarray(frame))
        samples = to_float32(frame)
        with self._lock:
            if self._stream is None:
                self._start()
            self._stream.add_audio(samples.tolist(), SAMPLE_RATE)
            self._tail.feed(frame)
            self._since_decode += len(samples)
            if self._since_decode >= self.update_interval_samples and self._tail.loud_since_mark:
                self._decode()

    def partial(self) -> str:
        return self._text

    def speculate(self) -> None:
        """Nothing to start early: a streaming engine decodes as the audio comes."""

    def hypothesis(self) -> str:
        """The utterance so far (decoding the newest sound first, if any); the stream stays open."""
        with self._lock:
            if self._stream is not None and self._tail.loud_since_mark:
                self._decode()
            return self._text

    def drop(self) -> None:
        with self._lock:
            self._close_stream()
            self._text = ""

    def finish(self) -> str:
        with self._lock:
            if self._stream is None:
                return ""
            if self._tail.loud_since_mark:
                self._decode()
            # The last decode covers all the sound, so the stream is freed without stop(): stop() would
            # re-decode the whole segment if any (quiet) audio came after that decode.
            self._close_stream()
            return self._text

    def _decode(self) -> None:
        transcript = self._stream.update_transcription(self._force)
        self._text = tidy_transcript(" ".join(line.text for line in transcript.lines))
        self._since_decode = 0
        self._tail.mark()

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def close(self) -> None:
        with self._lock:
            self._close_stream()
        self._transcriber.close()
