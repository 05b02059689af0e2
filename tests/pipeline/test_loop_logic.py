"""The voice loop's logic on scripted stages and a virtual clock (tests/fakes.py): early replies, the
drop, continuing a request, barge-in, follow-ups, announcements and mute, in milliseconds each.
The same behaviour on the real engines, at real-time pace, is tests/pipeline/test_loop.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from device.app.assemble import repeat_last
from device.intents.router import Claimed, IntentRouter
from device.pipeline import events as ev
from device.pipeline.events import State
from device.pipeline.loop import TRANSITIONS, BadTransition, hearing_lost
from device.pipeline.reply import Phase
from device.pipeline.settings import LoopSettings
from tests.fakes import FRAME_S, FakeTts, Rig


def rig(**settings: object) -> Rig:
    return Rig(replace(LoopSettings(), **settings))  # type: ignore[arg-type]


def states_are_allowed(states: list[State]) -> None:
    for a, b in zip([State.IDLE, *states], states, strict=False):
        assert b in TRANSITIONS[a], f"{a} -> {b}"


def test_a_request_is_answered_and_kept_in_the_history() -> None:
    r = rig(follow_up_s=0)
    r.request("What is the capital of France?")
    r.finish()
    (turn,) = r.turns
    assert turn.wake == "fake:hey_jarvis" and turn.transcript == "What is the capital of France?"
    assert turn.reply == "You said: What is the capital of France?"
    assert [m.content for m in r.loop.history] == [turn.transcript, turn.reply]
    assert r.states == [State.LISTENING, State.SPEAKING, State.IDLE]  # an early reply speaks from LISTENING
    states_are_allowed(r.states)


def test_an_early_reply_is_heard_after_early_reply_ms_not_end_of_turn_ms() -> None:
    r = rig(early_reply_ms=300, end_of_turn_ms=900, follow_up_s=0)
    r.request("What time is it in Tokyo?")
    r.finish()
    (turn,) = r.turns
    gap_s = turn.marks[ev.FIRST_AUDIO] - turn.marks[ev.SPEECH_END]
    # Counted in microphone frames: 300 ms of quiet, give or take a frame (the VAD lets go one frame late).
    assert 0.3 - FRAME_S <= gap_s <= 0.3 + 2 * FRAME_S, gap_s
    assert turn.stats["early_reply"] == 1


def test_without_early_replies_the_silence_window_ends_the_turn() -> None:
    r = rig(early_reply_ms=0, end_of_turn_ms=600, follow_up_s=0)
    r.request("What time is it in Tokyo?")
    r.finish()
    gap_s = r.turns[0].marks[ev.FIRST_AUDIO] - r.turns[0].marks[ev.SPEECH_END]
    assert 0.6 <= gap_s <= 0.6 + 2 * FRAME_S, gap_s
    assert r.states[:2] == [State.LISTENING, State.THINKING]


def test_speech_again_drops_the_early_reply_unheard_and_the_request_goes_on() -> None:
    r = rig(early_reply_ms=300, end_of_turn_ms=900, follow_up_s=0)
    s = r.script
    r.feed(s.wake(), s.quiet(0.2), s.say("Tell me about"), s.quiet(0.25), s.say("the moon."), s.quiet(1.2))
    r.finish()
    (turn,) = r.turns  # the dropped reply made no turn of its own
    assert turn.transcript == "Tell me about the moon."
    assert turn.stats["early_replies_dropped"] >= 1  # (one may be after the wake phrase alone)
    assert [p[-1].content for p in r.dialogue.prompts] == ["Tell me about", "Tell me about the moon."]
    assert r.tts.spoken and all("moon" in text or "said" in text for text in r.tts.spoken)
    assert [m.content for m in r.loop.history if m.role == "user"] == ["Tell me about the moon."]


def test_words_that_read_unfinished_wait_for_the_full_window() -> None:
    r = rig(early_reply_ms=300, end_of_turn_ms=900, follow_up_s=0)
    r.request("What is the capital of")
    r.finish()
    gap_s = r.turns[0].marks[ev.FIRST_AUDIO] - r.turns[0].marks[ev.SPEECH_END]
    assert gap_s >= 0.9, gap_s  # made early, but held until the turn was sure


def test_a_command_waits_for_the_full_window_and_runs_once() -> None:
    ran: list[str] = []

    def remind(text: str) -> str | None:
        ran.append(text)
        return "Okay, I'll remind you."

    router = IntentRouter([Claimed(remind, lambda text: "remind" in text.lower())])
    r = Rig(replace(LoopSettings(), early_reply_ms=300, end_of_turn_ms=900, follow_up_s=0), intents=router)
    s = r.script
    r.feed(
        s.wake(), s.quiet(0.2), s.say("Remind me to call Anna"), s.quiet(0.5), s.say("at six."), s.quiet(1.5)
    )
    r.finish()
    assert ran == ["Remind me to call Anna at six."]  # never on the half sentence
    assert r.turns[-1].answered_by == "intent" and r.turns[-1].reply == "Okay, I'll remind you."


def test_the_owners_voice_cuts_a_reply_and_only_the_heard_words_stay() -> None:
    answer = " ".join(f"word{i}" for i in range(20)) + "."
    r = Rig(replace(LoopSettings(), follow_up_s=0), answers={"Tell me a story.": answer})
    s = r.script
    r.request("Tell me a story.", after_s=0.0)
    while r.loop.state is not State.SPEAKING:
        r.feed(s.quiet(FRAME_S))
    r.feed(s.quiet(2.6))  # 2.6 s of the reply are heard (word by word: 0.4 s each)
    r.feed(s.say("What was his name?"), s.quiet(1.5))
    r.finish()
    cut, second = r.turns
    assert cut.interrupted == "voice" and cut.marks[ev.PLAYBACK_STOPPED] >= cut.marks[ev.INTERRUPT]
    heard_s = cut.marks[ev.INTERRUPT] - cut.marks[ev.FIRST_AUDIO]
    # What the history keeps is what was played: 0.4 s a word, counted from the played seconds.
    assert len(cut.reply.split()) == int(heard_s / FakeTts.WORD_S), (cut.reply, heard_s)
    assert r.loop.history[1].interrupted and r.loop.history[1].content.endswith("…")
    assert second.transcript == "What was his name?"  # a new request: the reply had played > 1.5 s


def test_talking_over_the_first_second_of_a_reply_continues_the_request() -> None:
    r = rig(follow_up_s=0, continue_within_s=1.5)
    s = r.script
    r.request("What is the weather like", after_s=0.0)
    while r.loop.state is not State.SPEAKING:
        r.feed(s.quiet(FRAME_S))
    r.feed(s.quiet(0.3), s.say("in Paris tomorrow?"), s.quiet(1.5))
    r.finish()
    cut, whole = r.turns
    assert cut.interrupted == "voice"
    assert whole.transcript == "What is the weather like in Paris tomorrow?" and whole.stats["continued"] == 1
    assert [m.content for m in r.loop.history if m.role == "user"] == [whole.transcript]
    assert not any(m.interrupted for m in r.loop.history)


def test_a_tap_interrupts_and_a_tap_when_idle_listens() -> None:
    r = rig(follow_up_s=0)
    s = r.script
    r.request("Tell me a long story about the sea.", after_s=0.0)
    while r.loop.state is not State.SPEAKING:
        r.feed(s.quiet(FRAME_S))
    r.feed(s.quiet(0.5))
    r.loop.tap()
    assert r.loop.state is State.LISTENING and r.sink.stops == 1
    r.feed(s.quiet(7.0))  # nobody speaks: the listening times out
    assert r.loop.state is State.IDLE and r.turns[0].interrupted == "tap"
    r.loop.tap()
    r.feed(s.say("Hello."), s.quiet(1.0))
    r.finish()
    assert r.turns[-1].transcript == "Hello." and r.turns[-1].wake is None


def test_a_follow_up_needs_no_wake_word_and_the_window_closes() -> None:
    r = rig(follow_up_s=2.0)
    s = r.script
    r.request("What is the capital of France?")
    while not r.loop.wait_reply(0) or r.loop.state is State.SPEAKING:
        r.feed(s.quiet(FRAME_S))
    assert r.loop.state is State.LISTENING
    r.feed(s.say("And of Spain?"), s.quiet(1.0))
    r.finish(8.0)
    assert [t.transcript for t in r.turns] == ["What is the capital of France?", "And of Spain?"]
    assert r.turns[1].follow_up and r.loop.state is State.IDLE
    assert [m.content for m in r.dialogue.prompts[-1][1:]][:2] == [r.turns[0].transcript, r.turns[0].reply]


def test_a_stop_phrase_says_nothing() -> None:
    r = rig(follow_up_s=0)
    r.request("Stop.")
    r.finish()
    assert r.turns == [] or r.turns[0].reply == ""
    assert not r.tts.spoken and r.loop.state is State.IDLE


def test_announcements_wait_for_a_pause_and_mute_holds_them() -> None:
    r = rig(follow_up_s=0)
    s = r.script
    r.feed(s.say("I was telling Anna about the weekend"))
    r.loop.announce("Reminder: call Mum.")
    r.feed(s.say("and the long walk by the river."))
    assert not r.tts.spoken, "spoke over the owner"
    r.feed(s.quiet(2.0))
    r.finish()
    assert [t.reply for t in r.turns] == ["Reminder: call Mum."]

    r.loop.set_muted(True)
    assert r.loop.state is State.MUTED
    r.loop.announce("Reminder: water the plants.")
    r.feed(s.quiet(2.0))
    r.finish()
    assert r.turns[-1].reply == "Muted. I'm not listening." and r.loop.state is State.MUTED
    r.request("What is the capital of France?")
    assert len(r.turns) == 2 and r.stt.utterances == 0, "listened while muted"
    r.loop.set_muted(False)
    r.feed(s.quiet(4.0))
    r.finish()
    for _ in range(12):  # a loaded box speaks "I'm listening again" late, so the pause after it comes late
        if len(r.turns) >= 4:
            break
        r.feed(s.quiet(0.5))
        r.finish()
    assert [t.reply for t in r.turns[2:]] == ["I'm listening again.", "Reminder: water the plants."]
    repeat_last(r.loop)
    r.feed(s.quiet(2.0))
    r.finish()
    assert r.turns[-1].reply == "Reminder: water the plants."
    states_are_allowed(r.states)


def test_muting_while_speaking_cuts_the_reply_and_rests_muted() -> None:
    r = rig(follow_up_s=0)
    s = r.script
    r.request("Tell me a long story about the sea.", after_s=0.0)
    while r.loop.state is not State.SPEAKING:
        r.feed(s.quiet(FRAME_S))
    r.loop.set_muted(True)
    r.feed(s.quiet(2.0))
    r.finish()
    assert r.turns[0].interrupted == "mute" and r.loop.state is State.MUTED
    states_are_allowed(r.states)


def test_a_transition_outside_the_table_is_refused() -> None:
    r = rig()
    with pytest.raises(BadTransition):
        r.loop._set_state(State.SPEAKING)  # IDLE -> SPEAKING: a reply must be begun first


def test_cancel_is_the_only_way_a_reply_ends_early() -> None:
    r = rig(early_reply_ms=300, end_of_turn_ms=900, follow_up_s=0)
    s = r.script
    r.feed(s.wake(), s.quiet(0.2), s.say("Tell me about"), s.quiet(0.1))
    while r.loop._reply is None:
        r.feed(s.quiet(FRAME_S))
    early = r.loop._reply
    r.feed(s.say("the stars."))
    assert early.phase is Phase.DROPPED and early.cancel_reason == "the owner went on"
    assert not early.cancel("again")  # an ended reply stays ended


def test_the_request_starts_after_the_wake_phrase() -> None:
    """The pre-roll handed to the STT at a wake starts after the phrase: its words are not heard."""
    r = rig(follow_up_s=0, early_reply_ms=0)
    r.request("What is the capital of France?")
    r.finish()
    assert r.turns[0].transcript == "What is the capital of France?"
    whole = rig(follow_up_s=0, early_reply_ms=0, cut_wake_phrase=False)  # the control: as before
    whole.request("What is the capital of France?")
    whole.finish()
    assert whole.stt.utterances and whole.turns[0].transcript == "What is the capital of France?"
    assert r.stt.heard_wake is False and whole.stt.heard_wake is True


def test_where_the_request_starts_in_the_preroll() -> None:
    from device.pipeline.hearing import after_wake_phrase

    s, q = True, False
    assert after_wake_phrase([q] * 3 + [s] * 10 + [q] * 4) == 13  # a pause after the phrase
    assert after_wake_phrase([q] * 3 + [s] * 10 + [q] * 3 + [s] * 4) == 16  # the request began
    assert after_wake_phrase([s] * 40) == 40 - 9  # no gap at all: the last 0.3 s


def test_a_reply_cut_while_its_worker_finishes_the_turn_is_whole() -> None:
    """Found by the slow board: stopping playback frees the worker, which finished the turn (and read
    its marks) before the cut had noted when playback stopped, and the reply failed with a KeyError."""
    from device.pipeline import metrics
    from device.pipeline.events import Turn
    from device.pipeline.reply import Reply

    reply = Reply(Turn(wake="wake", transcript="tell me a long story"), None)  # type: ignore[arg-type]
    seen: dict[str, object] = {}

    def stop_frees_the_worker() -> None:  # the worker runs to the end of the turn at once
        metrics.reply_done(reply.turn, 10.2, None)
        seen["interrupted"] = reply.turn.interrupted

    reply.cut("voice", 10.0, stop_frees_the_worker, clock=lambda: 10.04)
    assert seen == {"interrupted": "voice"}
    assert reply.turn.timings_ms["barge_in_stop"] == pytest.approx(40.0)
    assert reply.phase is Phase.CUT


def test_a_request_half_heard_when_the_microphone_goes_is_dropped_not_answered() -> None:
    """Found by the soak: pulled mid-sentence, "Remember that my locker code" was answered (and kept as
    a memory). Half a request is dropped; the next one is heard as usual."""
    r = rig(follow_up_s=0)
    r.feed(r.script.wake(), r.script.quiet(0.2), r.script.say("Remember that my locker code"))
    assert r.loop.state is State.LISTENING
    assert hearing_lost(r.loop) is True
    r.finish()
    assert r.turns == [] and r.loop.state is State.IDLE
    assert hearing_lost(r.loop) is False  # nothing being heard: nothing to drop
    r.request("What is the capital of France?")
    r.finish()
    assert [t.transcript for t in r.turns] == ["What is the capital of France?"]
