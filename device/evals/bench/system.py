"""What the bench measures about the process and the machine: peak and current RSS, the machine's busy
CPU (to spot other load), and the pipeline's CPU while idle."""

from __future__ import annotations

import os
import re
import resource
import threading
import time
from pathlib import Path

from device.app.engines import Engines
from device.config.schema import Config
from device.drivers.audio_files import FileEarpiece, FileMicrophone
from device.evals.speech import noise
from device.pipeline.events import State

IDLE_NOISE_DBFS = -50.0  # a quiet room, for the idle CPU measurement


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def rss_mb() -> float | None:
    """This process's resident memory now (Linux)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else None


def busy_cpu_s() -> float | None:
    """CPU time every process on the machine has used (Linux /proc/stat), to spot other load."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """How busy the rest of the machine was while a block ran: other processes' CPU, in % of one core.

    The box has two cores, so anyone else's test run changes the timings; this says when it did."""

    def __enter__(self) -> OtherLoad:
        self.busy0, self.cpu0, self.t0 = busy_cpu_s(), time.process_time(), time.monotonic()
        self.percent: float | None = None
        return self

    def __exit__(self, *_exc: object) -> None:
        busy = busy_cpu_s()
        wall = time.monotonic() - self.t0
        if busy is not None and self.busy0 is not None and wall > 0:
            others = (busy - self.busy0) - (time.process_time() - self.cpu0)
            self.percent = round(max(0.0, others) / wall * 100, 1)


def idle_cpu(cfg: Config, engines: Engines, seconds: float, out_dir: Path) -> dict[str, float | int]:
    """CPU seconds the process spends per second of audio while idle (VAD + wake word on each frame)."""
    # Imported here: the harness imports this module (OtherLoad, peak_rss_mb) at its top.
    from device.evals.bench.harness import TURN_TIMEOUT_S, feed_frames, make_loop

    states: list[State] = []
    ear = FileEarpiece(out_dir / "idle.wav", realtime=True)
    loop = make_loop(cfg, engines, ear, lambda _turn: None)
    loop.on_state = states.append
    if engines.wake is not None:
        engines.wake.reset()
    mic = FileMicrophone(noise(seconds, IDLE_NOISE_DBFS, seed=7), realtime=True, tail_s=0.0)
    cpu0, t0 = time.process_time(), time.monotonic()
    feed_frames(loop, mic, threading.Event(), wait_for_reply=False)
    cpu_s, wall_s = time.process_time() - cpu0, time.monotonic() - t0
    loop.wait_reply(timeout_s=TURN_TIMEOUT_S)
    ear.close()
    return {
        "audio_s": round(seconds, 2),
        "wall_s": round(wall_s, 2),
        "cpu_s": round(cpu_s, 3),
        "cpu_s_per_audio_s": round(cpu_s / seconds, 4),
        "false_wakes": states.count(State.LISTENING),
    }
