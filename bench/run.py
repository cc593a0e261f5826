"""One benchmark run: every section in turn, each turned into figures; a section that fails is reported, and the
others still run."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from bench.cli_latency import CLI_COMMANDS, CliFloors, CliTiming, measure_cli
from bench.cli_server import served_trial
from bench.cohort import simulate_cohort
from bench.cohort_floor import TimedCalls, drive_cohort_floor
from bench.cpu import DRIVER, SERVER, WORKERS
from bench.figures import FIGURE_KEYS, Figure, missing
from bench.floor_workflow import FloorWorkflow
from bench.histories import first_years, floor_history, full_journey, largest_run, time_replay, workflow_tasks
from bench.load import Phase
from bench.machine import describe_machine, load_average
from bench.record_append import AppendResult, activity_append, path_batches, store_append
from bench.server_load import ServerLoadResults, measure_on_dev_server
from bench.step_events import StepEvents
from bench.throughput import LoadResult
from bench.worker_process import ACTIVITY_THREADS
from records import EventStore

SCHEMA = "trialflow-bench/1"
SECTIONS = ("cli", "dev-server", "histories", "replay", "appends", "cohort")
WORKER_LOG_PROBLEM_LEVELS = ("warning", "error", "critical", "exception")
DEV_SERVER_FIGURES = FIGURE_KEYS[: FIGURE_KEYS.index("carrying_floor_memory_kib") + 1]
HISTORY_FIGURES = tuple(k for k in FIGURE_KEYS if k.startswith(("history_", "largest_run_")))


@dataclass(frozen=True)
class BenchSettings:
    patients: int = 1000
    concurrency: int = 32
    workers: int = 1  # worker processes for each kind on the dev server (the floor's as many as the journeys')
    floors: bool = True  # False: the journeys alone on the dev server (a scale run, compared with another N's)
    # False: the floor whose update waits for a no-op activity alone (its scale run: how the server's own cost per
    # step grows with N, beside the journeys' scale runs)
    journeys: bool = True
    warm_up: int = 10
    cohort: int = 100
    append_patients: int = 200
    activity_append_patients: int = 20
    replay_repetitions: int = 7
    out: Path = Path("bench/results/latest.json")
    quick: bool = False
    only: tuple[str, ...] = ()  # sections to run (SECTIONS); empty: every one


@dataclass
class Run:
    settings: BenchSettings
    figures: dict[str, Figure] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    section_seconds: dict[str, float] = field(default_factory=dict)

    def add(self, *figures: Figure) -> None:
        for figure in figures:
            self.figures[figure.key] = figure

    async def section(
        self, name: str, group: str, measure: Callable[[], Awaitable[None]], keys: tuple[str, ...]
    ) -> None:
        """Run one section (unless `--only` leaves its group out); if it fails, its figures say so, the run goes on."""
        if self.settings.only and group not in self.settings.only:
            for key in keys:
                self.add(missing(key, key.replace("_", " "), "", f"skipped (--only {','.join(self.settings.only)})"))
            return
        began = time.perf_counter()
        try:
            await measure()
        except Exception as error:
            self.problems.append(f"{name}: {type(error).__name__}: {error}")
            self.details.setdefault("tracebacks", {})[name] = traceback.format_exc()
            for key in keys:
                if key not in self.figures:
                    self.add(missing(key, key.replace("_", " "), "", f"the {name} section failed ({error})"))
        finally:
            self.section_seconds[name] = round(time.perf_counter() - began, 1)


# ---------------------------------------------------------------- the dev server: floor and journeys


def _worker_problems(result: LoadResult) -> int:
    return sum(n for level, n in result.worker_log.items() if level in WORKER_LOG_PROBLEM_LEVELS)


def _beside_shaped_floor(journey: LoadResult, shaped: Phase | None) -> str:
    """The enrollments against this floor: the journey's own share of the gap to the bare starts."""
    if shaped is None or not shaped.per_second or journey.starts.per_second is None:
        return ""
    return f"; enrollment at {journey.starts.per_second / shaped.per_second:.2f}x this floor"


