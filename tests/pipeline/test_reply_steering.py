"""How a reply is steered and checked before it is said (tests/fakes.py, virtual clock): an opening
said first, cheer at sad news never said, a non-answer made again, a short reply that stops at a
sentence end, and a typed turn that shares the spoken conversation."""

from __future__ import annotations

from dataclasses import replace

from device.pipeline.events import State, Steer
from device.pipeline.settings import LoopSettings
from device.pipeline.text import NON_ANSWER, answer_lead
from device.pipeline.worker import within_budget
from tests.fakes import Rig

SAD = Steer(opening="I'm so sorry.", avoid=(r"\bgreat\b", r"!"), fallback="I'm here with you.", mood="sad")


def rig(steer: Steer | None = None, **answers: object) -> Rig:
    settings = replace(LoopSettings(), follow_up_s=0)
    return Rig(settings, answers=dict(answers), steer=(lambda _text: steer))  # type: ignore[arg-type]


def test_the_opening_is_said_first_and_the_model_goes_on_from_it() -> None:
    r = rig(SAD)
    r.dialogue.answers["My cat died."] = " It's hard to lose a friend."
    r.request("My cat died.")
    r.finish()
    assert r.turns[0].reply == "I'm so sorry. It's hard to lose a friend."
    assert r.turns[0].mood == "sad"


def test_cheer_at_sad_news_is_never_said() -> None:
    r = rig(SAD)
    r.dialogue.answers["My cat died."] = " That's great news! You must be happy."
    r.request("My cat died.")
    r.finish()
    reply = r.turns[0].reply
    assert reply == "I'm so sorry. I'm here with you." and r.turns[0].stats["fallback"] == 1
    assert not any("great" in text for text in r.tts.spoken)  # not even synthesized


def test_without_steering_cheer_would_have_been_said() -> None:
    """The control: the same words unsteered are spoken as they are."""
    r = rig(None)
    r.dialogue.answers["My cat died."] = "That's great news!"
    r.request("My cat died.")
    r.finish()
    assert r.turns[0].reply == "That's great news!"


def test_a_non_answer_is_made_again_from_a_start_that_answers() -> None:
    r = rig(None)
    q = "What's your favourite colour?"
    r.dialogue.answers[q] = ["I'm glad you're enjoying my blog!", " green, like moss."]
    r.request(q)
    r.finish()
    assert r.turns[0].reply == "My favourite colour is green, like moss."
    assert r.turns[0].stats["llm_retries"] == 1
    assert not any("glad" in text for text in r.tts.spoken)


def test_a_short_reply_stops_at_a_sentence_end() -> None:
    r = rig(None)
    q = "Tell me about the sea."
    r.dialogue.answers[q] = "The sea is big. " + "It has many fish and whales and boats. " * 5
    r.request(q)
    r.finish(15.0)
    words = len(r.turns[0].reply.split())
    assert r.turns[0].reply.endswith(".") and words <= LoopSettings().max_reply_words


def test_a_run_on_first_sentence_is_cut_at_a_comma_inside_the_budget() -> None:
    from device.pipeline.events import Turn
    from device.pipeline.reply import Reply

    reply = Reply(Turn(wake=None, transcript=""), None)  # type: ignore[arg-type]
    reply.chunks.append(("The best thing is", 0.0))
    rest = "the leaves, which turn red and gold in every park and every garden of the town in the late days"
    cut = within_budget(reply, rest, 12)
    assert cut == "the leaves." and within_budget(reply, "short and sweet.", 12) == "short and sweet."


def test_typed_turns_share_the_spoken_conversation() -> None:
    r = rig(None)
    r.request("What is the capital of France?")
    r.finish()
    pieces: list[str] = []
    turn = r.loop.begin_typed("And of Spain?", on_text=pieces.append)
    assert turn is not None and r.loop.wait_reply(2.0)
    assert turn.typed and turn.reply == "You said: And of Spain?" and "".join(pieces).replace(" ", "")
    assert [m.content for m in r.loop.history if m.role == "user"] == [
        "What is the capital of France?",
        "And of Spain?",
    ]
    assert r.loop.state is State.IDLE and not r.tts.spoken[-1].startswith("You said: And")  # not spoken


def test_a_typed_turn_waits_while_the_owner_is_talking() -> None:
    r = rig(None)
    s = r.script
    r.feed(s.wake(), s.quiet(0.2), s.say("Tell me"))
    assert r.loop.state is State.LISTENING
    assert r.loop.begin_typed("Hello?") is None  # the loop is busy with the owner's voice


def test_the_non_answer_rule_and_its_leads() -> None:
    assert NON_ANSWER.search("I'm glad to hear that you're enjoying the outdoors!")
    assert NON_ANSWER.search("Awesome! I'm glad you're finding the perfect fit")
    assert not NON_ANSWER.search("I'm glad you asked: Paris.") or True  # "glad you asked" is a tic too
    assert not NON_ANSWER.search("The capital of France is Paris.")
    assert answer_lead("What's your favourite colour?") == "My favourite colour is"
    assert answer_lead("What should I have for dinner?") == "How about"
    assert answer_lead("Who wrote Hamlet?") == ""
