"""The onnx engine (onnxruntime-genai): chat messages in, speakable text out, streamed piece by piece.

Small models fail in known ways (SmolLM2-135M loops on one sentence and recites its system
prompt, measured), so every reply passes through a `ReplyGuard` that holds back only the words that
might still turn out to be a repeat or an echo, and stops the reply when one is confirmed, when
enough sentences have been said, or when the token budget is spent.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.pipeline.events import DialogueStats, Message
from device.pipeline.llm.base import (
    FIX,
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


@dataclass
class _Cache:
    """A generator kept between turns, and the tokens at the start of its KV cache that may be reused."""

    generator: Any  # og.Generator, sized max_length=context_tokens
    key: tuple  # the search options it was made with: another setting needs another generator
    ids: list[int]


class OnnxDialogue(WholeReply):
    """SmolLM-style chat models through onnxruntime-genai.

    With `reuse_prefix` (the default) one generator lives across turns. Each turn rewinds it to the
    longest common prefix of the tokens it holds and the new prompt, and prefills only the rest: the
    system prompt and the earlier turns are not recomputed, whatever the caller did to the history
    (a reply cut short by barge-in, dropped old turns, a new system prompt: it rewinds further).

    What is reused: the prompt's KV, and (with `reuse_reply`) the KV of the reply generated after it,
    as far as the next prompt repeats those tokens (the history holds the words actually spoken, re-
    tokenized). genai's one-row path (each generated token) rounds differently from a batch prefill
    with these int4 MatMulNBits weights (logits differ by up to ~1), so with the reply's KV reused a
    greedy reply can differ from what a fresh generator, prefilling the whole history at once, would
    say: equally the model's answer, computed the way generation computes it, and exactly what a
    generator gets that replays the same tokens the same way (tested). With `reuse_reply` off the
    reply is prefilled again next turn and greedy replies are identical to a fresh generator's. At
    least the last two prompt tokens are always prefilled anew.

    genai 0.18 details this relies on: `rewind_to(n)` also truncates the sequence the repetition penalty
    looks at, so the penalty covers exactly this turn's prompt and reply, as with a fresh generator; an
    EOS that ends an appended chunk is left pending (its logits are not computed until the next append),
    so such a token is never counted as cached. The KV buffer is allocated at max_length=context_tokens
    (SmolLM2-135M, fp32 KV: ~46 KB a token, ~94 MB at 2048) and stays allocated between turns.

    `stream` is meant for one thread at a time; `cancel` may be set from any thread. A stream owns the
    cached generator while it runs; a newer stream (say, after one was abandoned mid-iteration) starts
    from a fresh generator rather than share it. Any genai error drops the cache and falls back to a
    fresh generator.
    """

    def __init__(self, model_dir: Path, settings: DialogueSettings | None = None):
        self.model_dir = Path(model_dir)
        self.settings = settings or DialogueSettings()
        self.last_stats = DialogueStats()
        if not (self.model_dir / "genai_config.json").is_file():
            raise ModelLoadError(f"no language model in {self.model_dir} (no genai_config.json); fix: {FIX}")
        try:
            import onnxruntime_genai as og
        except ImportError as e:
            raise ModelLoadError("onnxruntime-genai is missing; fix: pip install onnxruntime-genai") from e
        self._og = og
        try:
            config = og.Config(str(self.model_dir))
            if self.settings.threads:
                options = {"intra_op_num_threads": self.settings.threads}
                config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
            self.model = og.Model(config)
            self.tokenizer = og.Tokenizer(self.model)
            self._template([Message("user", "hi")])  # fail now, not mid-conversation, if there is none
        except Exception as e:  # onnxruntime raises bare RuntimeErrors with long messages
            why = first_line(e)
            raise ModelLoadError(f"cannot load the LLM in {self.model_dir}: {why}; fix: {FIX}") from e
        self._eos = {int(t) for t in self.tokenizer.eos_token_ids}
        self._lock = threading.Lock()  # guards the three fields below
        self._cache: _Cache | None = None
        self._owner: int | None = None  # the stream that has the cache checked out
        self._tickets = 0

    def _template(self, messages: Sequence[Message]) -> str:
        payload = json.dumps(template_messages(messages))
        return self.tokenizer.apply_chat_template(payload, add_generation_prompt=True)

    @property
    def capabilities(self) -> DialogueCapabilities:
        return DialogueCapabilities(prime=self.settings.reuse_prefix)

    def encode(
        self, messages: Sequence[Message], settings: DialogueSettings | None = None, prefix: str = ""
    ) -> list[int]:
        """The templated prompt as token ids, ending with `prefix` (the start of the reply, already
        chosen); the oldest turns are dropped until prompt + reply fit."""
        s = settings or self.settings
        return fit_prompt(
            messages, s, lambda msgs: list(self.tokenizer.encode(self._template(msgs) + prefix))
        )

    def warm(self, system_prompt: str) -> int:
        """Prefill the system prompt now (say, at startup), so the first turn already reuses it."""
        return self.prime([Message("system", system_prompt)])

    def prime(self, messages: Sequence[Message]) -> int:
        """Prefill the next turn's prompt now, up to where its request will go (system prompt and
        history), while nobody is waiting: after a reply, or at startup. When the history is trimmed
        (the oldest block dropped) the whole prompt must be prefilled again, ~1 s a few turns into a
        conversation; done here, the next request only prefills its own words.

        Callable from any thread; a stream that starts meanwhile waits for it. Returns how many tokens
        are now cached (0 if reuse is off or a stream is running). Raises ValueError, as `stream`
        would, if the messages alone do not fit context_tokens."""
        s = self.settings
        if not s.reuse_prefix:
            return 0
        # The tokens every next prompt starts with, whatever the template puts around the request:
        # the common prefix of two prompts that differ only in the user's words.
        ids = next_prompt_start(self.encode, messages)
        while ids and ids[-1] in self._eos:
            ids.pop()  # genai would leave a final EOS pending; the turn prefills it
        if len(ids) < 2:
            return 0
        with self._lock:  # held through the prefill: a stream starting now waits for it
            if self._owner is not None:
                return 0
            cache, self._cache = self._cache, None
            self._cache, _ = self._prefill(cache, ids, s)
            return len(self._cache.ids)

    @staticmethod
    def _search_key(s: DialogueSettings) -> tuple:
        return (
            s.context_tokens,
            s.temperature > 0,
            s.temperature if s.temperature > 0 else 1.0,
            s.repetition_penalty,
        )

    def _new_generator(self, key: tuple, max_length: int) -> Any:
        _, do_sample, temperature, repetition_penalty = key
        params = self._og.GeneratorParams(self.model)
        params.set_search_options(
            max_length=max_length,
            do_sample=do_sample,
            temperature=temperature,
            repetition_penalty=repetition_penalty,
        )
        return self._og.Generator(self.model, params)

    def _prefill(self, cache: _Cache | None, ids: list[int], s: DialogueSettings) -> tuple[_Cache, int]:
        """Put ids into a kept generator, reusing cache's KV for the common prefix; (cache, tokens reused)."""
        key = self._search_key(s)
        # An appended chunk ending in EOS leaves that EOS pending in genai, so it is not counted as cached.
        held = ids[:-1] if ids and ids[-1] in self._eos else list(ids)
        if cache is not None and cache.key == key:
            # Prefill at least two tokens: the logits after the last one are needed, and a one-token
            # chunk takes genai's one-row path, which rounds differently from a batch prefill.
            n = max(0, min(common_prefix(cache.ids, ids), len(ids) - 2))
            try:
                cache.ids = []  # until the append succeeds, nothing in it is trusted
                cache.generator.rewind_to(n)
                cache.generator.append_tokens(ids[n:])
                cache.ids = held
                return cache, n
            except Exception as e:  # a stale or broken generator: start over below
                log.warning("reusing the KV cache failed (%s); prefilling the whole prompt", first_line(e))
        if cache is not None:
            cache.generator = None  # free the old KV buffer before allocating the new one
        generator = self._new_generator(key, max(key[0], len(ids) + s.max_new_tokens))
        generator.append_tokens(ids)
        return _Cache(generator, key, held), 0

    def _checkout(self) -> tuple[_Cache | None, int]:
        with self._lock:
            self._tickets += 1
            self._owner = self._tickets
            cache, self._cache = self._cache, None
            return cache, self._tickets

    def _checkin(self, ticket: int, cache: _Cache | None) -> None:
        with self._lock:
            if self._owner == ticket:  # else a newer stream took over; its cache wins
                self._owner = None
                self._cache = cache

    def stream(
        self,
        messages: Sequence[Message],
        cancel: threading.Event | None = None,
        settings: DialogueSettings | None = None,
        prefix: str = "",
    ) -> Iterator[str]:
        """The reply piece by piece. With `prefix`, the reply starts with those words (they are
        yielded at once) and the model goes on from them."""
        s = settings or self.settings
        start = time.monotonic()
        stats = self.last_stats = DialogueStats(stop_reason="closed")
        guard = reply_guard(messages, s)
        ids = self.encode(messages, s, prefix)
        if prefix and (opening := guard.feed(prefix)):
            stats.first_text_s = time.monotonic() - start
            yield opening
        stats.prompt_tokens = len(ids)

        decoder = self.tokenizer.create_stream()
        first_token_at = None
        decode_s = 0.0  # time spent generating after the first token, not waiting on our consumer
        if cancel is not None and cancel.is_set():
            stats.stop_reason = "cancel"
            return
        cache, ticket = self._checkout() if s.reuse_prefix else (None, None)
        generator = None
        keep = False
        generated: list[int] = []
        try:
            if s.reuse_prefix:
                cache, stats.reused_tokens = self._prefill(cache, ids, s)
                generator, keep = cache.generator, True
            else:
                with self._lock:
                    if self._owner is None:
                        self._cache = None  # reuse was turned off: free the kept KV buffer
                # max_length also sizes the KV buffer, so keep it to what this reply can use.
                generator = self._new_generator(self._search_key(s), len(ids) + s.max_new_tokens)
                generator.append_tokens(ids)  # prefill
            while True:
                if cancel is not None and cancel.is_set():
                    stats.stop_reason = "cancel"
                    return
                if generator.is_done() or stats.new_tokens >= s.max_new_tokens:
                    out = guard.finish("budget" if stats.new_tokens >= s.max_new_tokens else "eos")
                else:
                    t = time.monotonic()
                    generator.generate_next_token()
                    token = int(generator.get_next_tokens()[0])
                    generated.append(token)
                    stats.new_tokens += 1
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                        stats.first_token_s = first_token_at - start
                    else:
                        decode_s += time.monotonic() - t
                    out = guard.finish("eos") if token in self._eos else guard.feed(decoder.decode(token))
                if out:
                    if stats.first_text_s is None:
                        stats.first_text_s = time.monotonic() - start
                    yield out
                if guard.stop_reason:
                    stats.stop_reason = guard.stop_reason
                    return
        except Exception:
            keep = False  # don't trust a generator that raised; the next turn starts fresh
            raise
        finally:
            if decode_s > 0:
                stats.tokens_per_s = (stats.new_tokens - 1) / decode_s
            if ticket is not None:
                if keep and cache is not None and generated and s.reuse_reply:
                    # The KV now holds the prompt and the reply but its newest token (genai computes a
                    # token's KV when it generates the next). Next turn the history repeats the reply,
                    # so its tokens are reused as far as they match what was said, not prefilled again.
                    cache.ids = cache.ids + generated[:-1]
                self._checkin(ticket, cache if keep else None)
            del generator, cache  # without reuse: frees the KV cache now rather than at the next GC
