"""`python -m bench --quick`: every figure of the benchmark is measured and written (never how fast: no timings
are asserted), bad options are refused with every problem named, and the targets are judged as the issue says."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import pytest
from temporalio.api.enums.v1 import EventType

from bench.cli_latency import CLI_COMMANDS, STACK_FLOOR_COMMAND, measure_cli
from bench.cli_server import served_trial
from bench.cohort_floor import drive_cohort_floor
from bench.cpu import DRIVER, SERVER, WORKERS, CpuMeter, spent
from bench.figures import FIGURE_KEYS, Figure
from bench.floor_workflow import FloorWorkflow
from bench.histories import floor_history, time_replay
from bench.journey_steps import infusion_moment
from bench.load import percentile
from bench.report import table
from bench.run import cli_figures
from bench.server_load import journey_carried_state
from bench.targets import TARGETS, Target
from bench.worker_handle import BYTECODE_CACHE, with_bytecode_cache
from bench.worker_heap import HEAP_PARTS
from simulation.demo import DrivenStep

PROJECT_ROOT = Path(__file__).resolve().parent.parent
QUICK_RUN_TIMEOUT_SECONDS = 900  # a hang guard, not a speed check: about 100 s alone, over 300 s beside other suites


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=QUICK_RUN_TIMEOUT_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    finished = run_bench("--quick", "--out", str(out))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished, json.loads(out.read_text())


def test_the_quick_run_writes_every_figure_with_a_value(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    _, document = quick_run
    assert list(document["figures"]) == list(FIGURE_KEYS)
    empty = [key for key, figure in document["figures"].items() if figure["value"] is None]
    assert not empty, [document["figures"][key]["note"] for key in empty]
    assert document["problems"] == []
    for figure in document["figures"].values():
        assert set(figure) >= {"label", "value", "unit", "floor", "ratio", "target", "passed", "note"}


def test_the_dev_server_figures_stand_beside_the_floor(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    _, document = quick_run
    figures = document["figures"]
    for key in (
        "enrollment_throughput",
        "update_throughput",
        "update_latency_p99_ms",
        "query_latency_p50_ms",
        "memory_per_cached_workflow_kib",
        "activity_floor_memory_kib",
        "carrying_floor_memory_kib",
    ):
        assert figures[key]["floor"] is not None and figures[key]["ratio"] is not None, key
    assert figures["errors"]["value"] == 0, figures["errors"]["note"]
    journey = document["details"]["dev_server"]["journey"]
    assert journey["failed_workflows"] == 0
    assert journey["updates"]["succeeded"] == 5 * document["details"]["dev_server"]["updates_per_workflow"]


def test_each_phase_says_what_cpu_the_server_the_workers_and_the_driver_spent(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    """A step's cost split by process, for the journeys and for the floor whose update waits for an activity."""
    _, document = quick_run
    server = document["details"]["dev_server"]
    for kind in ("journey", "activity_floor", "floor"):
        for phase in ("starts", "updates", "queries"):
            cpu = server[kind][phase]["cpu"]
            assert set(cpu) == {SERVER, WORKERS, DRIVER}, (kind, phase)
            assert all(c["user_seconds"] >= 0 and c["system_seconds"] >= 0 for c in cpu.values()), (kind, phase)
        updates = server[kind]["updates"]["cpu"]
        assert updates[SERVER]["ms_per_operation"] > 0 and updates[WORKERS]["ms_per_operation"] > 0, kind
    figures = document["figures"]
    for key in ("update_server_cpu_ms", "update_worker_cpu_ms"):
        assert figures[key]["value"] > 0 and figures[key]["floor"] > 0, key
    floor_server_ms = server["activity_floor"]["updates"]["cpu"][SERVER]["ms_per_operation"]
    assert figures["update_server_cpu_ms"]["floor"] == pytest.approx(floor_server_ms, abs=0.01)