def load_figures(loads: ServerLoadResults, patients: int) -> list[Figure]:
    floor, journey, activity_floor = loads.floor, loads.journey, loads.activity_floor
    shape = (
        f"{patients} patients, {loads.updates_per_workflow} updates each (the path to infusion), "
        f"at most {loads.concurrency} patients in flight, {loads.workers} worker process(es) a kind"
    )
    figures = [
        Figure(
            "enrollment_throughput",
            "Enrollment (workflow starts)",
            "/s",
            journey.starts.per_second,
            floor.starts.per_second,
            patients,
            "TrialClient.enroll: eligibility decided, the record checked, the workflow started; floor: start_workflow",
        ),
        Figure(
            "enrollment_recorded_throughput",
            "Enrollment recorded in the trial record",
            "/s",
            journey.settled_per_second,
            floor.starts.per_second,
            patients,
            "from the first start until every enrollment is in the record (the journey's first activity); "
            "floor column: the floor's starts",
        ),
        Figure(
            "enrollment_floor_throughput",
            "Floor shaped as an enrollment",
            "/s",
            None if loads.enrollment_floor is None else loads.enrollment_floor.per_second,
            floor.starts.per_second,
            patients,
            "a no-op update on one workflow (at most 8 in flight, as admissions), a start, its first no-op activity "
            "awaited in the history: what Temporal charges for an enrollment's promises (reference, no target)"
            + _beside_shaped_floor(journey, loads.enrollment_floor),
        ),
        Figure(
            "update_throughput",
            "Recorded steps (updates)",
            "/s",
            journey.updates.per_second,
            floor.updates.per_second,
            patients,
            f"TrialClient.record, {shape}; the floor gets as many updates per workflow",
        ),
        Figure(
            "update_latency_p50_ms",
            "Recorded step latency p50",
            "ms",
            journey.updates.p(0.5),
            floor.updates.p(0.5),
            patients,
        ),
        Figure(
            "update_latency_p99_ms",
            "Recorded step latency p99",
            "ms",
            journey.updates.p(0.99),
            floor.updates.p(0.99),
            patients,
        ),
        Figure(
            "query_latency_p50_ms",
            "Query latency p50",
            "ms",
            journey.queries.p(0.5),
            floor.queries.p(0.5),
            patients,
            "one status query per patient (TrialClient.status) after its path, same concurrency; "
            "floor: its state query",
        ),
        Figure(
            "query_latency_p99_ms", "Query latency p99", "ms", journey.queries.p(0.99), floor.queries.p(0.99), patients
        ),
    ]
    if activity_floor is not None:
        figures.append(
            Figure(
                "activity_floor_update_throughput",
                "Floor with one no-op activity per update",
                "/s",
                activity_floor.updates.per_second,
                floor.updates.per_second,
                patients,
                "what Temporal itself charges for an update that waits for an activity (reference, no target)",
            )
        )
    figures.extend(cpu_figures(journey, activity_floor, patients))
    figures.append(step_event_figure(journey, activity_floor, patients))
    journey_worker, floor_worker = _worker_problems(journey), _worker_problems(floor)
    figures.append(
        Figure(
            "errors",
            "Errors at N concurrent patients",
            "",
            journey.errors + journey.warm_up_failed + journey_worker,
            floor.errors + floor.warm_up_failed + floor_worker,
            patients,
            f"journey: {journey.starts.failed} starts, {journey.updates.failed} updates, {journey.queries.failed} "
            f"queries failed, {'all' if journey.settled else 'NOT all'} enrollments recorded, "
            f"{journey.warm_up_failed} warm-up patients failed, {journey_worker} worker log lines at warning or above",
        )
    )
    before, after = journey.memory_before, journey.memory_after
    figures.append(
        Figure(
            "memory_per_cached_workflow_kib",
            "Worker RSS per cached workflow",
            "KiB",
            journey.kib_per_cached_workflow,
            floor.kib_per_cached_workflow,
            patients,
            "VmRSS of the worker processes (their own, /proc/<pid>/status, summed) after the load minus after the "
            f"warm-up, over the workflows added to their caches (journey: {before and before.cached_workflows} -> "
            f"{after and after.cached_workflows} cached, {before and before.rss_kib} -> {after and after.rss_kib} "
            f"KiB); by allocator, KiB a cached workflow: journey {heap_split(journey)}; floor {heap_split(floor)}",
        )
    )
    if activity_floor is not None:
        figures.append(
            Figure(
                "activity_floor_memory_kib",
                "Worker RSS per cached workflow, floor with one no-op activity per update",
                "KiB",
                activity_floor.kib_per_cached_workflow,
                floor.kib_per_cached_workflow,
                patients,
                "what the SDK keeps of a cached run whose every update waited for an activity (outside Python: the "
                "SDK core's state of each command of the run). A journey's cached run is not such a run: the run "
                "before it continued as new at infusion, so it began there from its carried state. By allocator, "
                f"KiB a cached workflow: {heap_split(activity_floor)}. Reference, no target",
            )
        )
    carrying = loads.carrying_floor
    if carrying is not None:
        figures.append(
            Figure(
                "carrying_floor_memory_kib",
                "Worker RSS per cached workflow, floor holding a journey's carried state",
                "KiB",
                carrying.kib_per_cached_workflow,
                floor.kib_per_cached_workflow,
                patients,
                "the bare floor, each workflow started from the state a journey on this path carries into its run "
                "after infusion (its JSON, through the same data converter) and holding it: what the SDK keeps of a "
                f"run's input for the run's life. By allocator, KiB a cached workflow: {heap_split(carrying)}. "
                "Reference, no target",
            )
        )
    return figures


