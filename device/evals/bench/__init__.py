"""`os1 bench`: how fast the whole pipeline answers, measured the way the user feels it.

    os1 bench [--requests N] [--no-sequential] [--stt moonshine] [--input-dir DIR] [--json F] [--plot F.png]

Every request runs through the real pipeline (the configured engines and models) with the recording fed at
the microphone's real-time pace and the reply played at the earpiece's pace (the drivers' file stand-ins).
The requests are synthesized ("Hey Jarvis. <request>") in the Piper voice at several speeds and in
espeak-ng voices, some over white noise, and cached as WAVs in a temp dir (nothing is committed).

Each clip first goes through the wake word alone (fast). One it misses (openWakeWord misses some
espeak-ng voices) is run as if the button had been tapped before it (`loop.addressed()`), so every other
stage is still measured; the misses are counted. A few requests are cut off with `loop.tap()` one second
into the reply to time barge-in. The whole set runs twice, streaming and sequential
(`LoopSettings.sequential`: full transcript, full reply, full speech, then play), and the ratio of their
median response gaps is reported.

Then, on the same inputs: raw onnxruntime-genai and Piper calls against our dialogue and TTS wrappers (our
overhead), the other STT engine offline, idle CPU with only VAD and wake word running, and peak RSS.
Nothing is asserted: the targets from the issue are printed next to the measured values.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import multiprocessing
import os
import re
import resource
import shlex
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from device.app.engines import Engines, build_stt, load_all, persona
from device.app.files import feed_frames, make_loop
from device.config import paths
from device.config.schema import Config
from device.drivers.audio import FileEarpiece, FileMicrophone
from device.drivers.wavfile import read_wav, write_wav
from device.evals.speech import espeak_speech, join, mix, noise, piper_speech, silence
from device.pipeline.audio import FRAME_SAMPLES, SAMPLE_RATE, frames
from device.pipeline.dialogue import Message, OnnxDialogue
from device.pipeline.events import State, Turn
from device.pipeline.loop import VoiceLoop
from device.pipeline.tts import PiperTTS

log = logging.getLogger("os1.bench")

CACHE_VERSION = 1  # bump when a recipe changes in a way the cache key does not show
NOISE_DBFS = -35.0  # background for the noisy requests
IDLE_NOISE_DBFS = -50.0  # a quiet room, for the idle CPU measurement
LEAD_S, GAP_S, TRAIL_S = 0.5, 0.3, 0.3  # silence before "Hey Jarvis", after it, and after the request
WAKE_GRACE_S = 1.5  # after the recording ends, how long a wake may still take before it counts as missed
BARGE_IN_AFTER_S = 1.0  # tap this long after the reply starts playing
TURN_TIMEOUT_S = 90.0
RAW_REPEATS = 3  # TTS raw/ours timings: the median of this many alternating runs

TARGETS = {
    "response_gap_ms": 600.0,
    "response_gap_stretch_ms": 400.0,
    "streaming_over_sequential": 0.4,
    "tts_first_audio_ms": 150.0,
    "overhead": 1.05,
    "barge_in_stop_ms": 100.0,
    "idle_cpu_s_per_audio_s": 0.05,
}

# (key in a request row, label, target or None): summarized as median and p90 over the requests.
METRICS: tuple[tuple[str, str, float | None], ...] = (
    ("wake_ms", "wake delay after the phrase (ms)", None),
    ("eos_to_transcript_ms", "end of speech -> transcript (ms)", None),
    ("stt_ms", "  STT compute after end of turn (ms)", None),
    ("llm_first_token_ms", "LLM first token (ms)", None),
    ("llm_tokens_per_s", "LLM tokens/s", None),
    ("tts_first_audio_ms", "TTS first audio (ms)", TARGETS["tts_first_audio_ms"]),
    ("tts_rtf", "TTS real-time factor", None),
    ("response_gap_ms", "response gap (ms)", TARGETS["response_gap_ms"]),
    ("gap_from_last_sample_ms", "  gap from the clip's last speech (ms)", None),
    ("barge_in_stop_ms", "barge-in stop (ms)", TARGETS["barge_in_stop_ms"]),
)

REQUEST_FIELDS = (
    "index", "name", "voice", "noise_dbfs", "text", "audio_s", "mode", "woke", "wake_ms",
    "eos_to_transcript_ms", "end_of_turn_ms", "stt_ms", "llm_first_token_ms", "llm_tokens_per_s",
    "llm_new_tokens", "llm_prompt_tokens", "llm_reused_tokens", "tts_first_audio_ms", "tts_rtf",
    "response_gap_ms", "gap_from_last_sample_ms",
    "barge_in", "barge_in_stop_ms", "peak_rss_mb", "other_cpu_pct", "transcript", "reply", "marks_ms",
    "error",
)  # fmt: skip


# ================================================================================ requests
@dataclass(frozen=True)
class Voice:
    engine: str  # "piper" or "espeak"
    name: str = ""  # the espeak-ng voice
    speed: float = 1.0  # Piper length_scale (> 1 is slower) or espeak-ng words per minute
    pitch: int = 50  # espeak-ng only

    @property
    def label(self) -> str:
        if self.engine == "piper":
            return f"piper x{self.speed:g}"
        return f"espeak {self.name} {self.speed:.0f}wpm"

    def speak(self, text: str) -> np.ndarray:
        if self.engine == "piper":
            return piper_speech(text, self.speed)
        return espeak_speech(text, self.name, int(self.speed), self.pitch)


@dataclass(frozen=True)
class Recipe:
    text: str
    voice: Voice
    noise_dbfs: float | None = None
    barge_in: bool = False


@dataclass
class Request:
    index: int
    name: str
    voice: str
    text: str  # what is asked ("" for a user's recording)
    audio: np.ndarray  # int16 16 kHz, the whole clip
    noise_dbfs: float | None = None
    barge_in: bool = False
    speech_end_sample: int | None = None  # where the speech ends in `audio`, if known

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


PIPER = Voice("piper")
RECIPES = (
    Recipe("What is the capital of France?", PIPER),
    Recipe(
        "Tell me a story about a lighthouse keeper and the sea.", Voice("piper", speed=0.9), barge_in=True
    ),
    Recipe("How far away is the moon?", Voice("espeak", "en-us", 160)),
    Recipe("What should I cook for dinner tonight?", Voice("piper", speed=1.15), NOISE_DBFS),
    Recipe("Why is the sky blue?", Voice("espeak", "en-gb-x-rp", 170, 55)),
    Recipe("Tell me about the history of the bicycle.", Voice("espeak", "en+f3", 140, 70), NOISE_DBFS, True),
    Recipe("Give me a tip for sleeping better.", PIPER, NOISE_DBFS),
    Recipe("How do I say thank you in Spanish?", Voice("espeak", "en+m7", 180, 30)),
    Recipe("What is a good name for a grey cat?", Voice("piper", speed=0.85)),
    Recipe("Describe a walk through a forest in autumn.", Voice("espeak", "en-us", 150), NOISE_DBFS, True),
    Recipe("What can I do on a rainy afternoon?", Voice("espeak", "en-029", 150)),
    Recipe("Why is exercise good for me?", Voice("piper", speed=1.25)),
)


def _trim(audio: np.ndarray, level: int = 200) -> np.ndarray:
    """Cut leading and trailing near-silence, so the clip's pauses are the ones set here."""
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > level)
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def render(recipe: Recipe) -> np.ndarray:
    """Say "Hey Jarvis." then the request, in one voice, with natural pauses; over noise if asked."""
    wake, request = _trim(recipe.voice.speak("Hey Jarvis.")), _trim(recipe.voice.speak(recipe.text))
    clip = join(silence(LEAD_S), wake, silence(GAP_S), request, silence(TRAIL_S))
    if recipe.noise_dbfs is not None:
        clip = mix(clip, noise(len(clip) / SAMPLE_RATE + 0.1, recipe.noise_dbfs, seed=len(recipe.text)))
    return clip


