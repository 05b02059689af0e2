"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) through onnxruntime, mean-pooled and L2-normalised.

The int8 model ships without a tokenizer; the original `tokenizer.json` comes from another pip package
(see `device/models/catalog.py`). That file pads every input to a fixed 128 tokens, which makes a short
query cost as much as a long one, so padding is switched to the longest item of the batch.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from device.models.catalog import resolve

DIM = 384
MAX_TOKENS = 128  # memories and queries are a sentence or two; longer text is cut


class Embedder:
    """`embed(texts)` -> float32 array [n, 384], rows of unit length (cosine = dot product)."""

    def __init__(self, model: Path, tokenizer: Path, threads: int = 1):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer))
        self._tok.enable_truncation(MAX_TOKENS)
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")
        opts = ort.SessionOptions()
        # One thread: a query is ~10 tokens, and the LLM and TTS want the other core.
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.enable_cpu_mem_arena = False  # memories vary in length: the arena would keep the longest
        self._session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._lock = threading.Lock()  # tokenizers' padding state is per instance; keep calls serial

    @classmethod
    def load(cls, models_dir: Path | None = None, threads: int = 1) -> Embedder:
        """One embedder per model and thread count in a process: it is read-only, and every voice
        loop opens the memory (a benchmark makes dozens of loops; each load holds ~40 MB)."""
        model = resolve("minilm-l6-int8", models_dir)
        tokenizer = resolve("minilm-l6-tokenizer", models_dir)
        return _loaded(cls, model, tokenizer, threads)

    def embed(self, texts: list[str], batch: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), batch):
            out[start : start + batch] = self._embed_batch(texts[start : start + batch])
        return out

    def embed_one(self, text: str) -> np.ndarray:
        return self._embed_batch([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encs = self._tok.encode_batch(texts)
            ids = np.array([e.ids for e in encs], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feeds)[0]
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _loaded(cls: type[Embedder], model: Path, tokenizer: Path, threads: int) -> Embedder:
    return cls(model, tokenizer, threads)
