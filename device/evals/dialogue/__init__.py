"""The dialogue eval: what the companion says, machine-checked, per category, against targets.

    python -m device.evals.dialogue [--door ask|companion] [--model ID] [--json F] [--only CATEGORY]

See run.py for the options, cases.py for the cases, checks*.py for the checks, doors.py for how a
case reaches the companion, and report.py for the table and its targets.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """`os1 eval dialogue ARGS` calls this."""
    from device.evals.dialogue.run import main as run_main

    return run_main(argv)
