"""`os1 ask` and `os1 chat` with no daemon running: the companion runs here, on the same state dir,
and says so. Real LLM, real memory, real intents."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import run_os1

pytestmark = pytest.mark.models


def test_ask_without_a_daemon_answers_here_with_the_whole_companion() -> None:
    r = run_os1("ask", "What's 17 times 3?", "--json")
    assert r.returncode == 0, r.stderr
    assert "no companion running; answering here" in r.stderr
    turn = json.loads(r.stdout)
    assert turn["via"] == "here" and turn["answered_by"] == "intent" and "51" in turn["reply"]
    r = run_os1("ask", "I want to kill myself.")
    assert r.returncode == 0 and "116 123" in r.stdout  # care, typed too


def test_what_was_told_in_one_ask_is_known_in_the_next() -> None:
    assert run_os1("ask", "My sister Anna lives in Lyon.").returncode == 0
    r = run_os1("ask", "Where does my sister live?")
    assert r.returncode == 0 and "Lyon" in r.stdout, r.stdout + r.stderr


def test_chat_keeps_the_conversation_until_end_of_input() -> None:
    r = run_os1("chat", stdin="What's 6 times 7?\nNow double it.\nWhat's my name?\n")
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 3, r.stdout
    assert "42" in lines[0] and "84" in lines[1]  # the follow-up knew the last answer
    assert re.search(r"haven't told me your name", lines[2])


def test_ask_with_nothing_to_say_is_one_line_and_exit_1() -> None:
    r = run_os1("ask", "   ")
    assert r.returncode == 1 and "ask needs something to say" in r.stderr