def heap_split(result: LoadResult) -> str:
    """What each allocator gained a cached workflow (bench/worker_heap.py), for the memory figures' notes."""
    gained = result.heap_kib_per_cached_workflow
    if not gained:
        return "not read"

    def kib(part: str) -> str:
        value = gained.get(part)
        return "unknown" if value is None else f"{value:.0f}"

    return (
        f"Python objects {kib('python_objects')}, C heap in use {kib('malloc_in_use')} (SQLite {kib('sqlite')}), "
        f"C heap held free {kib('malloc_free')}"
    )


def _cpu_split(phase: Phase, role: str) -> str:
    if phase.cpu is None or role not in phase.cpu or not phase.succeeded:
        return "not metered"
    seconds = phase.cpu[role]
    return (
        f"{seconds.user * 1000 / phase.succeeded:.1f} ms user + {seconds.system * 1000 / phase.succeeded:.1f} ms kernel"
    )


def cpu_figures(journey: LoadResult, activity_floor: LoadResult | None, patients: int) -> list[Figure]:
    """Whose work a recorded step is: the CPU the dev server and the workers spent per step, beside the floor whose
    update waits for a no-op activity (what Temporal charges for a step that is an activity's round trip)."""
    floor = None if activity_floor is None else activity_floor.updates
    figures = []
    for key, label, role in (
        ("update_server_cpu_ms", "Dev server CPU per recorded step", SERVER),
        ("update_worker_cpu_ms", "Workers' CPU per recorded step", WORKERS),
    ):
        note = f"journeys: {_cpu_split(journey.updates, role)}"
        if floor is not None:
            note += f"; floor (an update waiting for a no-op activity): {_cpu_split(floor, role)}"
        if role == WORKERS:
            note += f"; the driver (the clients) spent {_cpu_split(journey.updates, DRIVER)} per step"
        figures.append(
            Figure(
                key,
                label,
                "ms",
                journey.updates.cpu_ms_per_operation(role),
                None if floor is None else floor.cpu_ms_per_operation(role),
                patients,
                note,
            )
        )
    return figures


def _commonest(events: StepEvents | None, kinds: int = 6) -> str:
    if events is None or not events.updates:
        return "not counted"
    ranked = sorted(events.by_type.items(), key=lambda item: -item[1])[:kinds]
    return ", ".join(f"{kind} {count / events.updates:.2f}" for kind, count in ranked)


