"""Typed turns: `os1 ask` and `os1 chat` go through the same companion as the voice.

With a daemon running, a typed turn is one of its turns (`ask_daemon`): the control socket hands it
to the live loop, so typing and talking share one conversation, one memory and one state. Without a
daemon, `TextCompanion` makes the companion in this process on the same state dir: the LLM, the
memory and the intents, and no speech models. Either way the reply is made by the same reply worker
(`pipeline/reply.py`) as a spoken one, so the same words get the same kind of answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from device.app import control
from device.app.assemble import after_each_turn
from device.app.companion import Companion, build_companion
from device.app.engines import build_dialogue, loop_settings
from device.config import paths
from device.config.schema import Config
from device.pipeline import events as ev
from device.pipeline.events import Message, Turn
from device.pipeline.history import Conversation
from device.pipeline.reply import Reply, ReplyStages
from device.pipeline.stages import Dialogue
from device.pipeline.worker import ReplyWorker

ASK_TIMEOUT_S = 120.0  # the daemon may be mid-conversation; a typed turn waits its turn


class TextCompanion:
    """The companion with a keyboard for ears: `turn(text)` answers one typed turn."""

    def __init__(self, cfg: Config, companion: Companion, dialogue: Dialogue):
        self.cfg = cfg
        self.companion = companion
        self.dialogue = dialogue
        self.settings = loop_settings(cfg)
        self.conversation = Conversation(self.settings.history_turns)
        self.notes: list[str] = []
        """What it would have said unprompted after a turn (a full disk, a nudge), for the caller."""
        self._after = after_each_turn(self.notes.append, companion, lambda _turn: None)
        self._worker = ReplyWorker(
            self.conversation, threading.RLock(), lambda _r: None, self._done, time.monotonic
        )
        if dialogue.capabilities.prime:  # the persona's prompt is in the KV cache before the first turn
            dialogue.prime([Message("system", self.system_prompt())])

    @classmethod
    def open(cls, cfg: Config, state_dir: Path | None = None) -> TextCompanion:
        """Load the LLM and open the memory in `state_dir` (default: the config's)."""
        dirs = paths.dirs(cfg)
        dialogue = build_dialogue(cfg.llm, dirs.models, cfg.privacy.send_memories)
        companion = build_companion(cfg, dialogue, None, state_dir or dirs.state)
        return cls(cfg, companion, dialogue)

    def system_prompt(self) -> str:
        return self.companion.persona.persona.system_prompt()

    def turn(self, text: str, on_text: Callable[[str], None] | None = None) -> Turn:
        """Answer one typed turn; `on_text` gets each piece of the reply as it is written."""
        turn = Turn(wake=None, transcript=text.strip(), typed=True)
        turn.marks[ev.LISTEN] = turn.marks[ev.SPEECH_END] = turn.marks[ev.END_OF_TURN] = time.monotonic()
        memory = self.companion.memory
        stages = ReplyStages(
            stt=None,
            dialogue=self.dialogue,
            tts=None,
            sink=None,
            settings=self.settings,
            system_prompt=self.system_prompt(),
            intents=self.companion.intents.router,
            context=memory.context_for if memory is not None else None,
            steer=self.companion.steer,
        )
        reply = Reply(turn, stages, typed=True, speak=False, on_text=on_text)
        self._worker.start(reply, None).join()
        return turn

    def say(self, text: str) -> str:
        """The reply to `text`, as one string."""
        return self.turn(text).reply

    def _done(self, reply: Reply, _follow_up: bool) -> None:
        self._after(reply.turn)

    def close(self) -> None:
        """Saves the summary of the conversation, as the daemon does when it stops."""
        self.companion.close()


def ask_daemon(
    text: str, speak: bool = False, timeout_s: float = ASK_TIMEOUT_S
) -> Iterator[dict[str, object]]:
    """The running daemon's answer to a typed turn, as it is written: {"piece": …} messages, then
    {"done": true, "turn": {…}}. Raises control.DaemonNotRunning when there is no daemon."""
    path = control.find_daemon()
    yield from control.request_stream(path, {"cmd": "ask", "text": text, "speak": speak}, timeout_s)
