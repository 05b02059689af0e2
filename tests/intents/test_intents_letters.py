"""Letters: the draft/edit/save flow with a deterministic `generate`, the output guard, the files, the CLI,
and once, the whole flow on the real converted SmolLM2-135M."""

from __future__ import annotations

import stat
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from device.intents.letters import (
    LettersIntent,
    LetterStore,
    clean_letter_body,
    dialogue_generate,
    looks_like_letter,
    toward,
)
from tests.conftest import run_os1

pytestmark = pytest.mark.models

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=ZoneInfo("Europe/London"))

# What SmolLM2-135M really tends to wrap a letter in: chat preamble, its own salutations, placeholders.
CHATTY = (
    "Sure! Here's a letter for you:\n\nDear [Sister's Name],\n\n"
    "I hope you are well. The garden is blooming and I thought of you. The roses are out.\n"
    "The roses are out.\n\nBest regards,\n[Your Name]<|im_end|>"
)


class Writer:
    """A deterministic stand-in for the LLM with the same (system, user) -> text signature."""

    def __init__(self, draft: str = CHATTY, rewrite: str = "") -> None:
        self.draft, self.rewrite = draft, rewrite
        self.calls: list[tuple[str, str]] = []

    def __call__(self, system: str, user: str) -> str:
        self.calls.append((system, user))
        return self.rewrite if "rewrite" in system else self.draft


def intent(tmp_path: Path, writer: Writer) -> LettersIntent:
    return LettersIntent(LetterStore(tmp_path / "letters"), writer, owner="Sam", now=lambda: NOW)


def test_guard_strips_chat_artefacts_and_repeats() -> None:
    body = clean_letter_body(CHATTY)
    assert body == [
        "I hope you are well.",
        "The garden is blooming and I thought of you.",
        "The roses are out.",
    ]
    assert looks_like_letter(body)


def test_guard_drops_talk_about_the_rewrite() -> None:
    # What SmolLM2-135M answered to "make it warmer" in test_the_flow_on_the_real_model, once.
    said = (
        '"This morning brought back memories of a wonderful summer." In this revised version, I\'ve added '
        '"this morning" to create a more vivid image by using the preposition "day" instead of "summer".'
    )
    body = clean_letter_body(said)
    assert body == ["This morning brought back memories of a wonderful summer."]
    assert not looks_like_letter(body)


def test_guard_bounds_the_length() -> None:
    ramble = " ".join(f"I saw {n} birds today in the garden." for n in range(100))
    body = clean_letter_body(ramble, max_words=40)
    assert 0 < sum(len(s.split()) for s in body) <= 40 and all(s.endswith(".") for s in body)


@pytest.mark.parametrize(
    "garbage", ["", "<|im_end|>", "1. 2. 3.", "Dear Anna,\n\nLove,\nSam", "$$$ ### !!! ???"]
)
def test_garbage_falls_back_to_a_template_letter(tmp_path: Path, garbage: str) -> None:
    letters = intent(tmp_path, Writer(draft=garbage))
    reply = letters("help me write a letter to my sister about her new job")
    assert reply == (
        "Here's a draft: Dear Sister. I wanted to write to you about your new job. "
        "I think of you often, and I hope you're keeping well. I'd love to hear from you soon. "
        "With love, Sam."
    )
    assert letters.fallbacks == 1  # counted: the template, not the model, wrote it


def test_a_failing_model_still_gives_a_letter(tmp_path: Path) -> None:
    def broken(system: str, user: str) -> str:
        raise RuntimeError("onnxruntime fell over")

    letters = intent(tmp_path, broken)  # type: ignore[arg-type]
    reply = letters("write a letter to Anna")
    assert reply is not None and reply.startswith("Here's a draft: Dear Anna. I think of you often")
    assert letters.fallbacks == 1


@pytest.mark.parametrize(
    ("said", "letter"),
    [
        ("I miss her", "I miss you"),
        ("I miss her so much", "I miss you so much"),
        ("her garden looked lovely", "your garden looked lovely"),
        ("she is always in my thoughts", "you are always in my thoughts"),
        ("he was right all along", "you were right all along"),
        ("Anna's cake was the best", "your cake was the best"),
        ("I'm proud of them", "I'm proud of you"),
    ],
)
def test_talking_about_them_becomes_talking_to_them(said: str, letter: str) -> None:
    assert toward(said, "Anna") == letter