def step_event_figure(journey: LoadResult, activity_floor: LoadResult | None, patients: int) -> Figure:
    """The history a step leaves (bench/step_events.py), beside the floor whose update waits for an activity."""
    floor = None if activity_floor is None else activity_floor.step_events
    events = journey.step_events
    note = f"over every run of {events.workflows if events else 0} workflows, their start included; journeys: "
    note += _commonest(events)
    if activity_floor is not None:
        note += f"; floor (an update waiting for a no-op activity): {_commonest(floor)}"
    return Figure(
        "update_history_events",
        "History events per recorded step",
        "",
        None if events is None else events.per_update,
        None if floor is None else floor.per_update,
        patients,
        note,
    )


# ---------------------------------------------------------------- recorded histories and replay


def history_figures() -> tuple[list[Figure], dict[str, Any]]:
    journey = full_journey()
    five = first_years(journey)
    largest = largest_run()
    source = "the committed tests/histories (made on the time-skipping server by tests/histories/generate.py)"
    figures = [
        Figure(
            "history_events_5_years",
            "History events, 5-year journey",
            "events",
            five.events,
            note=f"{', '.join(five.names)}: {five.years:.1f} years from enrollment; from {source}",
        ),
        Figure(
            "history_bytes_5_years",
            "History size, 5-year journey",
            "bytes",
            five.protobuf_bytes,
            note=f"serialized events, as Temporal counts them ({five.json_bytes:,} bytes as JSON files)",
        ),
        Figure(
            "history_events_15_years",
            "History events, 15-year journey",
            "events",
            journey.events,
            note=f"{len(journey.runs)} runs, {journey.years:.1f} years",
        ),
        Figure(
            "history_bytes_15_years",
            "History size, 15-year journey",
            "bytes",
            journey.protobuf_bytes,
            note=f"{journey.json_bytes:,} bytes as JSON files",
        ),
        Figure("largest_run_events", "Largest single run", "events", largest.events, note=largest.path.name),
        Figure(
            "largest_run_bytes",
            "Largest single run, size",
            "bytes",
            largest.protobuf_bytes,
            note=f"{largest.json_bytes:,} bytes as JSON",
        ),
    ]
    return figures, {"five_years": five.names, "fifteen_years": journey.names, "largest_run": largest.path.name}


async def replay_figures(repetitions: int) -> tuple[list[Figure], dict[str, Any], list[str]]:
    five = first_years(full_journey())
    largest = largest_run()
    whole = await time_replay([r.history for r in five.runs], repetitions)
    single = await time_replay([largest.history], repetitions)
    # The floor: as many workflow tasks of the trivial workflow, so the ratio says what the journey's own code costs.
    tasks = workflow_tasks(five.runs)
    floor = await time_replay([await floor_history(tasks)], repetitions, workflow=FloorWorkflow)
    figures = [
        Figure(
            "replay_5_years_ms",
            "Replay of a full 5-year history",
            "ms",
            whole.median_ms,
            floor.median_ms,
            note=f"Replayer over {', '.join(five.names)} ({tasks} workflow tasks), median of {repetitions} after a "
            f"warm-up: {whole.samples_ms}; floor: the floor workflow's history of about as many tasks (an update "
            f"waiting for a no-op activity is two): {floor.samples_ms}",
        ),
        Figure(
            "replay_largest_run_ms",
            "Replay of the largest single run",
            "ms",
            single.median_ms,
            note=f"{largest.path.name}: what a worker replays to pick one patient up after a crash",
        ),
    ]
    problems = [f"replay failure: {f}" for f in (*whole.failures, *single.failures, *floor.failures)]
    details = {"five_years": asdict(whole), "largest_run": asdict(single), "floor": asdict(floor), "tasks": tasks}
    return figures, details, problems


# ---------------------------------------------------------------- the command line


CLI_FLOOR_FIGURES = ("cli_stack_floor_ms", "cli_api_floor_ms")


