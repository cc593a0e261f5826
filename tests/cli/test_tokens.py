"""`trial token`: a token made on the command line opens the API to its user, and revoking it closes it."""

from __future__ import annotations

import json
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