def test_draft_edit_save_and_read_back(tmp_path: Path) -> None:
    warmer = "I miss you more than words can say. The garden is blooming and it made me think of you."
    writer = Writer(rewrite=warmer)
    letters = intent(tmp_path, writer)
    assert letters("make it warmer") is None  # no letter open: that is conversation
    draft = letters("Help me write a letter to my sister about the garden")
    assert draft == (
        "Here's a draft: Dear Sister. I hope you are well. The garden is blooming and I thought of you. "
        "The roses are out. With love, Sam."
    )
    assert writer.calls[0][1] == "Write a letter to my sister about the garden."
    assert letters("add that I miss her") == "Added: I miss you."
    assert (
        letters("change the last line to she should visit soon")
        == "Okay. It now ends: You should visit soon."
    )
    assert letters("read it again") == (
        "Here it is: Dear Sister. I hope you are well. The garden is blooming and I thought of you. "
        "The roses are out. You should visit soon. With love, Sam."
    )
    assert letters("make it warmer") == (
        "Here's the new version: Dear Sister. I miss you more than words can say. "
        "The garden is blooming and it made me think of you. With love, Sam."
    )
    assert "warmer" in writer.calls[1][0]
    assert writer.calls[1][1].startswith("Make this letter warmer:\n\nI hope you are well. ")
    assert letters("what's the weather like") is None  # conversation goes on while the letter is open
    assert letters("That's good.") == "Saved your letter to your sister."
    assert letters("add that I miss her") is None  # saved and closed
    assert letters.fallbacks == 0  # the draft and the rewrite were the model's

    path = tmp_path / "letters" / "2026-11-22-sister.md"
    assert path.read_text() == (
        "---\nto: my sister\ndate: '2026-11-22'\nabout: the garden\n---\n\n"
        "Dear Sister,\n\nI miss you more than words can say. "
        "The garden is blooming and it made me think of you.\n\nWith love,\nSam\n"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left behind

    expected = (
        "Your letter to your sister, from today: Dear Sister. I miss you more than words can say. "
        "The garden is blooming and it made me think of you. With love, Sam."
    )
    assert letters("read me my last letter") == expected
    assert letters("read the letter to my sister") == expected


def test_a_rewrite_that_comes_back_as_garbage_keeps_the_letter(tmp_path: Path) -> None:
    letters = intent(tmp_path, Writer(rewrite="<|im_start|>assistant"))
    letters("write a letter to Anna about the party")
    assert (
        letters("make it funnier") == "I couldn't make a better version just now, so I've kept it as it was."
    )
    assert letters.fallbacks == 1  # the draft was the model's, the rewrite was not
    assert letters("read it") == (
        "Here it is: Dear Anna. I hope you are well. The garden is blooming and I thought of you. "
        "The roses are out. With love, Sam."
    )


def test_cancel_and_several_letters(tmp_path: Path) -> None:
    letters = intent(tmp_path, Writer())
    assert letters("read me my last letter") == "You haven't saved any letters yet."
    letters("write a letter to Anna")
    assert letters("cancel the letter") == "Okay, I've thrown that letter away."
    assert LetterStore(tmp_path / "letters").ids() == []
    for to in ["Anna", "Tom", "Anna"]:
        letters(f"write a letter to {to}")
        letters("add that I can't wait to see her" if to == "Anna" else "add that the match was great")
        letters("save it")
    assert LetterStore(tmp_path / "letters").ids() == [
        "2026-11-22-anna",
        "2026-11-22-tom",
        "2026-11-22-anna-2",
    ]
    assert "I can't wait to see you." in (letters("read the letter to Anna") or "")
    assert letters("read the letter to Bob") == "I can't find a letter to Bob."


def test_letters_cli(tmp_path: Path) -> None:
    env = {"OS1_STATE_DIR": str(tmp_path / "state")}
    empty = run_os1("letters", "list", env=env)
    assert empty.returncode == 0 and "no letters yet" in empty.stdout
    letters = LettersIntent(
        LetterStore(tmp_path / "state" / "letters"), Writer(), owner="Sam", now=lambda: NOW
    )
    letters("write a letter to Anna about the garden")
    letters("save it")

    listed = run_os1("letters", "list", env=env)
    assert listed.returncode == 0
    assert "2026-11-22-anna" in listed.stdout and "the garden" in listed.stdout
    shown = run_os1("letters", "show", "2026-11-22-anna", env=env)
    assert (
        shown.returncode == 0 and shown.stdout.startswith("---\nto: Anna\n") and "Dear Anna," in shown.stdout
    )
    exported = run_os1("letters", "export", "2026-11-22-anna", str(tmp_path / "out.txt"), env=env)
    assert exported.returncode == 0
    assert (tmp_path / "out.txt").read_text().startswith("Dear Anna,\n\nI hope you are well.")

    for bad in (["show", "nope"], ["export", "../../etc/passwd"]):
        r = run_os1("letters", *bad, env=env)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "os1 letters list" in r.stderr
    r = run_os1("letters", "export", "2026-11-22-anna", str(tmp_path / "no" / "such" / "dir.txt"), env=env)
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr


def test_the_flow_on_the_real_model(tmp_path: Path) -> None:
    """The one test with the real LLM (slow on 2 cores): SmolLM2-135M writes the draft and the warmer
    version itself (no template, nothing kept as it was: `fallbacks` counts those), and the owner hears
    a clean letter and gets a clean file."""
    from device.cli.models import ensure_converted
    from device.config.paths import models_dir
    from device.pipeline.llm.onnx import OnnxDialogue
    from device.pipeline.settings import DialogueSettings
    from tests.pipeline.llm.test_onnx import starter_gguf

    starter_gguf()  # skips if the source package is missing
    model = ensure_converted(
        "smollm2-135m-instruct-int4", models_dir(), log=lambda s: print(s, file=sys.stderr)
    )
    generate = dialogue_generate(OnnxDialogue(model, DialogueSettings()), max_new_tokens=120)
    letters = LettersIntent(LetterStore(tmp_path / "letters"), generate, owner="Sam", now=lambda: NOW)

    draft = letters("Help me write a letter to my sister about the garden")
    print(f"draft: {draft!r}")
    assert letters.fallbacks == 0, f"the template wrote the draft, not the model: {draft!r}"
    assert (
        draft is not None
        and draft.startswith("Here's a draft: Dear Sister. ")
        and draft.endswith("With love, Sam.")
    )

    warmer = letters("make it warmer")
    print(f"warmer: {warmer!r}")
    assert letters.fallbacks == 0, f"the rewrite was not used: {warmer!r}"
    assert warmer is not None and warmer.startswith("Here's the new version: Dear Sister. ")
    assert warmer.endswith("With love, Sam.")
    bodies = [
        said.split(": Dear Sister. ", 1)[1].removesuffix(" With love, Sam.") for said in (draft, warmer)
    ]
    assert bodies[0] != bodies[1]
    for body in bodies:
        for artefact in ("<|", "[", "Dear", "Regards", "Sincerely", "Here's", "Sure", "*", "#"):
            assert artefact not in body, body
        assert 5 <= len(body.split()) <= 180, body
    assert letters("add that I miss her") == "Added: I miss you."
    assert letters("save it") == "Saved your letter to your sister."
    saved = (tmp_path / "letters" / "2026-11-22-sister.md").read_text()
    assert saved.startswith("---\nto: my sister\n") and "I miss you.\n\nWith love,\nSam\n" in saved


def test_a_letter_that_cannot_be_written_stays_open(tmp_path: Path) -> None:
    """The kernel refuses the write (a file-size limit stands in for a full card: both fail the write
    with an OSError): the owner hears it, the letter stays open, and a later 'save it' works."""
    import resource
    import signal

    letters = intent(tmp_path, Writer())
    assert letters("Help me write a letter to my sister about the garden")
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))
    try:
        reply = letters("save it")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert reply is not None and reply.startswith("I couldn't save the letter") and "still open" in reply
    assert LetterStore(tmp_path / "letters").ids() == []
    assert letters("save it") == "Saved your letter to your sister."
    assert len(LetterStore(tmp_path / "letters").ids()) == 1
