"""Raw engines vs ours, on the same inputs: Piper's own synthesize vs our TTS wrapper, a plain
onnxruntime-genai loop vs our dialogue, and each English STT engine offline on the bench's clips."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from device.app.engines import Engines, build_stt
from device.config import paths
from device.config.schema import Config
from device.evals.bench.corpus import Request
from device.evals.bench.stats import rounded
from device.pipeline.events import Message
from device.pipeline.llm.onnx import OnnxDialogue
from device.pipeline.tts import PiperTTS

RAW_REPEATS = 3  # TTS raw/ours timings: the median of this many alternating runs


def _timed_chunks(chunks: Iterable[np.ndarray]) -> tuple[float, float, int]:
    """(first chunk s, total s, samples) for a lazy stream of audio chunks."""
    t0 = time.monotonic()
    first, samples = None, 0
    for audio in chunks:
        first = time.monotonic() - t0 if first is None else first
        samples += len(audio)
    return first or 0.0, time.monotonic() - t0, samples


def _raw_piper(tts: PiperTTS, text: str) -> Iterator[np.ndarray]:
    """Piper's own `PiperVoice.synthesize`, with the same settings our wrapper passes."""
    from piper import SynthesisConfig

    p = tts.prosody
    config = SynthesisConfig(
        length_scale=p.length_scale, noise_scale=p.noise_scale, noise_w_scale=p.noise_w_scale, volume=p.volume
    )
    for chunk in tts.voice.synthesize(text, config):
        yield chunk.audio_int16_array


def tts_overhead(tts: PiperTTS, texts: list[str]) -> dict[str, Any]:
    """PiperVoice.synthesize called directly vs PiperTTS.synthesize, on the same texts (median of repeats)."""
    raw_first, raw_total, ours_first, ours_total, audio_s = [], [], [], [], 0.0
    for text in texts:
        runs: dict[str, list[tuple[float, float, int]]] = {"raw": [], "ours": []}
        for _ in range(RAW_REPEATS):
            runs["raw"].append(_timed_chunks(_raw_piper(tts, text)))
            runs["ours"].append(_timed_chunks(tts.synthesize(text)))
        raw_first.append(statistics.median(r[0] for r in runs["raw"]))
        raw_total.append(statistics.median(r[1] for r in runs["raw"]))
        ours_first.append(statistics.median(r[0] for r in runs["ours"]))
        ours_total.append(statistics.median(r[1] for r in runs["ours"]))
        audio_s += runs["ours"][0][2] / tts.sample_rate
    return {
        "texts": len(texts),
        "raw_first_audio_ms": rounded(statistics.median(raw_first) * 1000),
        "ours_first_audio_ms": rounded(statistics.median(ours_first) * 1000),
        "raw_rtf": rounded(sum(raw_total) / audio_s, 4),
        "ours_rtf": rounded(sum(ours_total) / audio_s, 4),
        "first_audio_ratio": rounded(statistics.median(ours_first) / statistics.median(raw_first), 3),
        "total_time_ratio": rounded(sum(ours_total) / sum(raw_total), 3),
    }


def _raw_generate(dialogue: OnnxDialogue, ids: list[int], n_tokens: int) -> tuple[float, float]:
    """onnxruntime-genai's plain loop on the same prompt tokens, greedy: (first token s, tokens/s)."""
    import onnxruntime_genai as og

    s = dialogue.settings
    t0 = time.monotonic()
    params = og.GeneratorParams(dialogue.model)
    params.set_search_options(
        max_length=len(ids) + s.max_new_tokens, do_sample=False, repetition_penalty=s.repetition_penalty
    )
    generator = og.Generator(dialogue.model, params)
    generator.append_tokens(ids)
    first, n, decode_s = 0.0, 0, 0.0
    while not generator.is_done() and n < n_tokens:
        t = time.monotonic()
        generator.generate_next_token()
        generator.get_next_tokens()
        n += 1
        if n == 1:
            first = time.monotonic() - t0
        else:
            decode_s += time.monotonic() - t
    return first, (n - 1) / decode_s if decode_s > 0 else 0.0