def _cache_path(recipe: Recipe, cache_dir: Path) -> Path:
    key = repr((CACHE_VERSION, recipe.text, recipe.voice, recipe.noise_dbfs))
    return cache_dir / f"{_slug(recipe.text)}-{hashlib.sha1(key.encode()).hexdigest()[:10]}.wav"


def render_to_cache(recipes: list[Recipe], cache_dir: Path) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    for recipe in recipes:
        write_wav(_cache_path(recipe, cache_dir), render(recipe))


def synthesized_requests(count: int | None, cache_dir: Path) -> list[Request]:
    """The first `count` recipes, rendered once into the cache. Rendering runs in a child process, so
    the Piper voices it loads do not count in this process's peak RSS."""
    recipes = list(RECIPES[:count])
    missing = [r for r in recipes if not _cache_path(r, cache_dir).is_file()]
    if missing:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            pool.submit(render_to_cache, missing, cache_dir).result()
    out = []
    for i, r in enumerate(recipes):
        audio = read_wav(_cache_path(r, cache_dir))
        name = r.voice.label + (" +noise" if r.noise_dbfs is not None else "")
        end = len(audio) - int(TRAIL_S * SAMPLE_RATE)
        out.append(Request(i, name, r.voice.label, r.text, audio, r.noise_dbfs, r.barge_in, end))
    return out


def wav_requests(input_dir: Path, count: int | None) -> list[Request]:
    """The user's own recordings; every fourth (from the second) is cut off by a tap to time barge-in."""
    wavs = sorted(p for p in input_dir.iterdir() if p.suffix.lower() == ".wav")[:count]
    return [Request(i, p.stem, "file", "", read_wav(p), barge_in=i % 4 == 1) for i, p in enumerate(wavs)]


# ================================================================================ one request
@dataclass
class Outcome:
    request: Request
    mode: str  # "streaming" or "sequential"
    woke: bool  # the wake word fired (else the request was run again as if tapped in)
    turn: Turn | None
    peak_rss_mb: float
    other_cpu_pct: float | None = None  # other processes' CPU meanwhile, % of one core
    last_speech_fed_t: float | None = None  # when the clip's last speech sample went into the loop


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def rss_mb() -> float | None:
    """This process's resident memory now (Linux)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else None


def busy_cpu_s() -> float | None:
    """CPU time every process on the machine has used (Linux /proc/stat), to spot other load."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """How busy the rest of the machine was while a block ran: other processes' CPU, in % of one core.

    The box has two cores, so anyone else's test run changes the timings; this says when it did."""

    def __enter__(self) -> OtherLoad:
        self.busy0, self.cpu0, self.t0 = busy_cpu_s(), time.process_time(), time.monotonic()
        self.percent: float | None = None
        return self

    def __exit__(self, *_exc: object) -> None:
        busy = busy_cpu_s()
        wall = time.monotonic() - self.t0
        if busy is not None and self.busy0 is not None and wall > 0:
            others = (busy - self.busy0) - (time.process_time() - self.cpu0)
            self.percent = round(max(0.0, others) / wall * 100, 1)


