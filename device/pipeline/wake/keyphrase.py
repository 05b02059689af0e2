"""pocketsphinx keyphrase spotting: any phrase in its dictionary, no training."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from device.pipeline.audio import SAMPLE_RATE
from device.pipeline.wake.base import WakeModelError, _as_int16, _need_file


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