def cli_figures(floors: CliFloors, commands: dict[str, CliTiming]) -> list[Figure]:
    """Each command's median wall time beside the bare interpreter's (its floor) and, in its note, beside the stack's
    (a typer command printing one pydantic model; for `trial status`, after asking the API with httpx); then those
    two floors themselves. A failed run is said in the note."""
    figures = []
    for key, timing in commands.items():
        shown = " ".join(("trial", *CLI_COMMANDS[key]))
        codes = sorted(set(timing.exit_codes))
        note = (
            f"`{shown}` as a new process, median of {len(timing.samples_ms)} after a warm-up: {timing.samples_ms}; "
            f"floor: `python -c pass`: {floors.interpreter.samples_ms}; exit codes {codes}"
        )
        stack, which = (floors.api, "asking the API") if key == "cli_status_ms" else (floors.stack, "")
        if timing.median_ms is not None and stack.median_ms:
            note += f"; {timing.median_ms / stack.median_ms:.2f}x the stack's floor{' ' + which if which else ''}"
        if key == "cli_status_ms":
            note += "; against a served trial as under `make run` (dev server, worker, record, API), one patient"
        figures.append(Figure(key, f"CLI: {shown}", "ms", timing.median_ms, floors.interpreter.median_ms, note=note))
    for key, floor, label in (
        ("cli_stack_floor_ms", floors.stack, "CLI floor: a typer command printing one pydantic model"),
        ("cli_api_floor_ms", floors.api, "CLI floor: the same after one httpx GET of the API's /healthz"),
    ):
        note = (
            f"bench/cli_stack_floor.py, nothing of trialflow imported; median of {len(floor.samples_ms)}: "
            f"{floor.samples_ms}; exit codes {sorted(set(floor.exit_codes))}; no `trial` command can answer sooner"
        )
        figures.append(Figure(key, label, "ms", floor.median_ms, floors.interpreter.median_ms, note=note))
    return figures


# ---------------------------------------------------------------- trial-record appends


def _append_details(result: AppendResult) -> dict[str, Any]:
    return {
        **result.phase.summary(),
        "events": result.events,
        "events_per_second": result.events_per_second,
        "patients_in_record": result.patients_in_record,
    }


def append_figures(
    backend: str, plain: AppendResult, activity: AppendResult, settings: BenchSettings, where: str
) -> list[Figure]:
    backend_name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(backend, backend)
    patients = max(1, plain.patients_in_record)
    per_patient = f"{plain.events // patients} events in {plain.phase.succeeded // patients} appends per patient"
    return [
        Figure(
            f"record_append_{backend}",
            f"Trial-record appends, {backend_name}",
            "events/s",
            plain.events_per_second,
            patients=plain.patients_in_record,
            note=f"{where}: EventStore.append, {plain.patients_in_record} patients ({per_patient}), "
            f"{ACTIVITY_THREADS} threads; "
            f"per append p50 {_ms(plain.phase.p(0.5))}, p99 {_ms(plain.phase.p(0.99))}; "
            f"{plain.phase.failed} failed",
        ),
        Figure(
            f"activity_append_{backend}",
            f"Append activity (+ projections), {backend_name}",
            "events/s",
            activity.events_per_second,
            patients=settings.patients,
            note=f"{where}: JourneyActivities.append_events for {settings.activity_append_patients} new patients with "
            f"{settings.patients} already in the record; per append p50 {_ms(activity.phase.p(0.5))}, "
            f"p99 {_ms(activity.phase.p(0.99))}; {activity.phase.failed} failed",
        ),
    ]


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} ms"


async def measure_appends(
    database_for: Callable[[str], str | URL], settings: BenchSettings
) -> tuple[AppendResult, AppendResult]:
    """Plain appends into one fresh record, then the activity's appends into another, filled with N patients."""
    template = path_batches("TPL-00001")
    results = []
    for purpose in ("plain", "activity"):
        store = EventStore(database_for(purpose))
        try:
            await asyncio.to_thread(store.migrate)
            if purpose == "plain":
                results.append(await asyncio.to_thread(store_append, store, template, settings.append_patients))
            else:
                results.append(
                    await asyncio.to_thread(
                        activity_append, store, template, settings.patients, settings.activity_append_patients
                    )
                )
        finally:
            store.close()
    return results[0], results[1]


# ---------------------------------------------------------------- the run


