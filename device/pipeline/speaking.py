"""Saying a reply: text chunked, each chunk synthesized and played (or, for a typed turn, written),
the first sound held until the reply may be heard, and a short honest line where the LLM's words
would not do. Used by the reply worker, on the reply's thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from device.pipeline import events as ev
from device.pipeline import metrics
from device.pipeline.audio import trim_leading_quiet
from device.pipeline.chunker import Chunker
from device.pipeline.reply import Reply
from device.pipeline.text import speakable

NOTHING_TO_SAY = "Sorry, I'm not sure what to say to that."
log = logging.getLogger("os1.reply")


class VoiceFailed(RuntimeError):
    """The voice raised on a sentence twice: the reply ends there (what was said stands)."""


def said_words(reply: Reply) -> int:
    return sum(len(text.split()) for text, _ in reply.chunks)


class Speaker:
    """`lock` is the loop's: the first sound and an interrupt cannot cross. `on_first_audio(reply)`
    is called under it, just before a reply's first sound is played."""

    def __init__(
        self, lock: threading.RLock, on_first_audio: Callable[[Reply], None], clock: Callable[[], float]
    ):
        self.lock = lock
        self.on_first_audio = on_first_audio
        self.clock = clock

    def speak_text(self, reply: Reply, text: str) -> None:
        """A ready-made reply (a command's answer, an announcement): chunked and spoken like the LLM's."""
        turn = reply.turn
        turn.marks[ev.LLM_START] = turn.marks[ev.LLM_DONE] = self.clock()
        chunker = Chunker()
        for chunk in [*chunker.feed(text), *chunker.flush()]:
            if reply.cancelled:
                break
            self.say_chunk(reply, chunk)
        self.after_speaking(reply, llm=False)

    def speak_fallback(self, reply: Reply, budget: int = 0) -> None:
        """A short honest line where the LLM's words would not do (within the word budget, if the
        reply has said enough already, nothing more)."""
        text = (reply.steer.fallback if reply.steer is not None else "") or NOTHING_TO_SAY
        if reply.chunks and budget and said_words(reply) + len(text.split()) > budget:
            return
        reply.turn.stats["fallback"] = 1
        self.speak_line(reply, text)

    def speak_line(self, reply: Reply, text: str) -> None:
        """A line of the companion's own, added to the reply in progress."""
        chunker = Chunker()
        for chunk in [*chunker.feed(text), *chunker.flush()]:
            if reply.cancelled:
                break
            self.say_chunk(reply, chunk)
        reply.mark_first_sound()

    def say_chunk(self, reply: Reply, raw_chunk: str) -> None:
        chunk = speakable(raw_chunk)
        if not chunk:
            return
        if not reply.speak:  # a typed turn answered in text: the words are the reply
            reply.chunks.append((chunk, 0.0))
            if reply.on_text is not None:
                reply.on_text(chunk)
            return
        assert reply.stages.tts is not None
        t_chunk = self.clock()
        reply.turn.marks.setdefault(ev.TTS_START, t_chunk)
        played = 0
        for attempt in (1, 2):  # a voice that fails once (a bad moment of onnxruntime) gets one more go
            try:
                for audio in reply.stages.tts.synthesize(chunk):
                    if reply.cancelled:
                        return
                    # A chunk of several sentences comes back in pieces: its words are counted once,
                    # and each piece's audio adds to the chunk's length.
                    self.play(reply, chunk if played == 0 else None, audio, t_chunk)
                    played += 1
                    t_chunk = self.clock()
                return
            except Exception as e:
                if played or attempt == 2:  # said in part (not said twice), or failing again
                    raise VoiceFailed(f"the voice failed on {chunk[:40]!r} ({type(e).__name__}: {e})") from e
                log.warning("the voice failed (%s: %s); trying the sentence again", type(e).__name__, e)

    def play(self, reply: Reply, text: str | None, audio: np.ndarray, t_synth_start: float) -> None:
        """Hand `audio` to the earpiece. `text` is the chunk it starts; None continues the last one."""
        turn, st = reply.turn, reply.stages
        assert st.tts is not None and st.sink is not None
        rate = st.tts.sample_rate
        first = ev.FIRST_AUDIO not in turn.marks
        if first:  # the reply's first sound: without the voice's lead-in
            audio = trim_leading_quiet(audio, rate)
        now = self.clock()
        seconds = len(audio) / rate
        metrics.add_audio(turn, seconds, now - t_synth_start)
        if first:
            metrics.first_audio_ready(turn, now)
            reply.wait_until_audible()  # an early reply: until the owner has been quiet long enough
            now = self.clock()
        with self.lock:  # an interrupt cannot come between this check and the play
            if reply.cancelled:
                return
            if first:
                reply.sounded()
                metrics.first_audio(turn, now)
                self.on_first_audio(reply)
            if text is not None or not reply.chunks:
                reply.chunks.append((text or "", seconds))
                if text and reply.on_text is not None:
                    reply.on_text(text)
            else:
                last_text, last_seconds = reply.chunks[-1]
                reply.chunks[-1] = (last_text, last_seconds + seconds)
            st.sink.play(audio, rate)
        reply.mark_first_sound()

    def after_speaking(self, reply: Reply, llm: bool = True) -> None:
        if not reply.cancelled and reply.speak and reply.stages.sink is not None:
            reply.stages.sink.drain()
        metrics.reply_done(reply.turn, self.clock(), reply.stages.dialogue.last_stats if llm else None)
