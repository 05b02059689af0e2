"""The worker that turns a transcript into sound: the intent layer or the LLM (steered by the owner's
mood), chunked, synthesized and played chunk by chunk, then the history (only what was heard). A
typed turn goes the same way, in text. It talks to the loop only through `on_first_audio(reply)`
(under the loop's lock, just before the first sound) and `on_done(reply, follow_up)`.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from device.pipeline import events as ev
from device.pipeline import metrics
from device.pipeline.chunker import Chunker
from device.pipeline.events import Message, Steer, Turn
from device.pipeline.history import Conversation, heard_text
from device.pipeline.reply import Reply, ReplyStages
from device.pipeline.settings import DialogueSettings
from device.pipeline.speaking import Speaker, VoiceFailed, said_words
from device.pipeline.stages import CannotHear
from device.pipeline.text import (
    NON_ANSWER,
    TRAILING_WORDS,
    answer_lead,
    is_stop_phrase,
    looks_complete,
    speakable,
    strip_speaker_label,
    strip_wake_phrase,
)
from device.pipeline.voice_check import OTHER, OWNER, UNSURE

log = logging.getLogger("os1.reply")

# Said when the dialogue model raises mid-reply (onnxruntime or llama.cpp failing): after some words,
# and before any.
LOST_THREAD = "Sorry, I lost my train of thought there."
LOST_WORDS = "Sorry, my thoughts failed me just then. Could you ask me again?"


def over_budget(reply: Reply, chunk: str, budget: int) -> bool:
    """Whether saying `chunk` would take the reply past `budget` words at a sentence's end: the first
    sentence is always finished (the first chunk may have cut it), later ones are said whole or not."""
    if not budget or not reply.chunks:
        return False
    last = reply.chunks[-1][0].rstrip(" \"')]")
    at_sentence_end = last.endswith((".", "!", "?", "…"))
    return at_sentence_end and said_words(reply) + len(chunk.split()) > budget


def within_budget(reply: Reply, chunk: str, budget: int) -> str:
    """The first sentence is finished even past the budget, but not without end: a first sentence
    that runs on is cut at its last comma inside the budget, or at the budget, with a full stop."""
    room = budget - said_words(reply)
    words = chunk.split()
    if not budget or len(words) <= room or room <= 0:
        return chunk
    head = words[:room]
    commas = [i for i, w in enumerate(head) if w.endswith((",", ";", ":")) and i >= 1]
    head = head[: commas[-1] + 1] if commas else head
    while len(head) > 1 and head[-1].lower().strip(",;:") in TRAILING_WORDS:  # not "… gold in."
        head.pop()
    return " ".join(head).rstrip(" ,;:—–-") + "."


def avoided(text: str, steer: Steer | None) -> bool:
    """Whether `text` has something the steering says this reply must not."""
    return steer is not None and any(re.search(p, text, re.I) for p in steer.avoid)


def identify(reply: Reply) -> bool:
    """Whose turn it is (Turn.speaker, and SPEAKER for the intent layer on this thread). False:
    it is not to be answered (another voice, under the strict policy)."""
    turn, settings = reply.turn, reply.stages.settings
    if settings.voice_policy == "off":
        return True
    verdict = None
    if reply.voice is not None:
        try:
            verdict = reply.voice.result(timeout=2.0)
        except Exception:  # a broken check must not open what is private: another voice
            log.exception("the voice check failed; the turn counts as another voice")
    turn.verdict = verdict
    if verdict is not None:
        turn.timings_ms["voice_check"] = verdict.took_ms
    if verdict is not None and verdict.speaker:
        turn.stats["voice_score"] = verdict.score
        turn.stats["voice_second_look"] = int(verdict.second_look)
        log.info("voice: %s (score %.2f%s)", verdict.speaker, verdict.score,
                 ", with the previous utterance" if verdict.second_look else "")  # fmt: skip
    if reply.typed or (turn.tapped and settings.tap_is_owner):
        turn.speaker = OWNER  # typed: the owner by the control socket's peer check; tapped: a hand
    elif reply.voice is not None:
        turn.speaker = verdict.speaker if verdict is not None else OTHER
    ev.SPEAKER.set(turn.speaker)
    if settings.voice_policy == "strict" and turn.speaker in (OTHER, UNSURE):
        log.info("not the owner's voice: not answered (owner.voice_check strict)")
        return False
    return True


class ReplyWorker:
    """Turns a transcript into sound on a thread of its own: the intent layer or the LLM, chunked,
    synthesized and played chunk by chunk, then the history (only what was heard)."""

    def __init__(
        self,
        conversation: Conversation,
        lock: threading.RLock,
        on_first_audio: Callable[[Reply], None],
        on_done: Callable[[Reply, bool], None],
        clock: Callable[[], float],
    ):
        self.conversation = conversation
        self.speaker = Speaker(lock, on_first_audio, clock)
        self.on_done = on_done
        self.clock = clock

    def start(
        self, reply: Reply, previous: threading.Thread | None, text: str | None = None
    ) -> threading.Thread:
        """Make `reply` on a new thread, after `previous` (an interrupted reply still writing its part
        of the history). With `text`, say that instead of answering (an announcement)."""
        target, args = (
            (self._answer, (reply, previous)) if text is None else (self._say, (reply, previous, text))
        )
        thread = threading.Thread(target=target, args=args, name="os1-reply", daemon=True)
        thread.start()
        return thread

    # ------------------------------------------------------------------ answering the owner
    def _answer(self, reply: Reply, previous: threading.Thread | None) -> None:
        turn, st = reply.turn, reply.stages
        try:
            if previous is not None:
                previous.join()
            if not reply.typed:
                try:
                    self._transcribe(reply)
                except CannotHear as e:  # the server's ears are gone and the board has none
                    self.speaker.speak_text(reply, str(e))
                    self._finish(reply, follow_up=False)
                    return
            refused = not identify(reply)  # strict: another voice is not answered
            stop = is_stop_phrase(turn.transcript, st.settings.stop_phrases)
            if reply.continues is not None and turn.transcript.strip() and not stop:
                self._continue_request(reply.continues, turn)
            log.info(
                "%s: %r%s",
                "typed" if reply.typed else "heard",
                turn.transcript,
                " (early)" if reply.early else "",
            )
            reply.unfinished = reply.early and not looks_complete(turn.transcript)
            nothing = not turn.transcript.strip() or stop or refused
            # Only a reply in words may start early: going quiet, a stop or a command (a reminder,
            # forgetting a memory) waits until the owner has certainly finished.
            if (nothing or self._claimed(st, turn.transcript)) and not reply.wait_until_sure():
                self._finish(reply, follow_up=False)
                return
            if nothing:
                self._finish(reply, follow_up=False)  # nothing to say, or asked for quiet
                return
            direct = self._intent_reply(st, turn)
            if direct is not None:
                self.speaker.speak_text(reply, direct)
            elif st.settings.sequential:
                self._speak_sequential(reply)
            else:
                self._speak_streaming(reply)
            if not reply.dropped:
                self._record(reply)
            self._finish(reply, follow_up=not reply.cancelled)
        except VoiceFailed as e:  # what was said before it is kept in the history
            log.error("%s; the reply ends there", e)
            if not reply.dropped:
                self._record(reply)
            self._finish(reply, follow_up=False)
            return
        except Exception:
            log.exception("the reply failed; back to idle")
            self._finish(reply, follow_up=False)
            return
        if not reply.dropped and turn.answered_by == "llm" and not st.settings.sequential:
            self.prime(st)

    def _transcribe(self, reply: Reply) -> None:
        turn, st = reply.turn, reply.stages
        assert st.stt is not None
        with metrics.timed(turn, "stt", self.clock):
            raw = st.stt.hypothesis() if reply.early else st.stt.finish()
            turn.marks[ev.TRANSCRIPT] = self.clock()
        turn.transcript = strip_wake_phrase(raw, st.wake_phrase or (turn.wake or ""))

    def _say(self, reply: Reply, previous: threading.Thread | None, text: str) -> None:
        """Speak `text` unprompted (a reminder, a confirmation)."""
        try:
            if previous is not None:
                previous.join()
            self.speaker.speak_text(reply, text)
            reply.turn.reply = " ".join(chunk for chunk, _ in reply.chunks)
            self.conversation.remember_said(reply.turn.reply)  # a double tap repeats a reminder too
            self._finish(reply, follow_up=not reply.cancelled)
        except Exception:
            log.exception("speaking %r failed", text)
            self._finish(reply, follow_up=False)

    def _finish(self, reply: Reply, follow_up: bool) -> None:
        reply.finish()
        self.on_done(reply, follow_up)

    def prime(self, st: ReplyStages) -> None:
        """Prefill the next turn's persona and history while the owner thinks (after a reply, on the
        reply thread: the next one waits for it): a trimmed history is prefilled here, not after the
        owner's next words."""
        if not st.dialogue.capabilities.prime:
            return
        try:
            st.dialogue.prime(self.conversation.prompt(st.system_prompt))
        except Exception:  # only an optimisation: the next turn prefills what it needs
            log.exception("priming the next prompt failed")

    def _continue_request(self, cut: Turn, turn: Turn) -> None:
        """`turn` goes on with the request `cut` (whose reply was cut off at its start): one request
        of both parts, and the cut exchange leaves the history (its thread has finished writing it)."""
        turn.transcript = f"{cut.transcript.strip()} {turn.transcript.strip()}".strip()
        turn.stats["continued"] = 1
        self.conversation.drop_cut(cut.transcript)

    @staticmethod
    def _claimed(st: ReplyStages, transcript: str) -> bool:
        return st.intents is not None and st.intents.claims(transcript)

    def _intent_reply(self, st: ReplyStages, turn: Turn) -> str | None:
        if st.intents is None:
            return None
        with metrics.timed(turn, "intents", self.clock):
            try:
                direct = st.intents(turn.transcript)
            except Exception:  # a broken command handler must not end the conversation
                log.exception("the intent layer failed on %r; the LLM answers", turn.transcript)
                direct = None
        if direct is not None:
            turn.answered_by = "intent"
        return direct

    def _messages(self, reply: Reply) -> list[Message]:
        """The prompt: persona, the recent history, and the owner's words with what memory recalls
        for them (kept with the words in the history: see Message.context)."""
        turn, st = reply.turn, reply.stages
        with metrics.timed(turn, "context", self.clock):
            try:
                private = st.context is None or turn.speaker in (OTHER, UNSURE)  # not the owner: no memories
                reply.context = "" if private else st.context(turn.transcript)
            except Exception:
                log.exception("recalling memories failed; answering without them")
                reply.context = ""
            # how many memories went into the prompt ("- " lines under the header): a test's evidence
            recalled = [x for x in reply.context.splitlines() if x.startswith("- ")]
            turn.stats["memories_in_prompt"] = len(recalled)
            try:
                reply.steer = st.steer(turn.transcript) if st.steer is not None else None
            except Exception:  # a reading of the mood is a nicety: the reply goes on without it
                log.exception("reading the owner's mood failed")
        if reply.steer is not None:
            turn.mood = reply.steer.mood
            reply.context = "\n".join(x for x in (reply.context, reply.steer.hint) if x)
        request = Message("user", turn.transcript, context=reply.context)
        return self.conversation.prompt(st.system_prompt, request)

    def _speak_streaming(self, reply: Reply) -> None:
        """LLM text -> chunks -> TTS -> earpiece, with the LLM running ahead on its own thread. A
        reply that starts with one of the tiny model's non-answers ("I'm glad you're enjoying…") is
        not said: it is made again once, from a start that answers the question."""
        turn = reply.turn
        messages = self._messages(reply)
        turn.marks[ev.LLM_START] = self.clock()
        opening = reply.steer.opening if reply.steer is not None else ""
        if self._stream(reply, messages, opening, retry=not opening) == "non-answer":
            turn.stats["llm_retries"] = 1
            settings = replace(reply.stages.dialogue.settings, temperature=0.6)
            self._stream(reply, messages, answer_lead(turn.transcript), retry=False, settings=settings)
        self.speaker.after_speaking(reply)

    def _stream(
        self,
        reply: Reply,
        messages: list[Message],
        prefix: str,
        retry: bool,
        settings: DialogueSettings | None = None,
    ) -> str:
        """One pass of the LLM into the earpiece. Returns "non-answer" if it stopped at a non-answer
        before saying anything (with `retry`), else "said"."""
        chunks: queue.Queue[str | None] = queue.Queue()
        turn, st = reply.turn, reply.stages
        enough = threading.Event()  # the reply has what it needs: stop generating

        def produce() -> None:
            chunker = Chunker()
            try:
                stream = st.dialogue.stream(
                    messages, cancel=reply.cancel_event, settings=settings, prefix=prefix
                )
                for piece in stream:
                    if enough.is_set():
                        break
                    turn.marks.setdefault(ev.LLM_FIRST_TOKEN, self.clock())
                    for c in chunker.feed(piece):
                        chunks.put(c)
                        # Give the first chunk's synthesis the whole CPU: the LLM is far ahead of
                        # speech anyway, and on 2 cores the two slow each other down 2-3x.
                        reply.wait_first_sound(timeout_s=2.0)
                if not reply.cancelled and not enough.is_set():
                    for c in chunker.flush():
                        chunks.put(c)
            except Exception as e:  # the words said stand; the owner is told the rest is not coming
                log.error("the LLM failed mid-reply (%s: %s); the reply ends there", type(e).__name__, e)
                turn.stats["llm_failed"] = 1
            finally:
                turn.marks[ev.LLM_DONE] = self.clock()
                chunks.put(None)

        producer = threading.Thread(target=produce, name="os1-llm", daemon=True)
        producer.start()
        try:
            outcome = self._consume(reply, chunks, enough, prefix, retry)
        finally:  # also when the voice failed: the LLM stops too
            enough.set()
            reply.mark_first_sound()  # release an LLM waiting on a first sound that will not come
            producer.join()
        if turn.stats.get("llm_failed") and not reply.cancelled:
            self.speaker.speak_line(reply, LOST_THREAD if reply.chunks else LOST_WORDS)
        return outcome

    def _consume(
        self, reply: Reply, chunks: queue.Queue[str | None], enough: threading.Event, prefix: str, retry: bool
    ) -> str:
        budget = reply.stages.settings.max_reply_words
        held = ""  # a first chunk that is only "Awesome!": judged with what follows it
        while (raw_chunk := chunks.get()) is not None and not reply.cancelled:
            if not reply.chunks:
                raw_chunk = strip_speaker_label(f"{held} {raw_chunk}".strip())
                if retry and len(raw_chunk.split()) <= 2 and raw_chunk.endswith("!") and not held:
                    held = raw_chunk
                    continue
                held = ""
            if retry and not reply.chunks and NON_ANSWER.search(raw_chunk):
                return "non-answer"
            if avoided(raw_chunk, reply.steer):  # cheer at sad news: not said, and the LLM stops here
                enough.set()
                self.speaker.speak_fallback(reply, budget)
                return "said"
            if over_budget(reply, raw_chunk, budget):  # a short reply stops at a sentence end
                return "said"
            if reply.chunks and said_words(reply) + len(raw_chunk.split()) > budget:  # a run-on sentence
                self.speaker.say_chunk(reply, within_budget(reply, raw_chunk, budget))
                return "said"
            self.speaker.say_chunk(reply, raw_chunk)
            reply.mark_first_sound()  # even if the chunk had nothing to say ("(laughs)")
        if held and not reply.cancelled:
            self.speaker.say_chunk(reply, held)
        failed = reply.turn.stats.get("llm_failed")  # said after the stream (LOST_WORDS)
        if not reply.cancelled and not failed and said_words(reply) <= len(prefix.split()):
            self.speaker.speak_fallback(reply, budget)  # nothing, or only the opening: add the short line
        return "said"

    def _speak_sequential(self, reply: Reply) -> None:
        """The cascade without overlap, for `os1 bench --sequential`: each stage waits for the last."""
        turn, st = reply.turn, reply.stages
        turn.marks[ev.LLM_START] = self.clock()
        pieces = []
        for piece in st.dialogue.stream(self._messages(reply), cancel=reply.cancel_event):
            turn.marks.setdefault(ev.LLM_FIRST_TOKEN, self.clock())
            pieces.append(piece)
        turn.marks[ev.LLM_DONE] = self.clock()
        text = speakable("".join(pieces))
        if text and not reply.cancelled and not reply.speak:
            self.speaker.say_chunk(reply, text)
        elif text and not reply.cancelled:
            assert st.tts is not None
            turn.marks[ev.TTS_START] = self.clock()
            audio = list(st.tts.synthesize(text))
            if audio:
                self.speaker.play(reply, text, np.concatenate(audio), turn.marks[ev.TTS_START])
        self.speaker.after_speaking(reply)

    def _record(self, reply: Reply) -> None:
        """Only what the owner actually heard goes into the history; a cut reply is marked as such."""
        turn = reply.turn
        said = " ".join(text for text, _ in reply.chunks)
        if reply.cancelled and reply.speak and reply.stages.sink is not None:
            heard_s = reply.stages.sink.playback.played_s - reply.played_at_start
            said = heard_text(reply.chunks, heard_s)
        turn.reply = said
        request = Message("user", turn.transcript, context=reply.context)
        self.conversation.record(request, said, interrupted=reply.cancelled)
