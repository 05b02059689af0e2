"""`os1 voice show | enroll WAV... | forget`: the owner's voiceprint, from the shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from device.cli import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK
from device.config import load as configuration
from device.config import paths
from device.persona import voiceprint


def register(sub: Any) -> list[str]:
    voice = sub.add_parser("voice", help="the owner's voiceprint: show, enroll or forget it")
    vsub = voice.add_subparsers(dest="action", required=True)
    vsub.add_parser("show", help="whether there is a voiceprint, what it was made from, and the policy")
    enroll = vsub.add_parser(
        "enroll", help="make the voiceprint: speak into the microphone when asked, or give recordings"
    )
    enroll.add_argument(
        "wavs",
        nargs="*",
        type=Path,
        help="3 or more recordings, each a sentence or two (none: the microphone)",
    )
    vsub.add_parser("forget", help="delete the voiceprint (the voice is no longer checked)")
    return ["voice"]


def dispatch(args: argparse.Namespace) -> int:
    cfg, _source = configuration.load(args.config)
    dirs = paths.dirs(cfg)
    if args.action == "show":
        return _show(cfg.owner.voice_check, dirs.state)
    if args.action == "forget":
        gone = voiceprint.forget(dirs.state)
        print("voiceprint deleted" if gone else f"there was no voiceprint in {dirs.state}")
        _tell_daemon()
        return EXIT_OK
    if not args.wavs:
        return _enroll_live(cfg, dirs.state, dirs.models)
    return _enroll(cfg, args.wavs, dirs.state, dirs.models)


def _show(policy: str, state: Path) -> int:
    try:
        vp = voiceprint.load(state)
    except voiceprint.VoiceprintCorrupt as e:
        print(f"os1: {e}", file=sys.stderr)
        return EXIT_FAIL
    if vp is None:
        print(f"no voiceprint yet (owner.voice_check {policy}: nobody's voice is checked)")
        print("make one with: os1 voice enroll A.wav B.wav C.wav, or in the first meeting")
        return EXIT_OK
    mode = oct(voiceprint.path(state).stat().st_mode & 0o777)
    print(f"voiceprint: {voiceprint.path(state)} ({mode})")
    print(
        f"made {vp.created} from {vp.utterances} utterances, {vp.speech_s:.1f} s of speech, with {vp.model}"
    )
    print(f"owner.voice_check: {policy}")
    return EXIT_OK


def _enroll(cfg: Any, wavs: list[Path], state: Path, models: Path) -> int:
    from device.app.owner import load_encoder
    from device.drivers.wavfile import read_wav

    encoder = load_encoder(cfg, models)  # ModelMissing / VoiceprintError: one line (cli/errors.py)
    enrolment = voiceprint.Enrolment(cfg.owner.voice_model)
    for wav in wavs:
        audio = read_wav(wav)  # AudioFileError: one line
        problem = enrolment.add(encoder.embed(audio))
        print(f"{wav}: {problem or 'ok'}")
    return _save(enrolment, state)


PROMPTS = (
    "Tell me what you did this morning, in a sentence or two.",
    "Now tell me about somewhere you like to go.",
    "And one more: what would you like me to help you with?",
    "A little more, please: tell me about someone you know.",
    "Nearly there: say anything at all, in your own words.",
    "Last one: tell me what you can see around you.",
)


def _enroll_live(cfg: Any, state: Path, models: Path) -> int:
    """Ask for a few sentences through the microphone, each judged as it comes (too short, too noisy)."""
    from device.app.owner import load_encoder
    from device.cli.owner_data import companion_running
    from device.drivers.audio import PyAudioMicrophone
    from device.models.catalog import resolve
    from device.pipeline.vad import SileroVad

    if companion_running():
        print("os1: the companion is running and has the microphone; stop it (sudo systemctl stop os1), "
              "or give recordings: os1 voice enroll A.wav B.wav C.wav", file=sys.stderr)  # fmt: skip
        return EXIT_FAIL
    encoder = load_encoder(cfg, models)
    vad = SileroVad(resolve("silero-vad", models))
    mic = PyAudioMicrophone(cfg.audio.input_device or cfg.audio.device, cfg.audio.device_rate)
    enrolment = voiceprint.Enrolment(cfg.owner.voice_model)
    try:
        for prompt in PROMPTS:
            if enrolment.ready:
                break
            print(f"{prompt} (speak now; a pause ends it)", flush=True)
            audio = voiceprint.one_utterance((frame for frame, _t in mic), vad.probability)
            if audio is None:
                print("  I heard nothing. Is the microphone on?")
                continue
            print(f"  {enrolment.add(encoder.embed(audio)) or 'got it'}")
    finally:
        mic.close()
    return _save(enrolment, state)


def _save(enrolment: voiceprint.Enrolment, state: Path) -> int:
    if not enrolment.ready:
        usable, need = len(enrolment.embeddings), voiceprint.MIN_UTTERANCES
        print(
            f"os1: not enough clean speech for a voiceprint ({usable} usable recordings, "
            f"{enrolment.speech_s:.1f} s; it needs {need} and {voiceprint.MIN_TOTAL_S:.0f} s). "
            f"{enrolment.still_needed()} Nothing was saved.",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    vp = enrolment.voiceprint()
    where = voiceprint.save(state, vp)
    print(f"voiceprint saved to {where} from {vp.utterances} recordings ({vp.speech_s:.1f} s of speech)")
    _tell_daemon()
    return EXIT_OK


def _tell_daemon() -> None:
    """A running daemon takes up the change at once (a reload); if none runs, the next start will."""
    from device.app import control

    try:
        control.send({"cmd": "reload"}, timeout_s=5.0)
        print("the running companion uses it now")
    except Exception:  # not running, or not ours to reach: the file is what counts
        pass
