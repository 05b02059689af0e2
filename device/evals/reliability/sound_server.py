"""The fault `sound-server`: the JACK server under the live daemon's PortAudio stops with the daemon's
microphone and earpiece on it, and starts again a few seconds later under the same name.

Before the fix, PortAudio's own JACK client made the daemon abort as its microphone was closed
(pa_jack.c asserts on jack_deactivate, SIGABRT, exit 134) and systemd restarted it. Now the daemon
stays up through the outage: typed turns over SSH are answered and writes kept, the devices are let go
and retried, and once the server is back they reopen and the owner hears "I'm back."
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from device.app import control
from device.evals.reliability.live import JackServer, LiveDaemon

OUTAGE_S = 5.0  # longer than the stall and the first retries: the daemon has let both devices go
EXPECTED = (
    "the daemon up through the outage, answering typed turns and keeping writes; both devices let go, "
    'reopened once the server is back, and "I\'m back." said; a clean exit 0 at the stop'
)


def _devices(d: LiveDaemon) -> dict[str, dict[str, Any]]:
    try:
        reply = control.request(d.runtime / control.SOCKET_NAME, {"cmd": "status"}, timeout_s=10)
    except (OSError, control.ControlError, control.DaemonNotRunning):
        return {}
    return dict(reply.get("devices") or {})


def _wait(what: Callable[[], bool], timeout_s: float) -> float | None:
    """Seconds until `what` held, or None if it never did within `timeout_s`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if what():
            return time.monotonic() - t0
        time.sleep(0.2)
    return None


def server_dies(
    d: LiveDaemon, jack: JackServer, writes: Callable[[str], dict[str, str]], ask: Callable[[str], str]
) -> tuple[list[str], bool]:
    """The fault on a started daemon: (what was observed, one line per step; whether all was as
    expected). `writes(tag)` makes one write of each kind; `ask(text)` is a typed turn's reply."""
    observed: list[str] = []
    writes("before")
    up = _devices(d)
    opened = ", ".join(f"{k} open on {v.get('open')}" for k, v in up.items())
    observed.append(f"before: {opened or 'no devices in the status'}")
    jack.die()
    time.sleep(OUTAGE_S)
    alive_down = d.alive()
    during = ask("What time is it?")
    try:
        kept = writes("outage")
    except (OSError, control.ControlError, control.DaemonNotRunning) as e:  # it died with the server
        kept = {"memory": f"({type(e).__name__})"}
    down = _devices(d)
    let_go = sorted(k for k, v in down.items() if not v.get("connected"))
    observed.append(
        f"jackd stopped: alive after {OUTAGE_S:.0f} s: {alive_down}; let go: {', '.join(let_go) or 'none'}; "
        f"a typed turn: {during[:40]!r}; a memory then: {kept.get('memory', '-')[:40]!r}"
    )
    jack.start_again()

    def both_back() -> bool:
        now = _devices(d)
        return bool(now) and all(v.get("connected") and v.get("reconnects", 0) >= 1 for v in now.values())

    back_s = _wait(both_back, 60)
    said_back = _wait(lambda: "I'm back." in d.log.read_text(errors="replace"), 20) is not None
    after = ask("What time is it?")
    if d.alive():
        writes("after")
    observed.append(
        f"jackd started again: both devices back in {back_s if back_s is None else round(back_s, 1)} s; "
        f'"I\'m back." said: {said_back}; the next turn: {after[:30]!r}'
    )
    code = d.stop()
    log = d.log.read_text(errors="replace")
    aborted = " (SIGABRT: PortAudio's assert)" if code == -6 else ""
    observed.append(f"stopped: exit {code}{aborted}; traceback: {'Traceback' in log}")
    ok = (
        alive_down
        and during.startswith("It's")
        and set(let_go) == set(up)
        and back_s is not None
        and said_back
        and after.startswith("It's")
        and code == 0
        and "Traceback" not in log
    )
    return observed, ok
