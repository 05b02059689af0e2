"""A CPU quota for the processes put in it: a cgroup of the cpu controller (v2's `cpu.max`, or v1's
`cpu.cfs_quota_us`), as `systemd-run -p CPUQuota=` makes one. Needs root, or a delegated cgroup.

The period is short (10 ms, longer only for quotas under a tenth of a CPU): the scheduler's default
100 ms would let a process run flat out for a few ms and then freeze for the rest of each period, which
is a stutter, not a slower board."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
MIN_QUOTA_US = 1000  # the kernel's floor


class QuotaUnavailable(RuntimeError):
    pass


class CpuQuota:
    def __init__(self, name: str = f"os1-slow-board-{os.getpid()}"):
        v2 = (ROOT / "cgroup.controllers").exists()
        parent = ROOT if v2 else ROOT / "cpu"
        if v2 and "cpu" not in (ROOT / "cgroup.subtree_control").read_text().split():
            _write(ROOT / "cgroup.subtree_control", "+cpu")
        self.v2, self.parent, self.path = v2, parent, parent / name
        try:
            self.path.mkdir(exist_ok=True)
        except OSError as e:
            raise QuotaUnavailable(
                f"cannot make a cgroup under {parent} ({e.strerror}); the slow board needs root "
                "(or systemd-run --user -p CPUQuota=... on a delegated cgroup)"
            ) from e
        self.cpus: float | None = None

    def set(self, cpus: float | None) -> None:
        """Hold the group to `cpus` CPUs (0.25 = a quarter of one core); None lifts the quota."""
        self.cpus = cpus
        period = 10_000 if cpus is None else max(10_000, int(MIN_QUOTA_US / cpus) + 1)
        quota = -1 if cpus is None else max(MIN_QUOTA_US, int(cpus * period))
        if self.v2:
            _write(self.path / "cpu.max", f"{'max' if quota < 0 else quota} {period}")
            return
        # v1 checks the quota against the period as it is now: lift it before the period changes.
        _write(self.path / "cpu.cfs_quota_us", "-1")
        _write(self.path / "cpu.cfs_period_us", str(period))
        _write(self.path / "cpu.cfs_quota_us", str(quota))

    def add(self, pid: int) -> None:
        _write(self.path / "cgroup.procs", str(pid))

    def throttled_s(self) -> float:
        """The time the group's processes were held back by the quota, so far."""
        text = (self.path / "cpu.stat").read_text().split()
        stat = dict(zip(text[::2], text[1::2], strict=False))
        if self.v2:
            return int(stat.get("throttled_usec", 0)) / 1e6
        return int(stat.get("throttled_time", 0)) / 1e9

    def remove(self) -> None:
        """Its processes (all stopped by now, normally) back to the parent, and the group gone."""
        for pid in (self.path / "cgroup.procs").read_text().split():
            try:
                _write(self.parent / "cgroup.procs", pid)
            except OSError:
                pass  # exited meanwhile
        self.path.rmdir()


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
