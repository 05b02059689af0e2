"""The soak's and the slow board's pieces that need no daemon: the day's plan, the figures and targets
it is held to, the turn line read back from the daemon's own log format, and the CPU quota on a real
cgroup with a process burning CPU in it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from device.app.logs import format_turn_log
from device.evals.reliability.live import parse_turn
from device.evals.reliability.soak_day import Quiet, Say, Unplug, load_plan, plan_day, save_plan
from device.evals.reliability.soak_figures import figures, problems_of
from device.pipeline.events import Turn


def test_a_turn_line_is_read_back_from_the_daemons_own_format() -> None:
    turn = Turn(wake="wake", transcript="what's my locker code", reply='It\'s 4821, "the gym" one.')
    turn.timings_ms.update({"response_gap": 612.4, "end_of_turn": 300, "barge_in_stop": 41})
    turn.stats["tts_real_time_factor"] = 0.52
    turn.interrupted = "voice"
    got = parse_turn("12:00:00 INFO os1.daemon: " + format_turn_log(turn))
    assert got["heard"] == "what's my locker code"
    assert got["reply"] == 'It\'s 4821, "the gym" one.'
    assert (got["gap"], got["eot"], got["barge_stop"]) == (612.0, 300.0, 41.0)
    assert got["tts_rtf"] == 0.52 and got["interrupted"] == "voice"


def test_a_day_is_the_hours_asked_with_an_unplug_every_hour_and_recalls_only_of_what_was_said() -> None:
    plan = plan_day(8, seed=3)
    audio_s = sum(i.seconds + 5 for i in plan if isinstance(i, Quiet))
    assert 8 * 3600 <= audio_s < 8 * 3600 + 600
    unplugs = [i.device for i in plan if isinstance(i, Unplug)]
    assert len(unplugs) == 7 and unplugs[:2] == ["microphone", "earpiece"]
    said = [i for i in plan if isinstance(i, Say)]
    kinds = {"chat", "bad-day", "question", "memory", "recall", "reminder"}
    assert len(said) > 150 and {s.kind for s in said} == kinds
    codes = [s.code for s in said if s.kind == "memory"]
    assert len(codes) == len(set(codes))
    first_memory = next(n for n, s in enumerate(said) if s.kind == "memory")
    assert all(n > first_memory for n, s in enumerate(said) if s.kind == "recall")
    assert all(s.tap for s in said if s.voice.startswith("espeak"))  # the wake word is trained on Piper's


def test_a_short_day_still_unplugs_twice_and_the_plan_survives_a_round_trip(tmp_path: Path) -> None:
    plan = plan_day(0.2, seed=1)
    assert sum(isinstance(i, Unplug) for i in plan) == 2
    save_plan(plan, tmp_path / "plan.json")
    assert load_plan(tmp_path / "plan.json") == plan
    assert plan_day(0.2, seed=1) == plan != plan_day(0.2, seed=2)


def _day(rss_mb: list[float], threads: list[int], gaps: list[int]) -> list[dict]:
    """Events as soak_daemon writes them: a sample a minute over len(rss_mb) minutes, turns between."""
    events: list[dict] = [{"kind": "start", "wall": 0.0, "audio_s": 0.0}]
    for n, (rss, th) in enumerate(zip(rss_mb, threads, strict=True)):
        events.append({"kind": "sample", "audio_s": 60.0 * n, "rss_kb": rss * 1024, "threads": th, "fds": 20})
    for n, gap in enumerate(gaps):
        at = 60.0 * len(rss_mb) * n / len(gaps)
        turn = {"kind": "turn", "say": "chat", "tap": False, "street": False, "audio_s": at, "gap_ms": gap}
        events.append({**turn, "log": "turn ..."})
    end_s = 60.0 * (len(rss_mb) - 1)
    events.append({"kind": "end", "wall": 600.0, "audio_s": end_s, "devices": {"mic": {"reconnects": 2}}})
    events += [{"kind": "unplug", "audio_s": 0.0}] * 2
    return events


def test_the_targets_pass_a_flat_day_and_catch_growth_and_drift() -> None:
    flat = figures(_day([1400.0] * 60, [18] * 60, [480] * 40), hours=59 / 60)
    assert problems_of(flat) == []
    assert flat["memory"]["rss_growth_pct"] == 0.0 and flat["gap_ms"]["drift_pct"] == 0.0

    rising = [1400.0 + 10 * n for n in range(60)]
    growing = figures(_day(rising, [18] * 50 + [19] * 10, [480] * 20 + [560] * 20), hours=59 / 60)
    found = " | ".join(problems_of(growing))
    assert "RSS grew" in found and "threads grew from 18 to 19" in found and "gap drifted +16.7 %" in found


@pytest.mark.system
@pytest.mark.skipif(os.geteuid() != 0, reason="a cgroup of its own needs root")
def test_the_cpu_quota_holds_a_busy_process_to_a_fraction_of_a_cpu() -> None:
    from device.evals.reliability.cpu_quota import CpuQuota, QuotaUnavailable

    try:
        group = CpuQuota(f"os1-test-quota-{os.getpid()}")
    except QuotaUnavailable as e:
        pytest.skip(str(e))
    burn = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        group.set(0.2)
        group.add(burn.pid)
        cpu0, t0 = _cpu_s(burn.pid), time.monotonic()
        time.sleep(2.0)
        used = (_cpu_s(burn.pid) - cpu0) / (time.monotonic() - t0)
        assert used < 0.3, used  # (not a lower bound: a busy machine may give it less)
        assert group.throttled_s() > 1.0
        group.set(None)
        time.sleep(0.2)
        throttled = group.throttled_s()
        time.sleep(1.0)
        assert group.throttled_s() == throttled  # lifted: never held back again
    finally:
        burn.kill()
        burn.wait()
        group.remove()
    assert not group.path.exists()


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
