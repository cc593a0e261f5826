"""`trial` imports a command's module only when that command runs: the map of command names to modules is the
modules' own commands, every command is still listed, run and suggested, and the quick commands stay light (a new
process's sys.modules, never a timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.lazy_group import commands_of
from cli.main import COMMAND_HOMES, app

runner = CliRunner()
WIDE = {"COLUMNS": "400"}
# What the quick commands must not import: the workflow engine's client, the data and plotting libraries, the ORM.
HEAVY = ("temporalio", "pandas", "matplotlib", "sqlalchemy", "lifelines", "scipy", "httpx")
SUBPROCESS_TIMEOUT_SECONDS = 120  # a hang guard, not a speed check


def test_the_map_names_exactly_the_commands_each_module_adds() -> None:
    by_home: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    for name, home in COMMAND_HOMES.items():
        by_home[home].add(name)
    for (module, group), names in by_home.items():
        assert set(commands_of(module, group)) == names, module


def test_every_command_is_listed_in_the_help_and_unknown_ones_get_a_suggestion() -> None:
    answer = runner.invoke(app, ["--help"], env=WIDE)
    assert answer.exit_code == 0, answer.output
    for name in ("version", *COMMAND_HOMES):
        assert f" {name} " in answer.output, name
    typo = runner.invoke(app, ["stauts", "TF-001"], env=WIDE)
    assert typo.exit_code == 2
    assert "Did you mean 'status'?" in typo.output


def test_a_lazily_found_command_runs_with_its_own_options() -> None:
    answer = runner.invoke(app, ["dose", "--height-cm", "120", "--weight-kg", "25", "--json"])
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.output)["protocol_version"]


def modules_after(
    *arguments: str, env: dict[str, str] | None = None, watched: tuple[str, ...] = HEAVY
) -> tuple[int, str, list[str]]:
    """`trial ARGUMENTS` in a new process: its exit code, its output, and which of `watched` it imported."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from cli.main import app\n"
        f"answer = CliRunner().invoke(app, {list(arguments)!r})\n"
        "print(answer.exit_code)\n"
        f"print(','.join(m for m in {watched!r} if m in sys.modules))\n"
        "print(answer.output, end='')\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_SECONDS,
        check=True,
        env={**os.environ, **(env or {})},
    )
    code, imported, output = finished.stdout.split("\n", 2)
    return int(code), output, [m for m in imported.split(",") if m]


@pytest.mark.parametrize(
    "arguments",
    [("version",), ("version", "--json"), ("dose", "--height-cm", "120", "--weight-kg", "25")],
    ids=["version", "version-json", "dose"],
)
def test_the_quick_commands_import_none_of_the_heavy_libraries(arguments: tuple[str, ...]) -> None:
    code, output, imported = modules_after(*arguments)
    assert code == 0, output
    assert imported == []


def test_the_dose_calculator_builds_none_of_the_other_calculators_models() -> None:
    # Each calculator's domain module builds its pydantic models on import: `dose` needs only the dosing ones.
    others = ("domain.eligibility", "domain.toxicity", "domain.schedule")
    code, output, imported = modules_after("dose", "--height-cm", "120", "--weight-kg", "25", watched=others)
    assert code == 0, output
    assert imported == []


def test_a_patients_status_needs_the_http_client_and_nothing_heavier(tmp_path: Path) -> None:
    # No API listening, no sign-in saved: the CLI's whole own path to its "cannot reach" answer.
    unreachable = {"TRIALFLOW_API_URL": "http://127.0.0.1:9", "TRIALFLOW_CONFIG_DIR": str(tmp_path)}
    code, output, imported = modules_after("status", "TF-90001", env=unreachable)
    assert code == 1, output
    assert "cannot reach the trialflow API" in output
    assert imported == ["httpx"]


def test_a_patients_status_reads_the_answer_without_the_journeys_events_and_state(tmp_path: Path) -> None:
    # The answer's models (domain/journey/status_view.py), not how a status is worked out from the events.
    unreachable = {"TRIALFLOW_API_URL": "http://127.0.0.1:9", "TRIALFLOW_CONFIG_DIR": str(tmp_path)}
    worked_out = ("domain.journey.events", "domain.journey.state", "domain.journey.views")
    code, output, imported = modules_after("status", "TF-90001", env=unreachable, watched=worked_out)
    assert code == 1, output
    assert imported == []


def test_the_check_sees_a_heavy_import_when_there_is_one() -> None:
    # `trial admin --help` loads the admin module, which reaches the trial record (SQLAlchemy).
    code, output, imported = modules_after("admin", "--help")
    assert code == 0, output
    assert "sqlalchemy" in imported
