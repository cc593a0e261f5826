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
from cli.main import app, protocol_rows
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


def resolve(model: BaseModel, path: tuple[str, ...]) -> Any:
    value: Any = model
    for part in path:
        name, _, key = part.partition("[")
        value = getattr(value, name)
        if key:
            key = key.rstrip("]")
            value = value[int(key)] if key.isdigit() else next(item for item in value if item.name == key)
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


def test_every_protocol_value_has_one_row_and_each_row_shows_the_right_value() -> None:
    rows = protocol_rows(CURRENT_PROTOCOL)

    named_members = sum(
        1
        for section in CURRENT_PROTOCOL.model_dump().values()
        if isinstance(section, dict)
        for value in section.values()
        if isinstance(value, list | tuple)
        for item in value
        if isinstance(item, dict) and "name" in item
    )
    assert len(rows) + named_members == leaf_count(CURRENT_PROTOCOL.model_dump(mode="json"))
    for path, shown in rows:
        value = resolve(CURRENT_PROTOCOL, path)
        if isinstance(value, bool):
            assert shown == ("yes" if value else "no")
        elif isinstance(value, int | float):
            assert float(shown.replace(",", "")) == pytest.approx(value)
        elif isinstance(value, tuple):
            assert shown.split(", ") == [f"{item:,}" if isinstance(item, int) else str(item) for item in value]
        else:
            assert shown == str(value)


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