async def run_benchmark(settings: BenchSettings, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Every section, in an order that keeps them apart (nothing of the benchmark runs beside another section)."""
    run = Run(settings)
    started_at = datetime.now(UTC)
    began = time.perf_counter()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="trialflow-bench-") as scratch:
        work_dir = Path(scratch)

        async def cli() -> None:
            progress("the command line: trial version, dose, and status against a served trial ...")
            served_dir = work_dir / "cli-served"
            served_dir.mkdir()
            async with served_trial(served_dir) as served:
                # In a thread: this loop serves the API and runs the worker while the commands ask.
                floors, commands = await asyncio.to_thread(measure_cli, served)
            run.add(*cli_figures(floors, commands))
            run.details["cli"] = {
                "floor": asdict(floors.interpreter),
                "stack_floor": asdict(floors.stack),
                "api_floor": asdict(floors.api),
                **{key: asdict(t) for key, t in commands.items()},
            }

        async def server_load() -> None:
            on = f"{settings.workers} workers" if settings.workers > 1 else "one worker"
            floors = "floor, floor with an activity, floor carrying a journey's state, then " if settings.floors else ""
            what = f"{floors}{settings.patients} patients' journeys"
            if not settings.journeys:
                what = f"the floor with an activity alone, {settings.patients} workflows"
            progress(f"dev server: {what}, on {on} ...")
            loads = await measure_on_dev_server(
                settings.patients,
                settings.concurrency,
                settings.warm_up,
                work_dir,
                activity_floor=True,
                workers=settings.workers,
                floors=settings.floors,
                journeys=settings.journeys,
            )
            run.add(*load_figures(loads, settings.patients))
            run.details["dev_server"] = {
                "workers": settings.workers,
                "updates_per_workflow": loads.updates_per_workflow,
                "concurrency": loads.concurrency,
                "floor": loads.floor.summary(),
                "activity_floor": None if loads.activity_floor is None else loads.activity_floor.summary(),
                "carrying_floor": None if loads.carrying_floor is None else loads.carrying_floor.summary(),
                "enrollment_floor": None if loads.enrollment_floor is None else loads.enrollment_floor.summary(),
                "journey": loads.journey.summary(),
            }

        async def histories() -> None:
            progress("recorded histories: size ...")
            figures, details = history_figures()
            run.add(*figures)
            run.details["histories"] = details

        async def replay() -> None:
            progress("replay of the recorded histories ...")
            figures, details, problems = await replay_figures(settings.replay_repetitions)
            run.add(*figures)
            run.details["replay"] = details
            run.problems += problems

        async def sqlite_appends() -> None:
            progress("trial-record appends on SQLite ...")
            plain, activity = await measure_appends(lambda purpose: f"sqlite:///{work_dir / purpose}.db", settings)
            run.add(*append_figures("sqlite", plain, activity, settings, "SQLite (file, WAL, synchronous=FULL)"))
            run.details["appends_sqlite"] = {"plain": _append_details(plain), "activity": _append_details(activity)}

        async def postgres_appends() -> None:
            progress("trial-record appends on PostgreSQL (embedded) ...")
            from tests.postgres import EmbeddedPostgres, PostgresServer  # the test suite's starter: a dev tool

            server = EmbeddedPostgres()
            await asyncio.to_thread(server.start)
            try:
                admin = PostgresServer(admin_url=server.url, embedded=True)
                plain, activity = await measure_appends(
                    lambda purpose: admin.create_database(f"bench_{purpose}"), settings
                )
            finally:
                await asyncio.to_thread(server.stop)
            where = "PostgreSQL (embedded, fsync off)"
            run.add(*append_figures("postgresql", plain, activity, settings, where))
            run.details["appends_postgresql"] = {"plain": _append_details(plain), "activity": _append_details(activity)}

        async def cohort() -> None:
            progress(f"a cohort of {settings.cohort} through the whole protocol on the time-skipping server ...")
            calls = TimedCalls()
            timing = await simulate_cohort(settings.cohort, on_step=calls)
            note = "trial-demo's driver (simulation.demo.run_demo), wall clock from server start to the trial report"
            if timing.restarts:
                note += (
                    f"; DRIVEN AGAIN {timing.restarts} time(s) after the time-skipping server stalled: the time "
                    "includes the stalled run"
                )
            if not timing.report_matches_cohort:
                run.problems.append(f"cohort simulation: the report differs from the plan: {timing.mismatches}")
                note += f"; REPORT DIFFERS FROM THE PLAN: {'; '.join(timing.mismatches)}"
            run.add(
                Figure(
                    "cohort_simulation_seconds",
                    f"Cohort of {settings.cohort} through the protocol",
                    "s",
                    timing.seconds,
                    patients=timing.patients,
                    note=note,
                )
            )
            run.details["cohort"] = asdict(timing)
            label = f"Cohort of {settings.cohort}: its calls to the trial, first to last"
            if timing.restarts:
                why = "the cohort was driven again after a stall: its calls are not one drive's"
                run.add(missing("cohort_calls_seconds", label, "s", why))
                return
            progress(f"its {len(calls.calls):,} calls made again to floor workflows on a time-skipping server ...")
            floor = await drive_cohort_floor(calls.calls)
            run.add(
                Figure(
                    "cohort_calls_seconds",
                    label,
                    "s",
                    calls.seconds,
                    floor=floor.seconds,
                    patients=timing.patients,
                    note=(
                        f"{len(calls.calls):,} calls (enrollments, steps, status queries) at {calls.moments:,} server "
                        "moments; floor: the same calls to floor workflows (a step an update waiting for one no-op "
                        "activity), the clock skipped alike (bench/cohort_floor.py)"
                    ),
                )
            )
            run.details["cohort_floor"] = {
                "calls": len(calls.calls),
                "moments": calls.moments,
                "cohort_seconds": calls.seconds,
                "floor_seconds": floor.seconds,
                "steps_recorded": sum(1 for call in calls.calls if call.call == "record"),
                "floor_steps_taken": sum(floor.steps_taken.values()),
            }

        await run.section("command line", "cli", cli, (*CLI_COMMANDS, *CLI_FLOOR_FIGURES))
        await run.section("dev server", "dev-server", server_load, DEV_SERVER_FIGURES)
        await run.section("histories", "histories", histories, HISTORY_FIGURES)
        await run.section("replay", "replay", replay, ("replay_5_years_ms", "replay_largest_run_ms"))
        await run.section(
            "SQLite appends", "appends", sqlite_appends, ("record_append_sqlite", "activity_append_sqlite")
        )
        await run.section(
            "PostgreSQL appends",
            "appends",
            postgres_appends,
            ("record_append_postgresql", "activity_append_postgresql"),
        )
        await run.section("cohort", "cohort", cohort, ("cohort_simulation_seconds", "cohort_calls_seconds"))
        _keep_worker_logs(work_dir, settings.out)

    for key in FIGURE_KEYS:
        if key not in run.figures:
            run.add(missing(key, key.replace("_", " "), "", "no section produced it"))
    return {
        "schema": SCHEMA,
        "started_at": started_at.isoformat(),
        "seconds": round(time.perf_counter() - began, 1),
        "section_seconds": run.section_seconds,
        "machine": {**describe_machine(), "load_average_before": load_before, "load_average_after": load_average()},
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(settings).items()},
        "complete": not settings.only,
        "figures": {key: run.figures[key].as_json() for key in FIGURE_KEYS},
        "problems": run.problems,
        "details": run.details,
    }


def _keep_worker_logs(work_dir: Path, out: Path) -> None:
    """The workers' logs (warnings and errors only) beside the JSON, for the figures' "errors" to be read."""
    logs = out.parent / f"{out.stem}-logs"
    logs.mkdir(parents=True, exist_ok=True)
    for log in work_dir.glob("*.log"):
        shutil.copy(log, logs / log.name)


def figures_of(document: dict[str, Any]) -> list[Figure]:
    """The figures back from a written document (for printing)."""
    fields = ("key", "label", "unit", "value", "floor", "patients", "note")
    return [Figure(**{f: document["figures"][key][f] for f in fields}) for key in FIGURE_KEYS]
