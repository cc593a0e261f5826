"""`trial token`: a token made on the command line opens the API to its user until it expires, and revoking it
closes it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from domain.roles import Actor, Role
from security.token_file import DEFAULT_TOKEN_FILE_NAME, TokenFile

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRIALFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRIALFLOW_API_TOKENS", raising=False)
    monkeypatch.delenv("TRIALFLOW_API_TOKENS_FILE", raising=False)
    return tmp_path


def test_new_list_and_revoke(data_dir: Path) -> None:
    made = runner.invoke(app, ["token", "new", "--user", "nurse.wang", "--role", "nurse", "--json"])
    assert made.exit_code == 0, made.output
    token = json.loads(made.stdout)["token"]
    token_file = TokenFile(data_dir / DEFAULT_TOKEN_FILE_NAME)
    assert token_file.actor_for(token) == Actor(user_id="nurse.wang", role=Role.NURSE)

    listed = runner.invoke(app, ["token", "list", "--json"])
    assert listed.exit_code == 0
    holders = json.loads(listed.stdout)["tokens"]
    assert [(h["user_id"], h["role"]) for h in holders] == [("nurse.wang", "nurse")]
    assert token not in listed.stdout

    revoked = runner.invoke(app, ["token", "revoke", "--user", "nurse.wang"])
    assert revoked.exit_code == 0 and "Revoked 1 token" in revoked.stdout
    assert TokenFile(token_file.path).actor_for(token) is None
    again = runner.invoke(app, ["token", "revoke", "--user", "nurse.wang"])
    assert again.exit_code == 1 and "holds no API token" in again.stderr


def test_every_problem_with_a_new_token_is_named_and_nothing_is_written(data_dir: Path) -> None:
    refused = runner.invoke(app, ["token", "new", "--user", "bad name", "--role", "system"])
    assert refused.exit_code == 2
    assert "--role: system is the workflow's own role" in refused.stderr
    assert "--user:" in refused.stderr and "'bad name'" in refused.stderr
    refused = runner.invoke(app, ["token", "new", "--user", "dr.li", "--role", "dean"])
    assert refused.exit_code == 2 and "must be one of" in refused.stderr
    assert not (data_dir / DEFAULT_TOKEN_FILE_NAME).exists()


def test_a_broken_token_file_is_reported_and_never_overwritten(data_dir: Path) -> None:
    path = data_dir / DEFAULT_TOKEN_FILE_NAME
    path.write_text("{broken")
    refused = runner.invoke(app, ["token", "new", "--user", "dr.li", "--role", "investigator"])
    assert refused.exit_code == 2 and "not valid JSON" in refused.stderr
    assert path.read_text() == "{broken"


def test_a_new_token_expires_after_90_days_unless_told_and_the_list_shows_when(data_dir: Path) -> None:
    before = datetime.now(UTC)
    made = runner.invoke(app, ["token", "new", "--user", "nurse.wang", "--role", "nurse", "--json"])
    short = runner.invoke(app, ["token", "new", "--user", "dr.li", "--role", "investigator", "--expires", "7"])
    assert made.exit_code == 0 and short.exit_code == 0, short.output
    expires_at = datetime.fromisoformat(json.loads(made.stdout)["expires_at"])
    assert before + timedelta(days=90) <= expires_at <= datetime.now(UTC) + timedelta(days=90)
    assert "It works until" in short.stdout

    listed = json.loads(runner.invoke(app, ["token", "list", "--json"]).stdout)["tokens"]
    lifetimes = {h["user_id"]: datetime.fromisoformat(h["expires_at"]) - before for h in listed}
    assert timedelta(days=90) <= lifetimes["nurse.wang"] < timedelta(days=90, minutes=1)
    assert timedelta(days=7) <= lifetimes["dr.li"] < timedelta(days=7, minutes=1)
    table = runner.invoke(app, ["token", "list"], env={"COLUMNS": "200"}).stdout
    assert "Expires" in table and f"{expires_at:%Y-%m-%d %H:%M} UTC" in table


@pytest.mark.parametrize("days", ["0", "-3", "400"])
def test_a_lifetime_out_of_bounds_is_refused_and_nothing_is_written(data_dir: Path, days: str) -> None:
    refused = runner.invoke(app, ["token", "new", "--user", "dr.li", "--role", "investigator", "--expires", days])
    assert refused.exit_code == 2
    assert f"--expires: a token works for 1 to 366 days, not {days}" in refused.stderr
    assert not (data_dir / DEFAULT_TOKEN_FILE_NAME).exists()
