"""Wake-word engines behind one small Protocol: int16 16 kHz frames in, a score out when the word fires.

Three engines, all offline:

- `MicroWakeWord`: microWakeWord tflite models via pymicro-wakeword (Apache-2.0, its own TFLite runtime).
- `OpenWakeWord`: openWakeWord's three ONNX models (melspectrogram -> embedding -> classifier) run
  directly with onnxruntime; the feature pipeline mirrors openwakeword 0.5.1's `AudioFeatures`.
- `KeyphraseWakeWord`: pocketsphinx keyphrase spotting for any phrase in its dictionary, no training.

Every engine re-buffers to its own step size, so callers may feed frames of any length (the pipeline
uses 512 samples). After a detection (or after the companion has spoken) the caller calls `reset()`:
the engine forgets what it heard, so the same utterance cannot fire twice. Detections land 0-0.5 s
after the end of the phrase (measured by `python -m device.evals.wake`), so keep a pre-roll buffer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import numpy as np

from device.pipeline.audio import SAMPLE_RATE


class WakeModelError(Exception):
    """A wake-word model that is missing, corrupt or of the wrong kind. The message says which and why."""


class WakeWord(Protocol):
    name: str

    def process(self, frame: np.ndarray) -> float | None:
        """Feed int16 16 kHz mono samples (any length); the score if the wake word fired, else None."""
        ...

    def reset(self) -> None:
        """Forget the audio heard so far, so one utterance cannot fire twice."""
        ...


def _as_int16(frame: np.ndarray) -> np.ndarray:
    if frame.dtype != np.int16:
        raise TypeError(f"wake word expects int16 samples, got {frame.dtype}")
    return frame.reshape(-1)


def _need_file(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise WakeModelError(f"{path}: {what} not found")
    if path.stat().st_size == 0:
        raise WakeModelError(f"{path}: {what} is empty")
    return path


# --------------------------------------------------------------------------------------------------
# microWakeWord


def _tflite_lib() -> Path:
    import pymicro_wakeword

    lib = next(iter((Path(pymicro_wakeword.__file__).parent / "lib").glob("*tensorflowlite_c.*")), None)
    if lib is None:
        raise WakeModelError("pymicro-wakeword ships no tensorflowlite_c library for this platform")
    return lib


def _check_tflite(path: Path, lib_path: Path) -> None:
    """pymicro-wakeword would pass a NULL model on to the interpreter and crash; check it loads first."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] != b"TFL3":
        raise WakeModelError(f"{path}: not a TFLite model (no TFL3 identifier)")
    from pymicro_wakeword.wakeword import TfLiteWakeWord

    lib = TfLiteWakeWord(lib_path).lib
    model = lib.TfLiteModelCreateFromFile(str(path.resolve()).encode())
    if not model:
        raise WakeModelError(f"{path}: corrupt TFLite model (it does not parse)")
    lib.TfLiteModelDelete(model)


