"""The benchmark's figures: one record each (value, floor, ratio, target, pass), built from the measurements."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from bench.targets import TARGETS

# Every figure the JSON holds, in table order.
FIGURE_KEYS: tuple[str, ...] = (
    "enrollment_throughput",
    "enrollment_recorded_throughput",
    "enrollment_floor_throughput",
    "update_throughput",
    "update_latency_p50_ms",
    "update_latency_p99_ms",
    "query_latency_p50_ms",
    "query_latency_p99_ms",
    "activity_floor_update_throughput",
    "update_server_cpu_ms",
    "update_worker_cpu_ms",
    "update_history_events",
    "errors",
    "memory_per_cached_workflow_kib",
    "activity_floor_memory_kib",
    "carrying_floor_memory_kib",
    "history_events_5_years",
    "history_bytes_5_years",
    "history_events_15_years",
    "history_bytes_15_years",
    "largest_run_events",
    "largest_run_bytes",
    "replay_5_years_ms",
    "replay_largest_run_ms",
    "record_append_sqlite",
    "record_append_postgresql",
    "activity_append_sqlite",
    "activity_append_postgresql",
    "cohort_simulation_seconds",
    "cohort_calls_seconds",
    "cli_version_ms",
    "cli_dose_ms",
    "cli_status_ms",
    "cli_stack_floor_ms",
    "cli_api_floor_ms",
)


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    value: float | None
    floor: float | None = None
    patients: int = 0  # the load the figure was measured at (targets may apply only from some load up)
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Value over floor: above 1 the journey does more (throughput) or costs more (latency, memory)."""
        if self.value is None or not self.floor:
            return None
        return self.value / self.floor

    @property
    def target(self) -> str | None:
        target = TARGETS.get(self.key)
        return None if target is None else target.describe(self.unit)

    @property
    def passed(self) -> bool | None:
        target = TARGETS.get(self.key)
        return None if target is None else target.met(self.value, self.ratio, self.patients)

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "ratio": self.ratio, "target": self.target, "passed": self.passed}


def missing(key: str, label: str, unit: str, why: str) -> Figure:
    """A figure that could not be measured in this run: present, empty, and saying why."""
    return Figure(key, label, unit, None, note=f"not measured: {why}")
