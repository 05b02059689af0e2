"""Only its owner, through the whole companion: `os1 run` on real speech, the real STT, the real
voice check against a voiceprint enrolled with `os1 voice enroll`, the memory and the intents.
The owner is Piper's joe voice; strangers are espeak-ng voices the voiceprint never heard."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from device.drivers.wavfile import write_wav
from device.evals.speech import espeak_speech, join, piper_speech, silence
from device.intents.private import NOT_YOURS, REFUSAL
from device.intents.settings import MUTE_LINE
from tests.conftest import run_os1

pytestmark = pytest.mark.models

ENROL = (
    "My name is Sam, and I live by the river in an old brick house.",
    "I like walking early in the morning, before the town wakes up.",
    "I work at the library, and I love quiet afternoons with a good book.",
    "My sister Anna lives in Lisbon, and we talk on the phone every Sunday.",
)


def _owner(text: str) -> np.ndarray:
    return piper_speech(text)  # a plain render; the enrolment's have sampling noise, so none repeats


def _enrolment_clip(text: str) -> np.ndarray:
    return piper_speech(text, noise_scale=0.667)


def _stranger(text: str, voice: str = "en-gb") -> np.ndarray:
    return espeak_speech(text, voice=voice)


@pytest.fixture
def enrolled(tmp_path: Path) -> Path:
    wavs = [
        write_wav(tmp_path / f"enrol{i}.wav", join(silence(0.4), _enrolment_clip(t), silence(0.4)))
        for i, t in enumerate(ENROL)
    ]
    r = run_os1("voice", "enroll", *map(str, wavs))
    assert r.returncode == 0, r.stderr
    return tmp_path


def _say(where: Path, name: str, speech: np.ndarray, *config: str) -> dict[str, object]:
    return _say_all(where, name, speech, *config)[0]


def _say_all(
    where: Path, name: str, speech: np.ndarray, *config: str, env: dict[str, str] | None = None
) -> list[dict[str, object]]:
    """Every turn of one recording, in order."""
    wav = write_wav(where / f"{name}.wav", join(silence(0.3), speech, silence(1.0)))
    args = ["run", "--input", str(wav), "--no-wake", "--fast", "--json"]
    if config:
        cfg = where / f"{name}.yaml"
        cfg.write_text("\n".join(config) + "\n")
        args = ["--config", str(cfg), *args]
    r = run_os1(*args, env=env)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def test_the_owners_voice_opens_what_is_stored_and_a_strangers_does_not(enrolled: Path) -> None:
    told = _say(enrolled, "tell", _owner("My sister Anna lives in Paris."))
    assert told["speaker"] == "owner", told
    asked = _say(enrolled, "owner_asks", _owner("Where does my sister live?"))
    assert asked["speaker"] == "owner" and "paris" in str(asked["reply"]).lower(), asked
    stranger = _say(enrolled, "stranger_asks", _stranger("Where does my sister live?"))
    assert stranger["speaker"] == "other", stranger
    assert stranger["reply"] == REFUSAL, stranger
    assert "paris" not in str(stranger["reply"]).lower()
    assert stranger["stats"]["voice_score"] < 0.75  # type: ignore[index]


def test_what_a_stranger_says_is_not_stored_as_the_owners_memory(enrolled: Path) -> None:
    said = _say(enrolled, "stranger_tells", _stranger("My sister Anna lives in Paris.", "en-us"))
    assert said["speaker"] == "other", said
    listed = run_os1("memory", "list", "--json")
    assert listed.returncode == 0 and "Paris" not in listed.stdout, listed.stdout
    # The owner saying the same is stored: the control.
    said = _say(enrolled, "owner_tells", _owner("My sister Anna lives in Paris."))
    assert said["speaker"] == "owner", said
    assert "Paris" in run_os1("memory", "list", "--json").stdout


def test_a_stranger_asking_the_owners_name_learns_nothing(enrolled: Path) -> None:
    heard = _say(enrolled, "name", _stranger("What's my name?", "en+m3"))
    assert heard["speaker"] == "other"
    assert "sam" not in str(heard["reply"]).lower(), heard


def test_only_the_owners_voice_mutes_it(enrolled: Path) -> None:
    """ "Please stop listening", then a question, in one recording: from a stranger the mute is refused
    and the question answered; from the owner the mute is said and the question is never heard."""

    def mute_then_ask(voice: Callable[[str], np.ndarray]) -> np.ndarray:
        return join(voice("Please stop listening for a while."), silence(2.0), voice("What time is it?"))

    stranger = _say_all(enrolled, "stranger_mutes", mute_then_ask(_stranger))
    assert [t["speaker"] for t in stranger] == ["other", "other"], stranger
    assert stranger[0]["reply"] == NOT_YOURS and stranger[1]["reply"], stranger
    owner = _say_all(enrolled, "owner_mutes", mute_then_ask(_owner))
    assert len(owner) == 1 and owner[0]["speaker"] == "owner", owner
    assert owner[0]["reply"] == MUTE_LINE, owner


def test_only_the_owners_voice_changes_how_it_talks(enrolled: Path) -> None:
    stranger = _say(enrolled, "stranger_slower", _stranger("Could you talk more slowly, please?"))
    assert stranger["speaker"] == "other" and stranger["reply"] == NOT_YOURS, stranger
    owner = _say(enrolled, "owner_slower", _owner("Could you talk more slowly, please?"))
    assert owner["speaker"] == "owner", owner
    # A recording run saves nothing in the owner's config file, and says so.
    assert owner["reply"] == (
        "Okay, I'll talk more slowly. That lasts until I restart: "
        "I couldn't save it, I have no config file to keep it in."
    )


def test_strict_answers_only_the_owner(enrolled: Path) -> None:
    strict = "owner:\n  voice_check: strict"
    stranger = _say(enrolled, "stranger", _stranger("What time is it?"), strict)
    assert stranger["speaker"] == "other" and stranger["reply"] == "", stranger
    owner = _say(enrolled, "owner", _owner("What time is it?"), strict)
    assert owner["speaker"] == "owner" and owner["reply"], owner


def test_with_the_check_off_anyone_is_the_owner(enrolled: Path) -> None:
    _say(enrolled, "tell", _owner("My sister Anna lives in Paris."))
    off = "owner:\n  voice_check: off"
    stranger = _say(enrolled, "stranger", _stranger("Where does my sister live?"), off)
    assert stranger["speaker"] == "" and "paris" in str(stranger["reply"]).lower(), stranger


def test_a_corrupt_voiceprint_is_one_line_and_nobody_is_refused(enrolled: Path, tmp_path: Path) -> None:
    (tmp_path / "state" / "voiceprint.json").write_text("{not json")
    shown = run_os1("voice", "show")
    assert shown.returncode == 1 and len(shown.stderr.strip().splitlines()) == 1, shown.stderr
    assert "os1 voice forget && os1 voice enroll" in shown.stderr
    heard = _say(tmp_path, "after", _stranger("What time is it?"))
    assert heard["speaker"] == "" and heard["reply"], heard  # no voiceprint: the check only listens


def test_enrolment_that_is_too_short_saves_nothing(tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "yes.wav", join(silence(0.3), _owner("Yes."), silence(0.3)))
    long = write_wav(tmp_path / "long.wav", join(silence(0.3), _owner(ENROL[0]), silence(0.3)))
    r = run_os1("voice", "enroll", str(wav), str(long))
    assert r.returncode == 2
    assert "a bit short" in r.stdout and "Nothing was saved" in r.stderr, (r.stdout, r.stderr)
    assert "no voiceprint yet" in run_os1("voice", "show").stdout


def test_only_the_owners_voice_hears_the_calendar(enrolled: Path) -> None:
    """An event added over `os1 chat` (the owner, by the socket's rules), then asked about out loud:
    a stranger is refused without a word of it, the owner hears it."""
    config = "calendar:\n  source: local"
    cfg = enrolled / "calendar.yaml"
    cfg.write_text(config + "\npersona:\n  onboarding: false\n")
    typed = run_os1("--config", str(cfg), "chat", stdin="Add dinner with Sam tomorrow at 7 pm.\nyes\n")
    assert "Done: Dinner with Sam is in your calendar." in typed.stdout, (typed.stdout, typed.stderr)
    stranger = _say(enrolled, "stranger_day", _stranger("What's on tomorrow?"), config)
    assert stranger["speaker"] == "other" and stranger["reply"] == REFUSAL, stranger
    owner = _say(enrolled, "owner_day", _owner("What's on tomorrow?"), config)
    assert owner["speaker"] == "owner" and "Dinner with Sam" in str(owner["reply"]), owner


def test_only_the_owners_voice_hears_the_mail(enrolled: Path) -> None:
    """The inbox on a real IMAP server (Dovecot on loopback): a stranger asking out loud is refused
    without a word of it; the owner hears who wrote and about what."""
    import ssl

    from imapclient import IMAPClient

    from device.evals.dovecot import DovecotServer

    with DovecotServer() as srv:
        ctx = ssl.create_default_context(cafile=str(srv.cert))
        with IMAPClient("127.0.0.1", port=srv.port, ssl=True, ssl_context=ctx) as c:
            c.login(srv.user, srv.password)
            c.append(
                "INBOX",
                b"From: Anna <anna@example.org>\r\nSubject: Lunch\r\n\r\nShall we meet on Friday?\r\n",
            )
        config = (
            f"mail:\n  source: imap\n  imap_host: 127.0.0.1\n  imap_port: {srv.port}\n"
            f"  username: {srv.user}\n  ca_file: {srv.cert}"
        )
        env = {"OS1_MAIL_PASSWORD": srv.password}
        cfg = enrolled / "mail.yaml"
        cfg.write_text(config + "\n")
        # The daemon syncs in the background; a recording run reads the copy this sync leaves.
        assert run_os1("--config", str(cfg), "doctor", env=env).stdout.count("OK   mail") == 1
        stranger = _say_all(
            enrolled, "stranger_mail", _stranger("Do I have any new email?"), config, env=env
        )[0]
        assert stranger["speaker"] == "other" and stranger["reply"] == REFUSAL, stranger
        owner = _say_all(enrolled, "owner_mail", _owner("Do I have any new email?"), config, env=env)[0]
        assert owner["speaker"] == "owner" and "from Anna, about Lunch" in str(owner["reply"]), owner