class MicroWakeWord:
    """microWakeWord via pymicro-wakeword: 10 ms features, one inference per 30 ms, a sliding mean.

    `model_path` is the .tflite file (a sibling .json, as shipped in pymicro_wakeword/models, supplies the
    default cutoff and window) or the .json itself. `probability_cutoff` overrides the model's (0.97 for
    hey_jarvis): the mean of the last `sliding_window_size` probabilities must exceed it.
    """

    def __init__(
        self,
        model_path: Path,
        probability_cutoff: float | None = None,
        sliding_window_size: int | None = None,
        name: str | None = None,
    ):
        from pymicro_wakeword import MicroWakeWord as _Micro
        from pymicro_wakeword import MicroWakeWordFeatures

        model_path = Path(model_path)
        config: dict = {}
        config_path = model_path if model_path.suffix == ".json" else model_path.with_suffix(".json")
        if config_path.is_file():
            try:
                config = json.loads(config_path.read_text(encoding="utf-8"))
                if model_path.suffix == ".json":
                    model_path = config_path.parent / config["model"]
            except (ValueError, KeyError, TypeError) as e:
                raise WakeModelError(f"{config_path}: not a microWakeWord model config ({e})") from None
        elif model_path.suffix == ".json":
            raise WakeModelError(f"{model_path}: microWakeWord model config not found")
        _need_file(model_path, "microWakeWord model")
        micro = config.get("micro", {})
        lib_path = _tflite_lib()
        _check_tflite(model_path, lib_path)

        self.name = name or f"micro:{model_path.stem}"
        self.model_path = model_path
        self.probability_cutoff = float(
            probability_cutoff if probability_cutoff is not None else micro.get("probability_cutoff", 0.97)
        )
        window = int(sliding_window_size or micro.get("sliding_window_size", 5))
        try:
            self._model = _Micro(
                model_path.stem,
                wake_word=config.get("wake_word", model_path.stem),
                tflite_model=model_path,
                probability_cutoff=self.probability_cutoff,
                sliding_window_size=window,
                trained_languages=config.get("trained_languages", []),
                libtensorflowlite_c_path=lib_path,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise WakeModelError(f"{model_path}: cannot load microWakeWord model ({e})") from None
        self._features = MicroWakeWordFeatures()

    def process(self, frame: np.ndarray) -> float | None:
        best: float | None = None
        for features in self._features.process_streaming(_as_int16(frame).tobytes()):
            prob = self._model.process_streaming_prob(features)
            if prob is not None and prob > self.probability_cutoff:
                best = prob if best is None else max(best, prob)
        return best

    def reset(self) -> None:
        self._features.reset()
        self._model.reset()  # reloads the interpreter: its streaming layers keep state


# --------------------------------------------------------------------------------------------------
# openWakeWord (ONNX, run directly)

_OWW_CHUNK = 1280  # 80 ms: one embedding and one classifier run per chunk
_OWW_MEL_WINDOW = 76  # mel frames per embedding (775 ms)
_OWW_MEL_STEP = 8  # mel frames per chunk (10 ms hop)


def _onnx_session(path: Path, what: str, threads: int):
    import onnxruntime as ort

    _need_file(path, what)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own pybind exception types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WakeModelError(f"{path}: cannot load {what} ({first})") from None


class OpenWakeWord:
    """openWakeWord: 80 ms chunks -> mel frames -> a 96-d speech embedding -> the wake-word classifier.

    `threshold` applies to the classifier score (0-1); openWakeWord's own default is 0.5. Given the same
    history, the scores equal those of openwakeword 0.5.1's `Model(inference_framework="onnx")`.
    """

    def __init__(
        self,
        model_path: Path,
        melspec_path: Path,
        embedding_path: Path,
        threshold: float = 0.5,
        threads: int = 1,
        name: str | None = None,
    ):
        self.name = name or f"oww:{Path(model_path).stem}"
        self.threshold = threshold
        self._mel = _onnx_session(Path(melspec_path), "openWakeWord melspectrogram model", threads)
        self._emb = _onnx_session(Path(embedding_path), "openWakeWord embedding model", threads)
        self._clf = _onnx_session(Path(model_path), "openWakeWord wake-word model", threads)
        self._check_shapes(Path(model_path), Path(melspec_path), Path(embedding_path))
        self._mel_in = self._mel.get_inputs()[0].name
        self._emb_in = self._emb.get_inputs()[0].name
        self._clf_in = self._clf.get_inputs()[0].name
        self._n_features = int(self._clf.get_inputs()[0].shape[1])
        # After a reset the history is that of a quiet room (a few seconds of -60 dBFS noise), so speech right
        # after a reset is scored like speech after a pause: no start-up transient, no stale wake word.
        # (openwakeword itself starts from mel frames of ones and embeddings of random noise, which can make
        # a word spoken in the first second score high, and it never clears its history.)
        self._mels = np.ones((_OWW_MEL_WINDOW, 32), np.float32)
        self._features = np.zeros((self._n_features, 96), np.float32)
        self._raw = np.zeros(0, np.int16)
        quiet = np.random.default_rng(0).normal(0, 32768 * 10 ** (-60 / 20), _OWW_CHUNK * 40).astype(np.int16)
        for i in range(0, len(quiet), _OWW_CHUNK):
            self._step(quiet[i : i + _OWW_CHUNK])
        self._quiet = (self._raw.copy(), self._mels.copy(), self._features.copy())
        self.reset()

    def _check_shapes(self, model_path: Path, melspec_path: Path, embedding_path: Path) -> None:
        mel_in, emb_in, clf_in = (s.get_inputs() for s in (self._mel, self._emb, self._clf))
        if len(mel_in) != 1 or len(mel_in[0].shape) != 2:
            raise WakeModelError(f"{melspec_path}: not openWakeWord's melspectrogram model")
        if len(emb_in) != 1 or list(emb_in[0].shape[1:]) != [_OWW_MEL_WINDOW, 32, 1]:
            raise WakeModelError(f"{embedding_path}: not openWakeWord's embedding model")
        shape = clf_in[0].shape
        if len(clf_in) != 1 or len(shape) != 3 or shape[2] != 96 or not isinstance(shape[1], int):
            raise WakeModelError(f"{model_path}: not an openWakeWord classifier ({shape}, not [1, N, 96])")
        out = self._clf.get_outputs()[0].shape
        if len(out) != 2 or out[1] != 1:
            raise WakeModelError(f"{model_path}: not a single-word openWakeWord classifier (output {out})")

    def _melspec(self, audio: np.ndarray) -> np.ndarray:
        spec = self._mel.run(None, {self._mel_in: audio.astype(np.float32)[None, :]})[0]
        return np.squeeze(spec) / 10 + 2  # openwakeword's transform towards Google's TF features

    def _embed(self, windows: np.ndarray) -> np.ndarray:
        out = self._emb.run(None, {self._emb_in: windows.astype(np.float32)[..., None]})[0]
        return out.reshape(len(windows), 96)

    def reset(self) -> None:
        self._pending = np.zeros(0, np.int16)  # samples not yet making a full chunk
        raw, mels, features = self._quiet
        self._raw = raw.copy()  # the last chunk + 3 hops of context for the mel model
        self._mels = mels.copy()  # the last 76 mel frames: one embedding window
        self._features = features.copy()  # the classifier's window of embeddings

    def _step(self, chunk: np.ndarray) -> float:
        self._raw = np.concatenate([self._raw, chunk])[-(_OWW_CHUNK + 160 * 3) :]
        self._mels = np.vstack([self._mels, self._melspec(self._raw)])[-_OWW_MEL_WINDOW:]
        emb = self._embed(self._mels[None])
        self._features = np.vstack([self._features, emb])[-self._n_features :]
        return float(self._clf.run(None, {self._clf_in: self._features[None].astype(np.float32)})[0].item())

    def score(self, frame: np.ndarray) -> float | None:
        """Feed samples; the highest classifier score of the chunks they completed (None if none did)."""
        audio = np.concatenate([self._pending, _as_int16(frame)])
        best = None
        n = len(audio) - len(audio) % _OWW_CHUNK
        for i in range(0, n, _OWW_CHUNK):
            s = self._step(audio[i : i + _OWW_CHUNK])
            best = s if best is None else max(best, s)
        self._pending = audio[n:]
        return best

    def process(self, frame: np.ndarray) -> float | None:
        s = self.score(frame)
        return s if s is not None and s >= self.threshold else None


# --------------------------------------------------------------------------------------------------
# pocketsphinx keyphrase spotting


class KeyphraseWakeWord:
    """Any phrase in the pocketsphinx dictionary, spotted with the bundled en-us acoustic model.

    `kws_threshold` is the p(phrase)/p(alternatives) ratio: larger (1e-5) misses more, smaller (1e-30)
    fires more. The default, 1e-10, had the fewest false wakes for "hey samantha" in `device.evals.wake`
    at the same recall as 1e-20; a longer phrase may want a smaller value. The reported score is always 1.0.
    """

    def __init__(
        self,
        phrase: str,
        kws_threshold: float = 1e-10,
        model_dir: Path | None = None,
        dict_path: Path | None = None,
        name: str | None = None,
    ):
        import pocketsphinx

        self.phrase = " ".join(phrase.lower().split())
        if not self.phrase:
            raise WakeModelError("keyphrase wake word: the phrase is empty")
        self.kws_threshold = kws_threshold
        self.name = name or f"kws:{self.phrase}"
        hmm = Path(model_dir) if model_dir else Path(pocketsphinx.get_model_path("en-us/en-us"))
        dic = Path(dict_path) if dict_path else Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))
        for f in ("mdef", "means", "variances", "transition_matrices", "feat.params"):
            _need_file(hmm / f, "pocketsphinx acoustic model file")
        _need_file(dic, "pocketsphinx dictionary")
        missing = set(self.phrase.split()) - _dict_words(dic, set(self.phrase.split()))
        if missing:
            words = ", ".join(sorted(missing))
            raise WakeModelError(f"{dic}: no pronunciation for {words} in {self.phrase!r}")
        settings = dict(
            hmm=str(hmm),
            dict=str(dic),
            keyphrase=self.phrase,
            kws_threshold=kws_threshold,
            samprate=SAMPLE_RATE,
            loglevel="FATAL",
        )
        _probe_pocketsphinx(settings, hmm)
        try:
            self._decoder = pocketsphinx.Decoder(pocketsphinx.Config(**settings))
        except (RuntimeError, ValueError, OSError) as e:
            raise WakeModelError(f"{hmm}: cannot load pocketsphinx model ({e})") from None
        self._decoder.start_utt()

    def process(self, frame: np.ndarray) -> float | None:
        self._decoder.process_raw(_as_int16(frame).tobytes(), False, False)
        hyp = self._decoder.hyp()
        if hyp is None:
            return None
        self.reset()  # pocketsphinx keeps reporting the same hit until the utterance restarts
        return 1.0  # keyphrase search has no calibrated score; the threshold already decided

    def reset(self) -> None:
        self._decoder.end_utt()
        self._decoder.start_utt()


def _probe_pocketsphinx(settings: dict, hmm: Path) -> None:
    """pocketsphinx calls exit() on a corrupt model file (it checks checksums), which would take the
    whole daemon down: load it once in a child process first (~0.15 s on a desktop)."""
    code = "import json, sys, pocketsphinx as p; p.Decoder(p.Config(**json.loads(sys.argv[1])))"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, json.dumps(settings)], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WakeModelError(f"{hmm}: cannot test-load the pocketsphinx model ({e})") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        fatal = [ln for ln in lines if ln.startswith(("FATAL", "ERROR"))]
        why = (fatal or lines or [f"exit status {done.returncode}"])[-1]
        raise WakeModelError(f"{hmm}: corrupt pocketsphinx model ({why[-200:]})")


def _dict_words(dict_path: Path, wanted: set[str]) -> set[str]:
    found: set[str] = set()
    with open(dict_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            word = line.split(" ", 1)[0].split("(", 1)[0]
            if word in wanted:
                found.add(word)
    return found
