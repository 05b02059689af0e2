"""One way to open an onnxruntime session for a small model on the CPU, with the model's own error
type: a missing file and an unreadable one each become one line that says how to get it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def open_session(
    model_path: Path, what: str, error: type[Exception], install: str, reinstall: str, threads: int = 1
) -> Any:
    """`what` names the model in the message ("VAD model"); `install` and `reinstall` are the fixes
    for a missing and an unreadable file. Sequential, one inter-op thread: these run per frame or
    per utterance, beside other stages."""
    import onnxruntime as ort

    if not Path(model_path).is_file():
        raise error(f"{what} not found at {model_path}; {install}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    try:
        return ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf types
        raise error(f"{what} at {model_path} is unreadable ({type(e).__name__}); {reinstall}") from e
