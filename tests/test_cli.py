"""The `trial` command line: version, and the protocol as a table or as JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

import cli.common
import cli.main
import domain.protocol
from cli.main import app
from cli.protocol_view import protocol_rows
from domain.amendment import amend
from domain.protocol import CURRENT_PROTOCOL, PROTOCOL_V1, TrialProtocol

runner = CliRunner()
WIDE = {"COLUMNS": "200"}  # so no parameter name is folded across lines


def leaf_count(value: Any) -> int:
    if isinstance(value, dict):
        return sum(leaf_count(item) for item in value.values())
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return sum(leaf_count(item) for item in value)
    return 1


def _key_of(item: Any) -> str | None:
    """The name of a visit series, or the code of a visit's own window: what a table row shows it under."""
    return getattr(item, "name", None) or getattr(item, "code", None)


def resolve(model: BaseModel, path: tuple[str, ...]) -> Any:
    value: Any = model
    for part in path:
        name, _, key = part.partition("[")
        value = getattr(value, name)
        if key:
            key = key.rstrip("]")
            value = value[int(key)] if key.isdigit() else next(item for item in value if _key_of(item) == key)
    return value


def test_version_names_the_release_and_the_current_protocol() -> None:
    result = runner.invoke(app, ["version"])

    assert result.exit_code == 0, result.output
    assert result.output.startswith("trialflow ")
    assert f"protocol {CURRENT_PROTOCOL.version} (current)" in result.output

    as_json = runner.invoke(app, ["version", "--json"])
    assert as_json.exit_code == 0, as_json.output
    info = json.loads(as_json.output)
    assert info["protocol_current"] == CURRENT_PROTOCOL.version and CURRENT_PROTOCOL.version in info["protocols_known"]
    assert result.output.startswith(f"trialflow {info['trialflow']}\n")


def test_without_a_command_the_help_lists_the_commands() -> None:
    result = runner.invoke(app, [])

    assert "version" in result.output
    assert "protocol" in result.output


def test_protocol_json_is_the_whole_definition_and_round_trips() -> None:
    result = runner.invoke(app, ["protocol", "--json"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document == CURRENT_PROTOCOL.model_dump(mode="json")
    assert TrialProtocol.model_validate(document) == CURRENT_PROTOCOL


def test_protocol_table_shows_sections_parameters_and_values() -> None:
    result = runner.invoke(app, ["protocol"], env=WIDE)

    assert result.exit_code == 0, result.output
    text = result.output
    assert f"Protocol {CURRENT_PROTOCOL.version}" in text
    for section in ("eligibility", "lymphodepletion › fludarabine", "cell_dose", "stopping_rule"):
        assert section in text
    assert "schedule › follow_up_series[first month]" in text  # a name in brackets is not markup
    assert f"{int(CURRENT_PROTOCOL.cell_dose.target_cells_per_kg):,}" in text
    assert "target_cells_per_kg" in text


@pytest.mark.parametrize("protocol", list(domain.protocol.PROTOCOLS.values()), ids=lambda p: p.version)
def test_every_protocol_value_has_one_row_and_each_row_shows_the_right_value(protocol: TrialProtocol) -> None:
    rows = protocol_rows(protocol)

    keyed_members = sum(
        1
        for section in protocol.model_dump().values()
        if isinstance(section, dict)
        for value in section.values()
        if isinstance(value, list | tuple)
        for item in value
        if isinstance(item, dict) and ("name" in item or "code" in item)
    )
    assert len(rows) + keyed_members == leaf_count(protocol.model_dump(mode="json"))
    for path, shown in rows:
        value = resolve(protocol, path)
        if isinstance(value, bool):
            assert shown == ("yes" if value else "no")
        elif isinstance(value, int | float):
            assert float(shown.replace(",", "")) == pytest.approx(value)
        elif value is None or value == ():
            assert shown == "none"
        elif isinstance(value, tuple):
            assert shown.split(", ") == [f"{item:,}" if isinstance(item, int) else str(item) for item in value]
        else:
            assert shown == str(value)


def test_protocol_diff_names_exactly_what_amendment_1_1_changes() -> None:
    as_json = runner.invoke(app, ["protocol", "diff", "1.0", "1.1", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == [
        {
            "parameter": "eligibility › recent_therapy_exclusion_drugs",
            "before": "none",
            "after": "blinatumomab, inotuzumab ozogamicin",
        },
        {"parameter": "schedule › second_mrd_evaluation_day", "before": "none", "after": "60"},
        {"parameter": "schedule › visit_windows[M3] › window_days", "before": "none", "after": "14"},
    ]
    as_table = runner.invoke(app, ["protocol", "diff", "1.0", "1.1"], env=WIDE)
    assert as_table.exit_code == 0, as_table.output
    assert "Protocol 1.0 → 1.1: 3 changes" in as_table.output
    assert "schedule › second_mrd_evaluation_day" in as_table.output
    same = runner.invoke(app, ["protocol", "diff", "1.1", "1.1", "--json"])
    assert json.loads(same.output) == []
    unknown = runner.invoke(app, ["protocol", "diff", "1.0", "0.9"])
    assert unknown.exit_code == 2 and "unknown protocol version '0.9'" in unknown.output


def test_protocol_1_1_is_shown_by_version() -> None:
    as_json = runner.invoke(app, ["protocol", "--version", "1.1", "--json"])
    assert as_json.exit_code == 0, as_json.output
    definition = json.loads(as_json.output)
    assert definition["version"] == "1.1"
    assert definition["schedule"]["second_mrd_evaluation_day"] == 60
    assert definition["schedule"]["visit_windows"] == [{"code": "M3", "window_days": 14}]
    as_table = runner.invoke(app, ["protocol", "--version", "1.1"], env=WIDE)
    assert "Protocol 1.1" in as_table.output and "visit_windows[M3]" in as_table.output


def test_an_amended_protocol_is_shown_by_version(monkeypatch: pytest.MonkeyPatch) -> None:
    shorter_window = PROTOCOL_V1.infusion.max_days_after_lymphodepletion - 4
    amended = amend(PROTOCOL_V1, "1.1", infusion={"max_days_after_lymphodepletion": shorter_window})
    monkeypatch.setitem(domain.protocol.PROTOCOLS, "1.1", amended)

    as_json = runner.invoke(app, ["protocol", "--version", "1.1", "--json"])
    as_table = runner.invoke(app, ["protocol", "--version", "1.1"], env=WIDE)

    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["infusion"]["max_days_after_lymphodepletion"] == shorter_window
    assert json.loads(as_json.output)["version"] == "1.1"
    assert "Protocol 1.1" in as_table.output


def test_an_unknown_protocol_version_is_a_usage_error_naming_the_known_ones() -> None:
    result = runner.invoke(app, ["protocol", "--version", "0.9"])

    assert result.exit_code == 2
    assert "unknown protocol version '0.9'" in result.output
    assert PROTOCOL_V1.version in result.output


@pytest.mark.parametrize(("argv", "code"), [(["version"], 0), (["version", "--no-such-option"], 2), (["dose"], 2)])
def test_the_trial_command_exits_with_the_commands_own_code_without_finalizing(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], code: int
) -> None:
    """`trial` (cli.main.main) hands the command's exit code to exit_without_finalizing, never a crash at exit."""
    exits: list[int] = []

    def record_exit(given: int) -> None:
        exits.append(given)
        raise SystemExit(given)

    monkeypatch.setattr(cli.common, "exit_without_finalizing", record_exit)
    monkeypatch.setattr("sys.argv", ["trial", *argv])
    with pytest.raises(SystemExit):
        cli.main.main()
    assert exits == [code]
