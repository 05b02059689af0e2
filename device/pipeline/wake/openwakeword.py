"""openWakeWord's three ONNX models (melspectrogram -> embedding -> classifier) run directly with
onnxruntime; the feature pipeline mirrors openwakeword 0.5.1's `AudioFeatures`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from device.pipeline.wake.base import WakeModelError, _as_int16, _need_file

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
