"""`os1 eval dialogue [--model ID] [--door ask|companion] [--json F] [--only CATEGORY] [--limit N] [--show]`

Runs every case on a fresh temp state dir through a door, checks the replies, prints the table.
Exit codes: 0 every target met; 1 a target missed, or the door cannot be used; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from device.evals.dialogue import report
from device.evals.dialogue.cases import Case, all_cases, select
from device.evals.dialogue.checks import Context
from device.evals.dialogue.doors import Door, DoorError, DoorUnavailable, make_door, seed
from device.evals.dialogue.report import CaseResult, TurnResult

OWNER = "Theo"
"""persona.owner_name in the eval's config: the name checks and the letters' signature expect it."""
GIVE_UP_AFTER = 5
"""Stop when this many cases in a row could not be run: the door is broken, not the replies."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="os1 eval dialogue", description="What the companion says, checked.")
    p.add_argument("--model", metavar="ID", help="the LLM model id (config key llm.model)")
    p.add_argument("--door", choices=["ask", "companion"], default="companion",
                   help="how to talk to it: today's `os1 ask`, or the text companion (default)")  # fmt: skip
    p.add_argument("--json", type=Path, metavar="F", help="write every case, turn and the summary to F")
    p.add_argument("--only", metavar="CATEGORY", help="only this category, subcategory or case id prefix")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N cases (after --only)")
    p.add_argument("--show", action="store_true", help="print every exchange")
    return p


def write_config(folder: Path, model: str | None) -> Path:
    """The eval's config: no onboarding, the owner is Theo, memory on, the model if given."""
    data: dict[str, Any] = {
        "persona": {"onboarding": False, "owner_name": OWNER},
        "memory": {"enabled": True, "summaries": True},
    }
    if model:
        data["llm"] = {"model": model}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _now() -> datetime:
    return datetime.now().astimezone()


def run_case(door: Door, case: Case, config: Path, base: dict[str, str], work: Path) -> CaseResult:
    """One case on its own fresh state dir (removed after)."""
    result = CaseResult(case.id, case.category, case.sub)
    state = Path(tempfile.mkdtemp(prefix=f"{case.id}-", dir=work))
    said = list(case.facts) + [s for summary in case.summaries for s in summary.said]
    earlier: list[str] = []
    session = None
    try:
        seed(state, config, case.facts, tuple((s.days_ago, s.said) for s in case.summaries))
        session = door.open(state, config)
        for turn in case.turns:
            if turn.restart:
                session.close()
                session = None  # if opening again fails, there is nothing left to close
                session = door.open(state, config)
                result.turns.append(TurnResult(turn.text))
                continue
            started, t0 = _now(), time.monotonic()
            reply = session.say(turn.text)
            done = TurnResult(turn.text, reply, seconds=round(time.monotonic() - t0, 3))
            done.speech_s = report.turn_speech(reply)
            if turn.check is not None:
                ctx = Context(turn.text, started=started, at=_now(), earlier=tuple(earlier), said=tuple(said),
                              **base)  # fmt: skip
                done.check = turn.check.name
                done.passed, done.reason = turn.check(reply, ctx)
            result.turns.append(done)
            earlier.append(reply)
            said.append(turn.text)
    except DoorError as e:
        result.error = str(e)
    except Exception as e:  # an in-process door may raise anything; the case fails, the run goes on
        result.error = f"{type(e).__name__}: {e}"
    finally:
        if session is not None:
            try:
                session.close()
            except Exception as e:
                result.error = result.error or f"closing the session: {e}"
        shutil.rmtree(state, ignore_errors=True)
    return result


def _progress(i: int, n: int, result: CaseResult, show: bool, out: TextIO) -> None:
    mark = "PASS" if result.passed else "FAIL"
    print(f"[{i:>3}/{n}] {mark} {result.id}: {result.reason}", file=out, flush=True)
    if not show:
        return
    for t in result.turns:
        if t.said == "<restart>":
            print("    -- restart (a new run on the same state dir) --", file=out)
            continue
        verdict = "" if t.passed is None else f"   [{'pass' if t.passed else 'FAIL'}: {t.reason}]"
        print(f"    owner: {t.said}\n    reply: {t.reply}{verdict}", file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cases = select(all_cases(), args.only, args.limit)
    if not cases:
        print(f"os1 eval dialogue: no case matches --only {args.only!r}", file=sys.stderr)
        return 2
    try:
        door = make_door(args.door)
    except DoorUnavailable as e:
        print(f"os1 eval dialogue: {e}; try --door ask", file=sys.stderr)
        return 1
    from device.config.load import ConfigError, parse

    work = Path(tempfile.mkdtemp(prefix="os1-dialogue-"))
    try:
        config = write_config(work, args.model)
        try:
            cfg = parse(config.read_text(encoding="utf-8"), str(config))
        except ConfigError as e:
            print(f"os1 eval dialogue: {e}", file=sys.stderr)
            return 2
        base = {"owner": cfg.persona.owner_name, "companion": cfg.persona.name,
                "helpline": cfg.care.helpline, "length": cfg.persona.length}  # fmt: skip
        started, t0 = _now(), time.monotonic()
        results = _run_all(door, cases, config, base, work, args.show)
        meta = {
            "door": door.name,
            "model": cfg.llm.model,
            "started": started.isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - t0, 1),
            "config": config.read_text(encoding="utf-8"),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    header = (f"OS1 dialogue eval: door {door.name}, model {cfg.llm.model}, {len(results)} cases, "
              f"{meta['seconds']:.0f} s")  # fmt: skip
    print(report.table(results, header))
    if args.json:
        args.json.write_text(json.dumps(report.as_json(results, meta), indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}")
    broken = len(results) < len(cases)
    return 1 if broken or not report.summary(results)["targets_met"] else 0


def _run_all(door: Door, cases: list[Case], config: Path, base: dict[str, str], work: Path, show: bool
             ) -> list[CaseResult]:  # fmt: skip
    results: list[CaseResult] = []
    in_a_row = 0
    for i, case in enumerate(cases, 1):
        result = run_case(door, case, config, base, work)
        results.append(result)
        _progress(i, len(cases), result, show, sys.stderr)
        in_a_row = in_a_row + 1 if result.error else 0
        if in_a_row >= GIVE_UP_AFTER:
            print(f"os1 eval dialogue: {in_a_row} cases in a row failed to run; stopping", file=sys.stderr)
            break
    return results
