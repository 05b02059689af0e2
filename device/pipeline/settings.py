"""The settings of the voice loop and of the dialogue engine. Frozen: they are replaced whole (the
loop's `update_settings`, `dataclasses.replace`, or per call for a reply).

These defaults are the config's defaults too: `config/schema.py` takes its `vad.*`, `wake.preroll_ms`
and `llm.*` defaults from here (one direction), and a test checks that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.pipeline.text import STOP_PHRASES


@dataclass(frozen=True)
class LoopSettings:
    end_of_turn_ms: int = 600
    """This much silence ends the turn for certain."""
    early_reply_ms: int = 300
    """Make the reply as soon as the words stop, before the turn is certain, and let it be heard after
    this much silence; if the owner speaks again before its first sound, it is dropped unheard and the
    utterance goes on (0 = off: wait for end_of_turn_ms)."""
    quick_end_of_turn_ms: int = 0
    """When the words so far make a finished sentence, this shorter silence ends the turn (0 = off)."""
    smart_turn_ms: int = 0
    """After this much silence, ask the end-of-turn model (0 = off)."""
    smart_turn_threshold: float = 0.5
    """The model's probability at or above which the turn ends then."""
    vad_threshold: float = 0.5
    """Speech probability that starts speech (it is kept down to 0.15 below this)."""
    preroll_ms: int = 800
    """Audio kept from before the wake word fired: the words said while it was being recognised."""
    cut_wake_phrase: bool = True
    """Give the STT only what followed the wake phrase in the pre-roll (a misheard phrase, "are of
    this.", led the transcripts in other voices); off: the whole pre-roll, as before."""
    listen_timeout_s: float = 6.0
    """Listening with no speech this long goes back to idle."""
    max_utterance_s: float = 15.0
    """An utterance this long is answered as it is."""
    history_turns: int = 6
    """User+assistant pairs kept in the prompt."""
    follow_up_s: float = 5.0
    """After a reply, listen this long without the wake word (0 = off)."""
    barge_in: bool = True
    """The owner's voice interrupts a reply."""
    barge_in_ms: int = 160
    """Speech (not echo) this long interrupts."""
    continue_within_s: float = 1.5
    """Talking over a reply this soon after its first sound goes on with the same request: the owner
    had only paused. The cut reply is forgotten and both parts are answered as one."""
    max_reply_words: int = 20
    """A reply in the LLM's words stops at the first sentence end past this many (persona.length
    short: about 8 s of speech; 0 = no limit). A command's answer is said whole."""
    stop_phrases: tuple[str, ...] = STOP_PHRASES
    """Short requests that only ask for quiet."""
    sequential: bool = False
    """Benchmark baseline: the full transcript, the full reply, all the speech, then play."""
    echo_gate: bool = True
    """Ignore our own voice in the mic (off only to show what it prevents)."""
    voice_policy: str = "private"
    """What the owner's voice unlocks (LoopParts.voice tells it): "private" (anyone may talk, only
    the owner reaches what is stored), "strict" (only the owner is answered) or "off"."""
    tap_is_owner: bool = True
    """A turn begun with a tap is the owner's: a hand on the device."""


@dataclass(frozen=True)
class DialogueSettings:
    """How a reply is generated. Frozen: change it with `dataclasses.replace`, or pass other
    settings for one reply (`stream(..., settings=...)`)."""

    max_new_tokens: int = 64
    """Hard budget per reply."""
    max_sentences: int = 2
    """Stop after this many complete sentences; 0 = no limit."""
    repetition_penalty: float = 1.1
    """1.2+ makes SmolLM2-135M wander off ("Paris" becomes "Normandy")."""
    no_repeat_ngram: int = 4
    """Stop when the reply repeats a run of this many words; 0 = off."""
    echo_words: int = 6
    """Stop when the reply recites this many words of the system prompt; 0 = off."""
    temperature: float = 0.0
    """0 = greedy, deterministic."""
    context_tokens: int = 2048
    """Prompt + reply; the oldest turns are dropped to fit."""
    threads: int | None = None
    """onnxruntime intra-op threads; None = the runtime's choice."""
    reuse_prefix: bool = True
    """Keep the KV cache of the conversation so far between turns, so a turn only prefills its new
    words. Costs a KV buffer sized for context_tokens, held for the engine's lifetime."""
    reuse_reply: bool = True
    """Also keep the KV of the reply just generated: the next turn's history repeats it, so a
    follow-up prefills only its own words (first token ~60 ms instead of ~150-240 ms a few turns in)."""
