"""`os1 persona show|history|reset`: who the companion is, how that changed, and a fresh start."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from device.cli import EXIT_BAD_INPUT
from device.config import load as configuration
from device.config import paths
from device.config.schema import Config


def register(sub: Any) -> list[str]:
    p = sub.add_parser("persona", help="show the persona, its change history, or run the onboarding again")
    psub = p.add_subparsers(dest="persona_action", required=True)
    psub.add_parser("show", help="the effective persona (config + onboarding answers) and its prompt")
    psub.add_parser("history", help="every recorded change of the persona, oldest first")
    reset = psub.add_parser("reset", help="forget the onboarding answers so the setup runs at next start")
    reset.add_argument("--yes", action="store_true", help="do it without asking")
    return ["persona"]


def dispatch(args: argparse.Namespace) -> int:
    cfg, _source = configuration.load(args.config)
    state_dir = paths.dirs(cfg).state
    if args.persona_action == "show":
        return show(cfg, state_dir)
    if args.persona_action == "history":
        return history(state_dir)
    return reset(cfg, state_dir, args.yes)


def show(cfg: Config, state_dir: Any) -> int:
    from device.persona.changes import PersonaLog
    from device.persona.onboarding import STEPS, Onboarding
    from device.persona.persona import resolve, voice_id
    from device.persona.profile import ProfileStore

    store = ProfileStore(state_dir)
    profile = store.load()
    persona, sources = resolve(cfg.persona, profile)
    for key, value in persona.fields().items():
        if key == "prompt_template":
            continue
        where = f"  ({sources[key]})" if key in sources else ""
        print(f"{key:20} {value or '-'}{where}")
    print(f"{'voice':20} {voice_id(cfg)}  ({'persona.voice' if cfg.persona.voice else 'tts.voice'})")
    onboarding = Onboarding(store, cfg.persona)
    if not cfg.persona.onboarding:
        status = "off (persona.onboarding: false)"
    elif onboarding.active:
        done = len(profile.answered)
        status = f"will run at next start ({done} of {len(STEPS)} questions answered)"
    else:
        status = "done" if profile.done else "nothing to ask (the config answers it all)"
    print(f"{'onboarding':20} {status}")
    print(f"{'profile':20} {store.path if store.exists() else '-'}")
    print(f"system prompt:\n  {persona.system_prompt()}")
    if PersonaLog(state_dir).last() != persona.fields():
        print("(changed since the companion last started; it is logged at the next start)")
    return 0


def history(state_dir: Any) -> int:
    from device.persona.changes import PersonaLog

    log = PersonaLog(state_dir)
    entries = log.entries()
    if not entries:
        print(f"no persona changes recorded yet ({log.path} is written when the companion starts)")
        return 0
    for entry in entries:
        print(f"{entry.get('time', '?')}  {entry.get('source', '?')}")
        changes = entry.get("changes", {})
        if all(old is None for old, _new in changes.values()):
            print("  first recorded: " + ", ".join(f"{k} {_short(new)}" for k, (_o, new) in changes.items()))
            continue
        for key, (old, new) in changes.items():
            print(f"  {key}: {_short(old)} -> {_short(new)}")
    return 0


def _short(value: object) -> str:
    if value is None:
        return "(unset)"
    text = repr(str(value))
    return text if len(text) <= 60 else text[:57] + "…'"


def reset(cfg: Config, state_dir: Any, yes: bool) -> int:
    from device.persona.changes import current
    from device.persona.profile import ProfileStore

    store = ProfileStore(state_dir)
    what = (
        f"{store.path} (your name and how to say it, the companion's name, what you want from it, "
        "its speaking style, and the onboarding progress)"
    )
    if not store.exists():
        print(f"nothing to reset: {store.path} does not exist; the onboarding runs at next start")
        return 0
    if not yes:
        if not sys.stdin.isatty():
            print(f"os1: persona reset deletes {what}; run again with --yes", file=sys.stderr)
            return EXIT_BAD_INPUT
        answer = input(f"Delete {what}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing deleted")
            return 0
    store.reset()
    current(cfg, state_dir, source="reset")
    note = "" if cfg.persona.onboarding else " (persona.onboarding is false: set it to true to run it)"
    print(f"deleted {store.path}; the onboarding runs at the companion's next start{note}")
    return 0