def _ours_generate(dialogue: OnnxDialogue, messages: list[Message]) -> tuple[float, float, float, int]:
    """dialogue.stream timed from outside: (first token s, first text s, tokens/s, tokens).

    Tokens/s is over the whole stream after the first token, so the reply guard and detokenizing count."""
    t0 = time.monotonic()
    for _ in dialogue.stream(messages):
        pass
    total = time.monotonic() - t0
    st = dialogue.last_stats
    first = st.first_token_s or 0.0
    rate = (st.new_tokens - 1) / (total - first) if st.new_tokens > 1 and total > first else 0.0
    return first, st.first_text_s or 0.0, rate, st.new_tokens


def llm_overhead(dialogue: OnnxDialogue, system_prompt: str, questions: list[str]) -> dict[str, Any]:
    """Raw og.Generator loop vs dialogue.stream on the same prompts and token counts.

    Ours runs twice: without KV reuse (like for like with the raw loop), and as the loop runs it, with
    the system prompt's KV kept from earlier turns (then it prefills fewer tokens than the raw loop)."""
    raw, plain, reuse = [], [], []
    saved = dialogue.settings  # frozen: swapped whole, and put back
    try:
        for q in questions:
            messages = [Message("system", system_prompt), Message("user", q)]
            dialogue.settings = replace(saved, reuse_prefix=False)
            plain.append(_ours_generate(dialogue, messages))
            raw.append(_raw_generate(dialogue, dialogue.encode(messages), plain[-1][3]))
            dialogue.settings = replace(saved, reuse_prefix=True)
            dialogue.warm(system_prompt)  # the steady state of a running companion
            reuse.append(_ours_generate(dialogue, messages))
    finally:
        dialogue.settings = saved

    def med(rows: list[tuple], i: int, scale: float = 1.0) -> float:
        return statistics.median(r[i] for r in rows) * scale

    return {
        "prompts": len(questions),
        "raw_first_token_ms": rounded(med(raw, 0, 1000)),
        "raw_tokens_per_s": rounded(med(raw, 1)),
        "ours_first_token_ms": rounded(med(plain, 0, 1000)),
        "ours_first_text_ms": rounded(med(plain, 1, 1000)),
        "ours_tokens_per_s": rounded(med(plain, 2)),
        "ours_kv_reuse_first_token_ms": rounded(med(reuse, 0, 1000)),
        "ours_kv_reuse_tokens_per_s": rounded(med(reuse, 2)),
        "first_token_ratio": rounded(med(plain, 0) / med(raw, 0), 3),
        "time_per_token_ratio": rounded(med(raw, 1) / med(plain, 2), 3) if med(plain, 2) else None,
        "kv_reuse_first_token_ratio": rounded(med(reuse, 0) / med(raw, 0), 3),
    }


def stt_engines(cfg: Config, engines: Engines, requests: list[Request]) -> dict[str, Any]:
    """Each English STT engine on the same clips, offline (stt_eval's paced 0.5 s end-of-turn tail)."""
    from device.evals import stt as stt_eval
    from device.pipeline.stt.whisper import WhisperSTT

    out: dict[str, Any] = {}
    for name in ("whisper", "moonshine"):
        try:
            stt = engines.stt if name == cfg.stt.engine else _other_stt(cfg, name)
        except Exception as e:  # the other engine is optional
            out[name] = {"error": str(e).splitlines()[0]}
            continue
        speculate = isinstance(stt, WhisperSTT)
        results = [
            stt_eval.run_request(stt, stt_eval.Request(r.text, r.voice, r.audio), speculate=speculate)
            for r in requests
        ]
        out[name] = {
            "speculate": speculate,
            "finish_ms_median": rounded(statistics.median(x.latency_s for x in results) * 1000),
            "compute_ms_median": rounded(statistics.median(x.compute_s for x in results) * 1000),
            "in_loop": name == cfg.stt.engine,
        }
        if stt is not engines.stt and hasattr(stt, "close"):
            stt.close()
    return out


def _other_stt(cfg: Config, engine: str) -> Any:
    models_dir = paths.dirs(cfg).models
    return build_stt(cfg.stt.model_copy(update={"engine": engine, "model": ""}), models_dir)