def wake_fires(engines: Engines, audio: np.ndarray) -> bool:
    """Does the wake word fire anywhere in `audio`? (Fed as fast as it goes; the engine is reset.)"""
    wake = engines.wake
    if wake is None:
        return False
    wake.reset()
    try:
        return any(wake.process(f) is not None for f in frames(audio))
    finally:
        wake.reset()


def _wait(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


def _microphone(req: Request) -> FileMicrophone:
    """The clip, then its background (noise or silence) for as long as the turn may take."""
    if req.noise_dbfs is None:
        return FileMicrophone(req.audio, realtime=True, tail_s=TURN_TIMEOUT_S)
    background = noise(TURN_TIMEOUT_S, req.noise_dbfs, seed=req.index + 1)
    return FileMicrophone(join(req.audio, background), realtime=True, tail_s=0.0)


def _tap_into_reply(loop: VoiceLoop, done: threading.Event) -> None:
    """Barge-in by button: tap BARGE_IN_AFTER_S after the reply starts playing (if it still is)."""
    if _wait(lambda: loop.state is State.SPEAKING or done.is_set(), TURN_TIMEOUT_S) and not done.is_set():
        time.sleep(BARGE_IN_AFTER_S)
        if loop.state is State.SPEAKING:
            loop.tap()


def _noting_when_fed(
    mic: Iterable[tuple[np.ndarray, float]], sample: int | None, fed: dict[str, float]
) -> Iterator[tuple[np.ndarray, float]]:
    """The microphone's frames, noting when the frame holding `sample` went in."""
    for i, (frame, t) in enumerate(mic):
        if sample is not None and "last_speech" not in fed and (i + 1) * FRAME_SAMPLES >= sample:
            fed["last_speech"] = t
        yield frame, t


@dataclass
class Pass:
    woke: bool  # the wake word fired, or the pass started with a tap
    turn: Turn | None = None
    last_speech_fed_t: float | None = None


def one_pass(
    cfg: Config,
    engines: Engines,
    req: Request,
    sequential: bool,
    tap_first: bool,
    out_wav: Path,
    history: list[Message],
) -> Pass:
    """Feed one request in real time to a fresh loop and wait for its turn. The loop carries on the
    conversation in `history` (updated in place), as the daemon would: the prompt grows, and the
    LLM's cache holds it, primed between requests."""
    turns: list[Turn] = []
    done = threading.Event()

    def on_turn(turn: Turn) -> None:
        turns.append(turn)
        done.set()

    ear = FileEarpiece(out_wav, realtime=True)
    loop = make_loop(cfg, engines, ear, on_turn)
    loop.settings.sequential = sequential
    loop.settings.follow_up_s = 0.0  # one turn per request; the next request gets a fresh loop
    if history:  # make_loop has primed the persona already; add the conversation so far
        loop.history = list(history)
        loop.prime_prompt()
    if engines.wake is not None:
        engines.wake.reset()
    stop, fed = threading.Event(), {}
    mic = _noting_when_fed(_microphone(req), req.speech_end_sample, fed)
    feeder = threading.Thread(
        target=feed_frames, args=(loop, mic, stop, False), name="bench-mic", daemon=True
    )
    if tap_first:
        loop.addressed(source="bench tap")
    feeder.start()
    try:
        if not tap_first and not _wait(lambda: loop.state is not State.IDLE, req.seconds + WAKE_GRACE_S):
            return Pass(False)
        if req.barge_in:
            _tap_into_reply(loop, done)
        # A turn ends with on_turn, or back in IDLE without one (nothing was said after the wake).
        _wait(lambda: done.is_set() or (loop.state is State.IDLE and loop.wait_reply(0)), TURN_TIMEOUT_S)
        done.wait(1.0)
        loop.wait_reply(timeout_s=TURN_TIMEOUT_S)
    finally:
        stop.set()
        feeder.join()
        ear.close()
    history[:] = loop.history
    return Pass(True, turns[0] if turns else None, fed.get("last_speech"))


def run_request(
    cfg: Config, engines: Engines, req: Request, sequential: bool, out_dir: Path, history: list[Message]
) -> Outcome:
    mode = "sequential" if sequential else "streaming"
    out_wav = out_dir / f"{req.index:02d}-{mode}.wav"
    woke = wake_fires(engines, req.audio)  # fed fast first: a clip the wake word misses is tapped in
    with OtherLoad() as load:
        result = one_pass(cfg, engines, req, sequential, not woke, out_wav, history)
        if not result.woke:  # missed when fed in real time after all: measure the rest as if tapped in
            result = one_pass(cfg, engines, req, sequential, True, out_wav, history)
            woke = False
    return Outcome(req, mode, woke, result.turn, peak_rss_mb(), load.percent, result.last_speech_fed_t)


def run_set(
    cfg: Config,
    engines: Engines,
    requests: list[Request],
    sequential: bool,
    out_dir: Path,
    histories: list[list[Message]] | None = None,
) -> list[dict]:
    """Each request on its own (`histories` None), or as one conversation: request i is heard after
    the exchanges in `histories[i]`. The first pass builds the list as it goes (start it as [[]]);
    a later pass replays it, so streaming and sequential answer the same prompts."""
    rows = []
    for i, req in enumerate(requests):
        history = list(histories[i]) if histories is not None else []
        outcome = run_request(cfg, engines, req, sequential, out_dir, history)  # extends `history`
        if histories is not None and len(histories) == i + 1:
            histories.append(history)  # what the next request is heard after
        row = request_row(outcome)
        rows.append(row)
        print(
            f"  [{row['mode']} {req.index + 1}/{len(requests)}] {req.name}: " + _progress(row),
            file=sys.stderr,
        )
    return rows


def _progress(row: dict) -> str:
    if row["error"]:
        return row["error"]
    gap = row["response_gap_ms"]
    wake = "wake" if row["woke"] else "wake MISSED, tapped in"
    load = row["other_cpu_pct"]
    busy = f" (other processes used {load:.0f}% of a core meanwhile)" if load and load >= 10 else ""
    return f"{wake}; heard {row['transcript']!r}; gap {_fmt(gap)} ms{busy}"


# ================================================================================ metrics
def _ms(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (b - a) * 1000


def _round(v: float | None, digits: int = 1) -> float | None:
    return None if v is None else round(float(v), digits)


def request_row(o: Outcome) -> dict[str, Any]:
    """Everything measured for one request in one mode, flat; None where a stage did not happen."""
    req, turn = o.request, o.turn
    row: dict[str, Any] = dict.fromkeys(REQUEST_FIELDS)
    row.update(index=req.index, name=req.name, voice=req.voice, noise_dbfs=req.noise_dbfs, text=req.text,
               audio_s=round(req.seconds, 2), mode=o.mode, woke=o.woke, barge_in=req.barge_in,
               peak_rss_mb=round(o.peak_rss_mb, 1), other_cpu_pct=o.other_cpu_pct, marks_ms={})  # fmt: skip
    if turn is None:
        row["error"] = "no turn (nothing heard after the wake/tap)"
        return row
    m, tm, st = turn.marks, turn.timings_ms, turn.stats
    row.update(
        transcript=turn.transcript,
        reply=turn.reply,
        wake_ms=tm.get("wake") if o.woke else None,
        eos_to_transcript_ms=_ms(m.get("speech_end"), m.get("transcript")),
        end_of_turn_ms=tm.get("end_of_turn"),
        stt_ms=tm.get("stt"),
        llm_first_token_ms=tm.get("llm_first_token"),
        llm_tokens_per_s=st.get("llm_tokens_per_s"),
        llm_new_tokens=st.get("llm_new_tokens"),
        llm_prompt_tokens=st.get("llm_prompt_tokens"),
        llm_reused_tokens=st.get("llm_reused_tokens"),
        tts_first_audio_ms=tm.get("tts_first_audio"),
        tts_rtf=st.get("tts_real_time_factor"),
        response_gap_ms=tm.get("response_gap"),
        gap_from_last_sample_ms=_ms(o.last_speech_fed_t, m.get("first_audio")),
        barge_in_stop_ms=tm.get("barge_in_stop"),
    )
    for key, _, _ in METRICS:
        row[key] = _round(row[key], 3 if key == "tts_rtf" else 1)
    row["end_of_turn_ms"] = _round(row["end_of_turn_ms"])
    if "speech_end" in m:
        row["marks_ms"] = {k: round((v - m["speech_end"]) * 1000, 1) for k, v in m.items()}
    if "first_audio" not in m:
        row["error"] = "no reply" if turn.transcript else "empty transcript"
    return row


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def summarize(rows: list[dict]) -> dict[str, dict[str, float | int | None]]:
    """Median and p90 (and how many requests had a value) of every metric."""
    out: dict[str, dict[str, float | int | None]] = {}
    for key, _, _ in METRICS:
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = {
            "median": _round(statistics.median(values), 3) if values else None,
            "p90": _round(percentile(values, 90), 3) if values else None,
            "n": len(values),
        }
    return out


GAP_SEGMENTS = (  # (label, from mark, to mark): the response gap, stage by stage
    ("silence before the reply is started", "speech_end", "end_of_turn"),
    ("STT final transcript", "end_of_turn", "transcript"),
    ("LLM first token", "transcript", "llm_first_token"),
    ("LLM writing the first chunk", "llm_first_token", "tts_start"),
    ("TTS first chunk", "tts_start", "first_audio_ready"),
    ("held until early_reply_ms of quiet", "first_audio_ready", "first_audio"),
)
QUIET_OTHER_CPU_PCT = 20.0  # a request is "quiet" if other processes used less than this of a core


def _quiet(row: dict) -> bool:
    return row["other_cpu_pct"] is not None and row["other_cpu_pct"] < QUIET_OTHER_CPU_PCT


def gap_breakdown(rows: list[dict]) -> dict[str, float | None]:
    """The median of each part of the response gap (they add up to about the median gap)."""
    out: dict[str, float | None] = {}
    for label, start, end in GAP_SEGMENTS:
        parts = [
            r["marks_ms"][end] - r["marks_ms"][start] for r in rows if {start, end} <= set(r["marks_ms"])
        ]
        out[label] = _round(statistics.median(parts)) if parts else None
    return out


def quiet_gap(rows: list[dict]) -> dict[str, float | int | None]:
    """The median response gap over the requests the rest of the machine left alone."""
    gaps = [r["response_gap_ms"] for r in rows if r["response_gap_ms"] is not None and _quiet(r)]
    return {"median": _round(statistics.median(gaps)) if gaps else None, "n": len(gaps)}


# ================================================================================ idle CPU
def idle_cpu(cfg: Config, engines: Engines, seconds: float, out_dir: Path) -> dict[str, float | int]:
    """CPU seconds the process spends per second of audio while idle (VAD + wake word on each frame)."""
    states: list[State] = []
    ear = FileEarpiece(out_dir / "idle.wav", realtime=True)
    loop = make_loop(cfg, engines, ear, lambda _turn: None)
    loop.on_state = states.append
    if engines.wake is not None:
        engines.wake.reset()
    mic = FileMicrophone(noise(seconds, IDLE_NOISE_DBFS, seed=7), realtime=True, tail_s=0.0)
    cpu0, t0 = time.process_time(), time.monotonic()
    feed_frames(loop, mic, threading.Event(), wait_for_reply=False)
    cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - t0
    loop.wait_reply(timeout_s=TURN_TIMEOUT_S)
    ear.close()
    return {
        "audio_s": round(seconds, 2),
        "wall_s": round(wall_s, 2),
        "cpu_s": round(cpu_s, 3),
        "cpu_s_per_audio_s": round(cpu_s / seconds, 4),
        "false_wakes": states.count(State.LISTENING),
    }


# ================================================================================ raw engines vs ours
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
        "raw_first_audio_ms": _round(statistics.median(raw_first) * 1000),
        "ours_first_audio_ms": _round(statistics.median(ours_first) * 1000),
        "raw_rtf": _round(sum(raw_total) / audio_s, 4),
        "ours_rtf": _round(sum(ours_total) / audio_s, 4),
        "first_audio_ratio": _round(statistics.median(ours_first) / statistics.median(raw_first), 3),
        "total_time_ratio": _round(sum(ours_total) / sum(raw_total), 3),
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
    saved = dialogue.settings.reuse_prefix
    try:
        for q in questions:
            messages = [Message("system", system_prompt), Message("user", q)]
            dialogue.settings.reuse_prefix = False
            plain.append(_ours_generate(dialogue, messages))
            raw.append(_raw_generate(dialogue, dialogue.encode(messages), plain[-1][3]))
            dialogue.settings.reuse_prefix = True
            dialogue.warm(system_prompt)  # the steady state of a running companion
            reuse.append(_ours_generate(dialogue, messages))
    finally:
        dialogue.settings.reuse_prefix = saved

    def med(rows: list[tuple], i: int, scale: float = 1.0) -> float:
        return statistics.median(r[i] for r in rows) * scale

    return {
        "prompts": len(questions),
        "raw_first_token_ms": _round(med(raw, 0, 1000)),
        "raw_tokens_per_s": _round(med(raw, 1)),
        "ours_first_token_ms": _round(med(plain, 0, 1000)),
        "ours_first_text_ms": _round(med(plain, 1, 1000)),
        "ours_tokens_per_s": _round(med(plain, 2)),
        "ours_kv_reuse_first_token_ms": _round(med(reuse, 0, 1000)),
        "ours_kv_reuse_tokens_per_s": _round(med(reuse, 2)),
        "first_token_ratio": _round(med(plain, 0) / med(raw, 0), 3),
        "time_per_token_ratio": _round(med(raw, 1) / med(plain, 2), 3) if med(plain, 2) else None,
        "kv_reuse_first_token_ratio": _round(med(reuse, 0) / med(raw, 0), 3),
    }


def stt_engines(cfg: Config, engines: Engines, requests: list[Request]) -> dict[str, Any]:
    """Each English STT engine on the same clips, offline (stt_eval's paced 0.5 s end-of-turn tail)."""
    from device.evals import stt as stt_eval
    from device.pipeline.stt import WhisperSTT

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
            "finish_ms_median": _round(statistics.median(x.latency_s for x in results) * 1000),
            "compute_ms_median": _round(statistics.median(x.compute_s for x in results) * 1000),
            "in_loop": name == cfg.stt.engine,
        }
        if stt is not engines.stt and hasattr(stt, "close"):
            stt.close()
    return out


def _other_stt(cfg: Config, engine: str) -> Any:
    models_dir = paths.dirs(cfg).models
    return build_stt(cfg.stt.model_copy(update={"engine": engine, "model": ""}), models_dir)


# ================================================================================ report
def _fmt(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def request_table(rows: list[dict]) -> str:
    head = (f"{'#':>2} {'voice':<26} {'wake':>5} {'eos>txt':>7} {'stt':>5} {'llm1st':>6} {'tok/s':>5} "
            f"{'tts1st':>6} {'rtf':>5} {'gap':>5} {'stop':>4} {'oth%':>4}  heard")  # fmt: skip
    lines = [head]
    for r in rows:
        wake = _fmt(r["wake_ms"]) if r["woke"] else "miss"
        heard = r["error"] if r["error"] and not r["transcript"] else r["transcript"]
        lines.append(
            f"{r['index'] + 1:>2} {r['name'][:26]:<26} {wake:>5} {_fmt(r['eos_to_transcript_ms']):>7} "
            f"{_fmt(r['stt_ms']):>5} {_fmt(r['llm_first_token_ms']):>6} {_fmt(r['llm_tokens_per_s']):>5} "
            f"{_fmt(r['tts_first_audio_ms']):>6} {_fmt(r['tts_rtf'], 2):>5} {_fmt(r['response_gap_ms']):>5} "
            f"{_fmt(r['barge_in_stop_ms']):>4} {_fmt(r['other_cpu_pct']):>4}  {(heard or '')[:44]}"
        )
    return "\n".join(lines)


def _target_text(key: str, target: float | None) -> str:
    if target is None:
        return ""
    if key == "response_gap_ms":
        return f"<= {target:.0f} (stretch {TARGETS['response_gap_stretch_ms']:.0f})"
    return f"<= {target:g}"


def summary_table(summaries: dict[str, dict]) -> str:
    modes = list(summaries)
    head = f"{'metric':<36}" + "".join(f"{m + ' med':>16}{'p90':>8}" for m in modes) + "   target"
    lines = [head]
    for key, label, target in METRICS:
        digits = 2 if key == "tts_rtf" else 0
        cells = "".join(
            f"{_fmt(summaries[m][key]['median'], digits):>16}{_fmt(summaries[m][key]['p90'], digits):>8}"
            for m in modes
        )
        lines.append(f"{label:<36}{cells}   {_target_text(key, target)}")
    return "\n".join(lines)


def breakdown_table(result: dict[str, Any]) -> str:
    parts, modes = result["gap_breakdown_ms"], list(result["gap_breakdown_ms"])
    lines = [f"{'part':<36}" + "".join(f"{m:>16}" for m in modes)]
    for label, _, _ in GAP_SEGMENTS:
        lines.append(f"{label:<36}" + "".join(f"{_fmt(parts[m][label]):>16}" for m in modes))
    quiet = result["quiet_response_gap_ms"]
    label = f"gap, quiet requests only (oth% < {QUIET_OTHER_CPU_PCT:.0f})"
    cells = [f"{_fmt(quiet[m]['median'])} (n={quiet[m]['n']})" for m in modes]
    lines.append(f"{label:<36}" + "".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "met" if value <= target else "not met"


def _llm_line(llm: dict[str, Any]) -> str:
    t = TARGETS["overhead"]
    return (
        f"LLM, ours vs a raw og.Generator loop ({llm['prompts']} prompts, no KV reuse): first token "
        f"{llm['ours_first_token_ms']:.0f} vs {llm['raw_first_token_ms']:.0f} ms = "
        f"{llm['first_token_ratio']:.2f}x; {llm['ours_tokens_per_s']:.0f} vs {llm['raw_tokens_per_s']:.0f} "
        f"tokens/s = {_fmt(llm['time_per_token_ratio'], 2)}x time per token (target <= {t}x).\n"
        f"  With the system prompt's KV kept, as in the loop: first token "
        f"{llm['ours_kv_reuse_first_token_ms']:.0f} ms = {llm['kv_reuse_first_token_ratio']:.2f}x raw"
    )


def _tts_line(tts: dict[str, Any]) -> str:
    t = TARGETS["overhead"]
    return (
        f"TTS, ours vs raw PiperVoice.synthesize ({tts['texts']} replies): first audio "
        f"{tts['ours_first_audio_ms']:.0f} vs {tts['raw_first_audio_ms']:.0f} ms = "
        f"{tts['first_audio_ratio']:.2f}x; total {tts['total_time_ratio']:.2f}x "
        f"(rtf {tts['ours_rtf']:.3f} vs {tts['raw_rtf']:.3f}) (target <= {t}x)"
    )


def _stt_line(name: str, s: dict[str, Any]) -> str:
    if "error" in s:
        return f"STT {name}: not measured ({s['error']})"
    how = " + speculate" if s["speculate"] else ""
    where = ", the engine in the loop" if s["in_loop"] else ""
    return (
        f"STT {name}{how} (offline on the same clips{where}): end -> transcript "
        f"{s['finish_ms_median']:.0f} ms, compute {s['compute_ms_median']:.0f} ms (medians)"
    )


def extra_lines(result: dict[str, Any]) -> list[str]:
    out = []
    ratio, t = result["ratio_streaming_sequential"], TARGETS["streaming_over_sequential"]
    if ratio is not None:
        quiet = result["ratio_streaming_sequential_quiet"]
        also = (
            f"; {quiet['ratio']:.2f} over the {quiet['n']} requests quiet in both runs" if quiet["n"] else ""
        )
        out.append(
            f"streaming/sequential median response gap: {ratio:.2f}{also} "
            f"(target <= {t}: {_verdict(ratio, t)})"
        )
    idle, t = result["idle"], TARGETS["idle_cpu_s_per_audio_s"]
    out.append(
        f"idle CPU: {idle['cpu_s_per_audio_s']:.3f} CPU-s per audio s ({idle['audio_s']:.0f} s of noise at "
        f"{IDLE_NOISE_DBFS:.0f} dBFS, {idle['false_wakes']} false wakes) "
        f"(target <= {t}: {_verdict(idle['cpu_s_per_audio_s'], t)})"
    )
    rss, rss_all, warm = result["peak_rss_mb"], result["peak_rss_mb_total"], result["rss_after_warm_up_mb"]
    out.append(
        f"peak RSS: {rss:.0f} MB over the pipeline runs ({_fmt(warm)} MB once loaded and warm), "
        f"{rss_all:.0f} MB with the comparisons"
    )
    out.append(
        "barge-in stop is timed on the file earpiece (stop() is immediate); a sound card adds its buffer"
    )
    w = result["wake"]
    missed = w["requests"] - w["fired"]
    tapped = f"; {missed} missed, so tapped in instead ('miss' in the tables)" if missed else ""
    out.append(f"wake word: fired on {w['fired']}/{w['requests']} requests{tapped}")
    if (load := result.get("other_cpu_pct")) is not None:
        out.append(f"other processes used {load:.0f}% of one core during the bench (timings assume ~0)")
    if llm := result.get("llm_overhead"):
        out.append(_llm_line(llm))
    if tts := result.get("tts_overhead"):
        out.append(_tts_line(tts))
    out += [_stt_line(name, s) for name, s in (result.get("stt_engines") or {}).items()]
    return out


# ================================================================================ plot
STAGES = (  # (label, start mark, end mark, colour)
    ("user speech", "speech_start", "speech_end", "#9ecae1"),
    ("wait to start the reply", "speech_end", "end_of_turn", "#d9d9d9"),
    ("STT (final)", "end_of_turn", "transcript", "#fdae6b"),
    ("LLM", "llm_start", "llm_done", "#a1d99b"),
    ("TTS (to first audio)", "tts_start", "first_audio_ready", "#bcbddc"),
    ("held for the owner's quiet", "first_audio_ready", "first_audio", "#f0f0f0"),
    ("playback", "first_audio", "playback_end", "#6baed6"),
)


def _panel(ax: Any, row: dict, title: str) -> None:
    m = dict(row["marks_ms"])
    m["playback_end"] = m.get("playback_stopped", m.get("playback_done"))
    labels = [s[0] for s in STAGES]
    for y, (_, start, end, colour) in enumerate(STAGES):
        if m.get(start) is not None and m.get(end) is not None:
            ax.barh(y, max(m[end] - m[start], 2.0), left=m[start], color=colour, edgecolor="black", lw=0.5)
            ax.text(m[end], y, f" {m[end] - m[start]:.0f} ms", va="center", fontsize=8)
    if "llm_first_token" in m:
        ax.plot([m["llm_first_token"]], [3], marker="|", color="black", ms=14)
        ax.text(m["llm_first_token"], 3.45, "first token", ha="center", va="top", fontsize=7)
    if "wake" in m:
        ax.axvline(m["wake"], color="purple", ls=":", lw=1)
        ax.text(m["wake"], len(STAGES) - 0.4, " wake", color="purple", fontsize=8)
    ax.axvline(0, color="black", lw=1)
    if "first_audio" in m:
        gap = m["first_audio"]
        ax.axvline(gap, color="red", lw=1)
        ax.annotate("", xy=(gap, -0.8), xytext=(0, -0.8), arrowprops={"arrowstyle": "<->", "color": "red"})
        ax.text(
            gap / 2, -0.95, f"response gap {gap:.0f} ms", color="red", ha="center", va="bottom", fontsize=9
        )
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(-1.8, len(STAGES) - 0.2)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def plot_waterfall(rows: list[dict], path: Path) -> Path:
    """One request's stages on a time axis relative to the end of the user's speech, streaming above
    sequential (if run), with the response gap marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen = _plot_choice(rows)
    panels = [r for r in rows if r["index"] == chosen["index"] and r["marks_ms"]]
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(11, 2.8 * len(panels) + 0.6), sharex=True, squeeze=False
    )
    for ax, row in zip(axes[:, 0], panels, strict=True):
        _panel(ax, row, f"{row['mode']}: {row['name']} - {row['transcript'][:60]!r}")
    axes[-1, 0].set_xlabel("ms relative to the end of the user's speech")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_choice(rows: list[dict]) -> dict:
    """The first streaming request that woke, was not cut off, and was answered; else any answered one."""
    answered = [r for r in rows if r["response_gap_ms"] is not None]
    if not answered:
        raise RuntimeError("nothing to plot: no request was answered")
    good = [r for r in answered if r["mode"] == "streaming" and r["woke"] and not r["barge_in"]]
    return (good or answered)[0]


# ================================================================================ main
@dataclass
class BenchOptions:
    requests: int | None = None
    sequential: bool = True
    stt: str | None = None
    input_dir: Path | None = None
    json_path: Path | None = None
    plot_path: Path | None = None
    cache_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "os1-bench-cache")
    idle_s: float = 15.0
    compare: bool = True  # raw engines vs ours, and the other STT engine
    conversation: bool = False  # the requests as one conversation (history carried), as live
    verbose: bool = False  # keep the loop's own log lines


def warm_up(engines: Engines, system_prompt: str, audio: np.ndarray) -> None:
    """A running companion has every engine warm; the first call of each is slower (graph init)."""
    from device.pipeline.stt import transcribe

    transcribe(engines.stt, audio)
    engines.dialogue.reply([Message("system", system_prompt), Message("user", "Hello there.")])
    engines.tts.synthesize_all("Warming up.")
    for f in frames(audio[:SAMPLE_RATE]):
        engines.vad.probability(f)
    wake_fires(engines, audio[:SAMPLE_RATE])


def quiet_ratio(rows: dict[str, list[dict]]) -> dict[str, float | int | None]:
    """Streaming/sequential median gap over the requests that were quiet (and answered) in both runs."""
    if "sequential" not in rows:
        return {"ratio": None, "n": 0}
    pairs = [
        (a["response_gap_ms"], b["response_gap_ms"])
        for a, b in zip(rows["streaming"], rows["sequential"], strict=True)
        if _quiet(a) and _quiet(b) and a["response_gap_ms"] is not None and b["response_gap_ms"] is not None
    ]
    if not pairs:
        return {"ratio": None, "n": 0}
    ratio = statistics.median(a for a, _ in pairs) / statistics.median(b for _, b in pairs)
    return {"ratio": _round(ratio, 3), "n": len(pairs)}


def _ratio(summaries: dict[str, dict]) -> float | None:
    if "sequential" not in summaries:
        return None
    a = summaries["streaming"]["response_gap_ms"]["median"]
    b = summaries["sequential"]["response_gap_ms"]["median"]
    return _round(a / b, 3) if a is not None and b else None


def measure(cfg: Config, opts: BenchOptions, requests: list[Request], out_dir: Path) -> dict[str, Any]:
    # The companion around each loop (memory, reminders, persona log) keeps its state in a scratch
    # dir: the benchmark's requests must not become the owner's memories.
    cfg = cfg.model_copy(deep=True)
    cfg.paths.state_dir = str(out_dir / "state")
    print(f"loading engines (stt: {cfg.stt.engine}) ...", file=sys.stderr)
    engines = load_all(cfg)
    system_prompt = persona(cfg).system_prompt()
    warm_up(engines, system_prompt, requests[0].audio)
    rss_warm = rss_mb()
    print(f"idle CPU: {opts.idle_s:g} s of background noise ...", file=sys.stderr)
    idle = idle_cpu(cfg, engines, opts.idle_s, out_dir)
    modes = {"streaming": False, **({"sequential": True} if opts.sequential else {})}
    rows: dict[str, list[dict]] = {}
    histories: list[list[Message]] | None = [[]] if opts.conversation else None
    for mode, sequential in modes.items():
        print(f"{mode}: {len(requests)} requests in real time ...", file=sys.stderr)
        rows[mode] = run_set(cfg, engines, requests, sequential, out_dir, histories)
    summaries = {mode: summarize(r) for mode, r in rows.items()}
    result: dict[str, Any] = {
        "requests": rows,
        "summary": summaries,
        "ratio_streaming_sequential": _ratio(summaries),
        "ratio_streaming_sequential_quiet": quiet_ratio(rows),
        "idle": idle,
        "gap_breakdown_ms": {mode: gap_breakdown(r) for mode, r in rows.items()},
        "quiet_response_gap_ms": {mode: quiet_gap(r) for mode, r in rows.items()},
        "rss_after_warm_up_mb": _round(rss_warm),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "wake": {"requests": len(rows["streaming"]), "fired": sum(r["woke"] for r in rows["streaming"])},
    }
    if opts.compare:
        print("raw engines vs ours, and the STT engines offline ...", file=sys.stderr)
        result.update(compare_engines(cfg, engines, system_prompt, requests, rows["streaming"]))
    result["peak_rss_mb_total"] = round(peak_rss_mb(), 1)
    return result


def compare_engines(
    cfg: Config, engines: Engines, system_prompt: str, requests: list[Request], rows: list[dict]
) -> dict[str, Any]:
    questions = [r["transcript"] for r in rows if r["transcript"]] or [r.text for r in requests if r.text]
    replies = [r["reply"] for r in rows if r["reply"]] or ["The capital of France is Paris."]
    return {
        "llm_overhead": llm_overhead(engines.dialogue, system_prompt, questions),
        "tts_overhead": tts_overhead(engines.tts, replies),
        "stt_engines": stt_engines(cfg, engines, requests),
    }


def report(result: dict[str, Any]) -> str:
    parts = [f"command: {result['command']}", ""]
    for mode, rows in result["requests"].items():
        legend = "ms unless noted; stop = barge-in stop; oth% = other processes' CPU meanwhile"
        parts += [f"{mode} ({legend})", request_table(rows), ""]
    parts += ["summary (medians and p90 over the requests)", summary_table(result["summary"]), ""]
    parts += ["where the response gap goes (median of each part)", breakdown_table(result), ""]
    parts += extra_lines(result)
    return "\n".join(parts)


def run(cfg: Config, opts: BenchOptions) -> int:
    if opts.requests is not None and opts.requests < 1:
        print("os1: --requests must be at least 1", file=sys.stderr)
        return 2
    if opts.plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        print(
            "os1: --plot needs matplotlib; install it with: pip install matplotlib==3.11.2", file=sys.stderr
        )
        return 2
    if opts.stt:
        cfg.stt.engine = opts.stt  # type: ignore[assignment]
        cfg.stt.model = ""
    if not opts.verbose:
        logging.getLogger("os1.loop").setLevel(logging.WARNING)  # one progress line per request instead
    if opts.input_dir is not None:
        if not opts.input_dir.is_dir() or not any(opts.input_dir.glob("*.[wW][aA][vV]")):
            print(f"os1: no .wav files in {opts.input_dir}; pass a folder of WAV requests", file=sys.stderr)
            return 2
        requests = wav_requests(opts.input_dir, opts.requests)
    else:
        print(f"synthesizing requests (cache: {opts.cache_dir}) ...", file=sys.stderr)
        requests = synthesized_requests(opts.requests, opts.cache_dir)
    with tempfile.TemporaryDirectory(prefix="os1-bench-") as tmp, OtherLoad() as load:
        result = measure(cfg, opts, requests, Path(tmp))
    result["other_cpu_pct"] = load.percent
    result = {"command": shlex.join(["os1", *sys.argv[1:]]), **result}
    result["config"] = {
        "stt": cfg.stt.engine,
        "llm": cfg.llm.model,
        "tts": cfg.tts.voice,
        "wake": f"{cfg.wake.engine}:{cfg.wake.model}",
        "end_of_turn_ms": cfg.vad.end_of_turn_ms,
        "early_reply_ms": cfg.vad.early_reply_ms,
        "conversation": opts.conversation,
    }
    result["targets"] = TARGETS
    print(report(result), flush=True)
    if opts.json_path is not None:
        opts.json_path.parent.mkdir(parents=True, exist_ok=True)
        opts.json_path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {opts.json_path}")
    if opts.plot_path is not None:
        rows = [r for mode_rows in result["requests"].values() for r in mode_rows]
        print(f"wrote {plot_waterfall(rows, opts.plot_path)}")
    answered = [r for r in result["requests"]["streaming"] if r["response_gap_ms"] is not None]
    return 0 if answered else 1


def options_from_args(args: Any) -> BenchOptions:
    """`os1 bench`'s parsed arguments (see device/cli.py) as options."""
    opts = BenchOptions(
        requests=args.requests,
        sequential=args.sequential,
        stt=args.stt,
        input_dir=args.input_dir,
        json_path=args.json,
        plot_path=args.plot,
        idle_s=args.idle_s,
        compare=not args.no_compare,
        conversation=args.conversation,
        verbose=args.verbose,
    )
    if args.cache_dir is not None:
        opts.cache_dir = args.cache_dir
    return opts
