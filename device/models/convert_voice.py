"""Convert Resemblyzer's GE2E voice encoder (`resemblyzer/pretrained.pt`, Apache-2.0) into ONNX, with
no torch: the board converts it itself in about a second.

The checkpoint is a legacy (pre-1.6) torch pickle. `read_legacy_checkpoint` reads it with an
unpickler that knows only tensors, storages and OrderedDict, so nothing in the file can run code. The
network is three stacked LSTMs (40 mels -> 256), a 256 -> 256 linear layer, a ReLU and an L2 norm;
the graph is built with the `onnx` package from ONNX's own LSTM, Gemm and norm ops.
"""

from __future__ import annotations

import collections
import pickle
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.models.convert import ConversionError

ONNX_FILE = "voice_encoder.onnx"
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}
HIDDEN = 256
LAYERS = 3
N_MELS = 40


@dataclass
class _Storage:
    dtype: type
    numel: int
    data: np.ndarray | None = None


@dataclass
class _LazyTensor:
    """A tensor whose storage bytes come after the pickle in a legacy file."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...] = field(default=())

    def array(self) -> np.ndarray:
        assert self.storage.data is not None
        item = self.storage.data.itemsize
        flat = self.storage.data[self.offset :]
        return np.lib.stride_tricks.as_strided(
            flat, shape=self.size, strides=tuple(s * item for s in self.stride)
        ).copy()


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_: Any) -> _LazyTensor:
    return _LazyTensor(storage, offset, tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name: str):
        self.dtype = _DTYPES[name]


class _Unpickler(pickle.Unpickler):
    """Only what a state dict holds: nothing else in the file is allowed to load."""

    def __init__(self, f: Any):
        super().__init__(f)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        _kind, storage_type, key, _location, numel, *_ = pid
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
        return self.storages[key]


def read_legacy_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint's objects, with every tensor as a numpy array."""
    with open(path, "rb") as f:
        if pickle.load(f) != _LEGACY_MAGIC:
            raise ConversionError(f"{path} is not a legacy torch checkpoint (unknown magic number)")
        pickle.load(f)  # protocol version
        pickle.load(f)  # system info
        unpickler = _Unpickler(f)
        obj = unpickler.load()
        for key in pickle.load(f):
            storage = unpickler.storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            raw = f.read(numel * np.dtype(storage.dtype).itemsize)
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return _materialise(obj)


def _materialise(obj: Any) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.array()
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(v) for v in obj)
    return obj


def _onnx_gates(w: np.ndarray) -> np.ndarray:
    """torch stacks an LSTM's gates i, f, g, o; ONNX wants i, o, f, c."""
    i, f, g, o = np.split(w, 4, axis=0)
    return np.concatenate([i, o, f, g], axis=0)


def build_graph(state: dict[str, np.ndarray]) -> Any:
    """The encoder as an ONNX model: mels (batch, frames, 40) -> embeds (batch, 256), L2-normed."""
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, name))
        return name

    nodes.append(helper.make_node("Transpose", ["mels"], ["x0"], perm=[1, 0, 2]))  # (frames, batch, 40)
    x = "x0"
    for k in range(LAYERS):
        w = const(f"W{k}", _onnx_gates(state[f"lstm.weight_ih_l{k}"])[None].astype(np.float32))
        r = const(f"R{k}", _onnx_gates(state[f"lstm.weight_hh_l{k}"])[None].astype(np.float32))
        b = np.concatenate(
            [_onnx_gates(state[f"lstm.bias_ih_l{k}"]), _onnx_gates(state[f"lstm.bias_hh_l{k}"])]
        )
        bias = const(f"B{k}", b[None].astype(np.float32))
        nodes.append(helper.make_node("LSTM", [x, w, r, bias], [f"y{k}", f"h{k}"], hidden_size=HIDDEN))
        if k < LAYERS - 1:
            nodes.append(
                helper.make_node("Squeeze", [f"y{k}", const(f"ax{k}", np.array([1]))], [f"x{k + 1}"])
            )
            x = f"x{k + 1}"
    last = f"h{LAYERS - 1}"
    nodes += [
        helper.make_node("Squeeze", [last, const("ax_h", np.array([0]))], ["hidden"]),
        helper.make_node(
            "Gemm",
            [
                "hidden",
                const("lin_w", state["linear.weight"].astype(np.float32)),
                const("lin_b", state["linear.bias"].astype(np.float32)),
            ],
            ["lin"],
            transB=1,
        ),  # fmt: skip
        helper.make_node("Relu", ["lin"], ["raw"]),
        helper.make_node("ReduceL2", ["raw", const("ax_n", np.array([1]))], ["norm"], keepdims=1),
        helper.make_node("Max", ["norm", const("eps", np.array([1e-8], np.float32))], ["safe"]),
        helper.make_node("Div", ["raw", "safe"], ["embeds"]),
    ]
    graph = helper.make_graph(
        nodes,
        "ge2e_voice_encoder",
        [helper.make_tensor_value_info("mels", TensorProto.FLOAT, ["batch", "frames", N_MELS])],
        [helper.make_tensor_value_info("embeds", TensorProto.FLOAT, ["batch", HIDDEN])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8  # readable by onnxruntime 1.18 and later
    return model


def convert_voice_encoder(pt_path: Path, out_dir: Path, log: Callable[[str], None] = print) -> Path:
    """Write `out_dir/voice_encoder.onnx` from Resemblyzer's checkpoint. Needs numpy and onnx only."""
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise ConversionError("converting the voice encoder needs the onnx package: pip install onnx")
    start = time.monotonic()
    try:
        checkpoint = read_legacy_checkpoint(Path(pt_path))
        state = checkpoint["model_state"]
        model = build_graph(state)
    except (OSError, KeyError, pickle.UnpicklingError, EOFError, struct.error, ValueError) as e:
        raise ConversionError(
            f"cannot read the voice encoder weights at {pt_path} ({type(e).__name__}: {e}); "
            "reinstall them with: pip install --force-reinstall --no-deps resemblyzer==0.1.4"
        ) from e
    import onnx

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (ONNX_FILE + ".tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out_dir / ONNX_FILE)
    log(f"convert: wrote {out_dir / ONNX_FILE} in {time.monotonic() - start:.1f} s")
    return out_dir
