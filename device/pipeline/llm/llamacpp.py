"""A GGUF chat model run in-process through llama-cpp-python: no conversion step, and on some ARM
CPUs several times faster than onnxruntime-genai's int4 kernels (microsoft/onnxruntime-genai#1098),
so the board can use whichever `os1 bench --llm-engines` finds faster.

KV reuse across turns is llama-cpp-python's own: `generate` keeps the tokens it evaluated (the prompt
and the reply) and evaluates only what follows the longest common prefix with the next prompt, so the
persona and the earlier turns are not recomputed; `prime` evaluates the next prompt's start while the
owner thinks. The chat template is the GGUF's own (its `tokenizer.chat_template`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from device.pipeline.events import DialogueStats, Message
from device.pipeline.guard import ReplyGuard
from device.pipeline.llm.base import (
    ModelLoadError,
    WholeReply,
    common_prefix,
    first_line,
    fit_prompt,
    next_prompt_start,
    reply_guard,
    template_messages,
)
from device.pipeline.settings import DialogueSettings
from device.pipeline.stages import DialogueCapabilities

log = logging.getLogger(__name__)

INSTALL = "pip install 'os1[llamacpp]' (it compiles llama.cpp: minutes; `make llamacpp` caches the wheel)"


class LlamaCppDialogue(WholeReply):
    """`stages.Dialogue` over llama_cpp.Llama. One stream at a time (a lock); `cancel` from any thread."""

    def __init__(self, gguf: Path, settings: DialogueSettings | None = None):
        self.gguf = Path(gguf)
        self.settings = settings or DialogueSettings()
        self.last_stats = DialogueStats()
        if not self.gguf.is_file():
            raise ModelLoadError(f"no GGUF model at {self.gguf}; fix: os1 models fetch (or set llm.gguf)")
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as e:
            raise ModelLoadError(f"llama-cpp-python is missing (llm.engine: llamacpp); fix: {INSTALL}") from e
        s = self.settings
        # Half the cores, for prefill too: llama.cpp's threads spin at each step's barrier, and with the
        # STT, the TTS or another process on the other cores, two threads on a 2-core box made the first
        # token 10-20x slower (measured: 262 ms with one thread, 0.4-5.3 s with two, under load).
        threads = s.threads or max(1, (os.cpu_count() or 2) // 2)
        try:
            self.model = llama_cpp.Llama(
                model_path=str(self.gguf),
                n_ctx=s.context_tokens,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=256,
                verbose=False,
            )
        except Exception as e:  # llama.cpp raises ValueError("Failed to load model from file: …")
            raise ModelLoadError(
                f"cannot load the GGUF {self.gguf}: {first_line(e)}; fix: fetch it again"
            ) from e
        template = self.model.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelLoadError(f"{self.gguf} has no chat template; fix: use an instruct (chat) GGUF")
        eos = self.model.token_eos()
        bos = self.model.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template,
            eos_token=self.model.detokenize([eos], special=True).decode(errors="ignore"),
            bos_token=self.model.detokenize([bos], special=True).decode(errors="ignore") if bos >= 0 else "",
        )
        self._eog = {eos}
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> DialogueCapabilities:
        return DialogueCapabilities(prime=True)

    def encode(
        self, messages: Sequence[Message], settings: DialogueSettings | None = None, prefix: str = ""
    ) -> list[int]:
        """The templated prompt as tokens, ending with `prefix`; the oldest turns dropped until it fits."""
        s = settings or self.settings

        def tokens(msgs: list[Message]) -> list[int]:
            prompt = self._formatter(messages=template_messages(msgs)).prompt + prefix
            return self.model.tokenize(prompt.encode(), add_bos=False, special=True)

        return fit_prompt(messages, s, tokens)

    def prime(self, messages: Sequence[Message]) -> int:
        """Evaluate the next prompt's start (persona and history) now, while nobody waits."""
        if not self.settings.reuse_prefix:
            return 0
        ids = next_prompt_start(self.encode, messages)
        if len(ids) < 2 or not self._lock.acquire(blocking=False):
            return 0  # a stream is running: it has the model
        try:
            # generate() keeps the longest prefix already evaluated and evaluates the rest; its first
            # sampled token is dropped (it is not in the KV until the next step).
            tokens = self.model.generate(ids, temp=0.0, reset=True)
            next(tokens)
            tokens.close()
            return self.model.n_tokens
        finally:
            self._lock.release()

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        s = settings or self.settings
        start = time.monotonic()
        stats = self.last_stats = DialogueStats(stop_reason="closed")
        guard = reply_guard(messages, s)
        ids = self.encode(messages, s, prefix)
        stats.prompt_tokens = len(ids)
        if prefix and (opening := guard.feed(prefix)):
            stats.first_text_s = time.monotonic() - start
            yield opening
        with self._lock:
            if not s.reuse_prefix:
                self.model.reset()
            held = list(self.model.input_ids[: self.model.n_tokens])
            stats.reused_tokens = common_prefix(held, ids[:-1])  # what generate's own prefix match keeps
            yield from self._generate(ids, stats, guard, s, cancel, start)

    def _generate(
        self,
        ids: list[int],
        stats: DialogueStats,
        guard: ReplyGuard,
        s: DialogueSettings,
        cancel: threading.Event | None,
        start: float,
    ) -> Iterator[str]:
        pending = b""  # bytes of a character split across tokens
        first_at: float | None = None
        tokens: Any = self.model.generate(
            ids,
            temp=s.temperature,
            repeat_penalty=s.repetition_penalty,
            reset=True,  # keeps the longest prefix already evaluated, evaluates the rest
        )
        try:
            for token in tokens:
                if cancel is not None and cancel.is_set():
                    stats.stop_reason = "cancel"
                    return
                if first_at is None:
                    first_at = time.monotonic()
                    stats.first_token_s = first_at - start
                if token in self._eog or stats.new_tokens >= s.max_new_tokens:
                    out = guard.finish("eos" if token in self._eog else "budget")
                    stats.stop_reason = guard.stop_reason or "eos"
                    if out:
                        yield out
                    return
                stats.new_tokens += 1
                pending += self.model.detokenize([token])
                try:
                    text, pending = pending.decode(), b""
                except UnicodeDecodeError:
                    continue  # the rest of the character comes with the next token
                if (out := guard.feed(text)) and stats.first_text_s is None:
                    stats.first_text_s = time.monotonic() - start
                if out:
                    yield out
                if guard.stop_reason:
                    stats.stop_reason = guard.stop_reason
                    return
        finally:
            tokens.close()  # stops llama-cpp-python's generator (and its sampling) now
            if first_at is not None and stats.new_tokens > 1:
                stats.tokens_per_s = (stats.new_tokens - 1) / max(1e-6, time.monotonic() - first_at)
