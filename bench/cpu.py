"""The CPU each process of a measurement spent during a phase: the dev server's, the workers' and the driver's, user
and kernel time apart. On a saturated machine a step's rate is the cores over its CPU, so these say whose work a
step is: Temporal's server (the floors' figure shows what it charges for a bare step) or the journeys' workers."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psutil

SERVER, WORKERS, DRIVER = "server", "workers", "driver"


@dataclass(frozen=True)
class CpuSeconds:
    user: float = 0.0
    system: float = 0.0

    @property
    def total(self) -> float:
        return self.user + self.system

    def __add__(self, other: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(self.user + other.user, self.system + other.system)

    def __sub__(self, other: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(self.user - other.user, self.system - other.system)


class CpuMeter:
    """Reads the CPU times of a fixed set of processes by role; `spent` is what each role used between two reads.
    A process gone by the second read is counted as it was last read (its later time is lost, never negative)."""

    def __init__(self, pids_by_role: Mapping[str, Sequence[int]]) -> None:
        self._processes = {role: [psutil.Process(pid) for pid in pids] for role, pids in pids_by_role.items()}
        self._last: dict[int, CpuSeconds] = {}

    @classmethod
    def of(cls, server_pid: int | None, worker_pids: Sequence[int]) -> CpuMeter:
        """The dev server, the workers, and this process (the driver: clients, enrollment's checks)."""
        roles = {SERVER: [] if server_pid is None else [server_pid], WORKERS: list(worker_pids), DRIVER: [os.getpid()]}
        return cls(roles)

    def read(self) -> dict[str, CpuSeconds]:
        roles = self._processes.items()
        return {role: sum((self._times(p) for p in processes), CpuSeconds()) for role, processes in roles}

    def _times(self, process: psutil.Process) -> CpuSeconds:
        try:
            times = process.cpu_times()
            self._last[process.pid] = CpuSeconds(times.user, times.system)
        except psutil.NoSuchProcess:
            pass
        return self._last.get(process.pid, CpuSeconds())


def spent(before: Mapping[str, CpuSeconds], after: Mapping[str, CpuSeconds]) -> dict[str, CpuSeconds]:
    return {role: after[role] - before.get(role, CpuSeconds()) for role in after}