def test_the_history_a_step_leaves_is_counted_beside_the_floor_with_an_activity(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    """Every run of a few workflows read back: each update accepted once, the floor's one activity per update, and
    the journey's step leaving more than the floor's."""
    _, document = quick_run
    server = document["details"]["dev_server"]
    floor = server["activity_floor"]["step_events"]["by_type_per_update"]
    journey = server["journey"]["step_events"]["by_type_per_update"]
    assert floor["workflow_execution_update_accepted"] == journey["workflow_execution_update_accepted"] == 1.0
    assert floor["activity_task_scheduled"] == 1.0
    assert journey["activity_task_scheduled"] > 1.0  # the append, the notifications, the slot booking
    figure = document["figures"]["update_history_events"]
    assert figure["value"] > figure["floor"] > 0, figure
    assert figure["value"] == pytest.approx(server["journey"]["step_events"]["events_per_update"])


def test_the_cpu_meter_counts_each_role_and_keeps_a_gone_process_last_reading() -> None:
    child = subprocess.Popen([sys.executable, "-c", "sum(range(3_000_000))"])
    meter = CpuMeter.of(None, [child.pid])
    before = meter.read()
    child.wait()
    sum(i * i for i in range(2_000_000))  # this process: the driver
    used = spent(before, meter.read())
    assert set(used) == {SERVER, WORKERS, DRIVER}
    assert used[SERVER].total == 0
    assert used[DRIVER].user > 0
    assert used[WORKERS].user >= 0  # the child's time after its last reading is lost, never negative


def test_the_quick_run_serves_each_kind_with_two_worker_processes(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    """The 10,000-patient run's shape (docs/performance.md): two workers on one task queue, read together."""
    _, document = quick_run
    assert document["details"]["dev_server"]["workers"] == 2
    journey = document["details"]["dev_server"]["journey"]
    # Both workers' caches are read: the run's patients plus the warm-up's, wherever their tasks went.
    assert journey["memory_after"]["cached_workflows"] >= 5
    logs = Path(document["settings"]["out"]).with_name("quick-logs")
    for kind in ("floor", "journey"):
        expected = {f"{kind}-worker-1.log", f"{kind}-worker-2.log"}
        assert {log.name for log in logs.glob(f"{kind}-worker-*.log")} == expected


def test_the_memory_figures_say_what_each_allocator_gained_a_cached_workflow(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    """Whose a cached journey's memory is (bench/worker_heap.py): each worker's heap read by allocator, summed."""
    _, document = quick_run
    server = document["details"]["dev_server"]
    for kind in ("floor", "journey", "activity_floor", "carrying_floor"):
        after = server[kind]["memory_after"]["heap_kib"]
        assert set(after) == set(HEAP_PARTS) and None not in after.values(), (kind, after)
        gained = server[kind]["heap_kib_per_cached_workflow"]
        assert set(gained) == set(HEAP_PARTS) and None not in gained.values(), (kind, gained)
    assert "journey Python objects" in document["figures"]["memory_per_cached_workflow_kib"]["note"]
    assert "Python objects" in document["figures"]["activity_floor_memory_kib"]["note"]
    assert "Python objects" in document["figures"]["carrying_floor_memory_kib"]["note"]


def test_the_carrying_floor_is_walked_like_the_floor_from_a_journeys_carried_state(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    """The floor that tells what the SDK keeps of a run's input: walked like the bare floor, each workflow started
    from the state a journey carries into its run after infusion."""
    _, document = quick_run
    server = document["details"]["dev_server"]
    carrying = server["carrying_floor"]
    assert carrying["kind"] == "carrying-floor" and carrying["failed_workflows"] == 0
    assert carrying["updates"]["succeeded"] == server["floor"]["updates"]["succeeded"]
    carried = journey_carried_state(infusion_moment())
    assert carried["carried"]["state"]["infusion"] is not None
    assert len(json.dumps(carried)) > 20_000  # the benchmark's path to infusion: about 27 KB of JSON


def test_the_replay_stands_beside_a_floor_of_as_many_workflow_tasks(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    _, document = quick_run
    replay = document["figures"]["replay_5_years_ms"]
    assert replay["floor"] is not None and replay["ratio"] is not None
    details = document["details"]["replay"]
    assert details["tasks"] > 100  # five years of a patient's steps, not an empty history
    assert details["floor"]["failures"] == []


async def test_the_cli_figures_time_each_command_beside_the_interpreter_and_the_stack(tmp_path: Path) -> None:
    async with served_trial(tmp_path) as served:
        floors, commands = await asyncio.to_thread(measure_cli, served, 1)
    assert list(commands) == list(CLI_COMMANDS)
    for floor in (floors.interpreter, floors.stack, floors.api):
        assert len(floor.samples_ms) == 1 and floor.exit_codes == [0], floor.argv
    for key, timing in commands.items():
        assert timing.exit_codes == [0], key  # `trial status` answered by the served API for its patient
    figures = cli_figures(floors, commands)
    assert [f.key for f in figures] == [*CLI_COMMANDS, "cli_stack_floor_ms", "cli_api_floor_ms"]
    for figure in figures:
        assert figure.value is not None and figure.floor is not None and figure.ratio is not None, figure.key
    for figure in figures[:3]:
        assert figure.target == TARGETS[figure.key].describe("ms")
        assert "x the stack's floor" in figure.note, figure.key
    assert "x the stack's floor asking the API" in figures[2].note
    stack, api = figures[3:]
    assert (stack.value, api.value) == (floors.stack.median_ms, floors.api.median_ms)
    assert stack.floor == api.floor == floors.interpreter.median_ms


def test_the_stack_floor_prints_its_model_and_imports_nothing_of_trialflow() -> None:
    shown = subprocess.run(
        [sys.executable, "-X", "importtime", *STACK_FLOOR_COMMAND], capture_output=True, text=True, check=False
    )
    assert (shown.returncode, shown.stdout) == (0, '{"word":"floor"}\n'), shown.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in shown.stderr.splitlines() if line.startswith("import time")}
    assert {"pydantic", "typer"} <= imported
    ours = {"domain", "cli", "bench", "facade", "config", "workflows", "activities", "records", "api"}
    assert not {name for name in imported if name.split(".")[0] in ours}


def test_the_quick_run_measures_the_cli(quick_run: tuple[subprocess.CompletedProcess[str], dict]) -> None:
    _, document = quick_run
    for key in CLI_COMMANDS:
        assert document["figures"][key]["floor"] is not None, key
        assert len(document["details"]["cli"][key]["samples_ms"]) == 5, key
    for floor in ("stack_floor", "api_floor"):
        assert document["figures"][f"cli_{floor}_ms"]["value"] is not None, floor
        assert len(document["details"]["cli"][floor]["samples_ms"]) == 5, floor


async def test_the_floor_history_has_about_the_tasks_asked_for() -> None:
    history = await floor_history(40)
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    tasks = sum(1 for event in history.events if event.event_type == completed)
    assert 38 <= tasks <= 42, tasks
    timing = await time_replay([history], repetitions=1, workflow=FloorWorkflow)
    assert timing.failures == ()


def test_the_quick_runs_cohort_floor_takes_every_step_the_cohort_took(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    _, document = quick_run
    floor = document["details"]["cohort_floor"]
    assert floor["steps_recorded"] > 0
    assert floor["floor_steps_taken"] == floor["steps_recorded"]
    assert document["figures"]["cohort_calls_seconds"]["floor"] == floor["floor_seconds"]


def test_the_printed_table_names_every_figure_and_target(
    quick_run: tuple[subprocess.CompletedProcess[str], dict],
) -> None:
    finished, document = quick_run
    for figure in document["figures"].values():
        assert figure["label"] in finished.stdout
    for key, target in TARGETS.items():
        assert document["figures"][key]["target"] == target.describe(document["figures"][key]["unit"])


def test_bad_options_are_refused_with_every_problem_and_nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "never.json"
    finished = run_bench(
        "--patients", "0", "--concurrency", "0", "--workers", "0", "--cohort", "3", "--only", "replay,nonsense",
        "--no-floors", "--floor-scale", "--out", str(out),
    )  # fmt: skip
    assert finished.returncode == 2
    for option in ("--patients", "--concurrency", "--workers", "--cohort", "--only", "--floor-scale"):
        assert option in finished.stderr
    assert not out.exists()


def test_a_target_is_judged_on_its_ratio_or_value_and_only_from_its_load() -> None:
    ratio_target = Target("ratio", ">=", 0.8)
    assert ratio_target.met(value=10.0, ratio=0.79, patients=1) is False
    assert ratio_target.met(value=1.0, ratio=0.8, patients=1) is True
    errors = Target("value", "==", 0, min_patients=1_000)
    assert errors.met(value=0, ratio=None, patients=999) is None
    assert errors.met(value=2, ratio=None, patients=1_000) is False
    assert Target("value", "<", 100).met(value=None, ratio=None, patients=5) is None


def test_the_ratio_is_value_over_floor_and_the_table_marks_a_miss() -> None:
    figure = Figure("update_throughput", "Recorded steps", "/s", 20.0, floor=100.0, patients=1_000)
    assert figure.ratio == pytest.approx(0.2)
    assert figure.passed is False
    assert "FAIL" in table([figure])


def test_percentiles_are_nearest_rank() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile([], 0.5) is None


def test_the_workers_run_with_a_bytecode_cache_outside_the_checkout(tmp_path: Path) -> None:
    """As the installed image does (pip compiles on install): without it, a checkout under PYTHONDONTWRITEBYTECODE
    has the sandbox compile the workflow module from source for every new workflow run."""
    cache = tmp_path / BYTECODE_CACHE
    environment = with_bytecode_cache({"PATH": "/usr/bin", "PYTHONDONTWRITEBYTECODE": "1"}, cache)
    asked = "import sys; print(sys.dont_write_bytecode, sys.pycache_prefix)"
    finished = subprocess.run(
        [sys.executable, "-c", asked], env=environment, capture_output=True, text=True, check=True
    )
    assert finished.stdout.split() == ["False", str(cache)]


def test_a_scale_run_measures_the_journeys_alone(tmp_path: Path) -> None:
    """`--no-floors`: the 10,000-patient run's journeys, compared with another N's, without hours of floors."""
    out = tmp_path / "scale.json"
    finished = run_bench("--quick", "--no-floors", "--only", "dev-server", "--out", str(out))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    document = json.loads(out.read_text())
    journey = document["details"]["dev_server"]["journey"]
    assert journey["updates"]["succeeded"] == 5 * document["details"]["dev_server"]["updates_per_workflow"]
    assert document["details"]["dev_server"]["floor"]["workflows"] == 0
    steps = document["figures"]["update_throughput"]
    assert steps["value"] is not None and steps["floor"] is None and steps["passed"] is None


def test_a_benchmark_stopped_by_sigterm_stops_its_dev_server_and_removes_its_database(tmp_path: Path) -> None:
    """A `kill` (or a CI job's timeout) unwinds the run as Ctrl-C does: its dev server left running, or its database
    left in /dev/shm, would hold gigabytes of memory after a 10,000-patient run until the machine restarts."""
    out = tmp_path / "stopped.json"
    command = [sys.executable, "-m", "bench", "--quick", "--only", "dev-server", "--out", str(out)]
    bench = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        server, database = _its_dev_server(bench)
        bench.send_signal(signal.SIGTERM)
        _, stderr = bench.communicate(timeout=QUICK_RUN_TIMEOUT_SECONDS)
    finally:
        if bench.poll() is None:
            bench.kill()
    assert bench.returncode == 128 + signal.SIGTERM, stderr
    assert "stopped (SIGTERM)" in stderr
    assert not server.is_running() or server.status() == psutil.STATUS_ZOMBIE
    assert not database.exists() and not database.parent.exists()
    assert not out.exists()


def _its_dev_server(bench: subprocess.Popen[str]) -> tuple[psutil.Process, Path]:
    """The dev server among the benchmark's children and its database, once the server has made it (a busy machine
    starts the process well before its database; a hang guard, not a speed check)."""
    deadline = time.monotonic() + QUICK_RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        assert bench.poll() is None, bench.communicate()
        for child in psutil.Process(bench.pid).children(recursive=True):
            try:
                command = child.cmdline()
            except psutil.NoSuchProcess:
                continue
            if "start-dev" in command:
                database = Path(command[command.index("--db-filename") + 1])
                if database.exists():
                    return child, database
        time.sleep(0.2)
    raise AssertionError("the benchmark's dev server never started with its database")


def test_the_floors_scale_run_measures_the_floor_with_an_activity_alone(tmp_path: Path) -> None:
    """`--floor-scale`: the floor whose update waits for an activity at N, to set beside the journeys' scale runs."""
    out = tmp_path / "floor-scale.json"
    finished = run_bench("--quick", "--floor-scale", "--only", "dev-server", "--out", str(out))
    assert finished.returncode == 0, finished.stdout + finished.stderr
    document = json.loads(out.read_text())
    server = document["details"]["dev_server"]
    assert server["activity_floor"]["updates"]["succeeded"] == 5 * server["updates_per_workflow"]
    assert server["journey"]["workflows"] == 0 and server["floor"]["workflows"] == 0
    figures = document["figures"]
    assert figures["activity_floor_update_throughput"]["value"] is not None
    assert figures["update_throughput"]["value"] is None


async def test_the_cohort_floor_makes_the_demos_calls_at_its_moments() -> None:
    began = datetime(2027, 3, 1, 1, tzinfo=UTC)
    later = began + timedelta(days=2)
    calls = [
        DrivenStep(began, "DEMO-001", "enroll"),
        DrivenStep(began, "DEMO-002", "enroll"),
        DrivenStep(began, "DEMO-001", "record"),
        DrivenStep(later, "DEMO-001", "record"),
        DrivenStep(later, "DEMO-002", "record"),
        DrivenStep(later, "DEMO-001", "status"),
        DrivenStep(later, "DEMO-001", "record"),
    ]
    floor = await drive_cohort_floor(calls)
    assert floor.timed.calls == calls
    assert floor.timed.moments == 2
    assert floor.steps_taken == {"DEMO-001": 3, "DEMO-002": 1}
    # From a day after the server's start to the last moment: the two days between the moments skipped too.
    assert floor.clock_moved >= timedelta(days=3)
