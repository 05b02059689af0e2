"""microWakeWord tflite models via pymicro-wakeword (Apache-2.0, its own TFLite runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from device.pipeline.wake.base import WakeModelError, _as_int16, _need_file


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
