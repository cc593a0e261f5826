"""`trial admin token`: a token made on the server opens the API to its user until it expires, and revoking it
closes it; each change is kept in the record with the operating-system user."""

from __future__ import annotations

import getpass
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from domain.roles import Actor, Role
from records import EventStore
from records.migrate import head_revision
from records.token_uses import TokenChangeLog
from security import PayloadKeyring, ensure_key_file
from security.keys import SealKeyring
from security.token_file import DEFAULT_TOKEN_FILE_NAME, TokenFile
from tests.cli.trial_cli import logging_restored
from tests.records.conftest import make_events

runner = CliRunner()


@pytest.fixture(autouse=True)
def own_logging() -> Iterator[None]:
    """`trial admin` logs its audit line for its process (ours, here): the test process's logging is put back."""
    with logging_restored():
        yield


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRIALFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TRIALFLOW_API_TOKENS", raising=False)
    monkeypatch.delenv("TRIALFLOW_API_TOKENS_FILE", raising=False)
    monkeypatch.delenv("TRIALFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("TRIALFLOW_PAYLOAD_KEYS", raising=False)
    monkeypatch.delenv("TRIALFLOW_PAYLOAD_KEYS_FILE", raising=False)
    ensure_key_file(tmp_path / "payload-keys.json")  # the server's files, as `make run` leaves them
    with EventStore(f"sqlite:///{tmp_path / 'trial-record.db'}") as store:
        store.migrate()
    return tmp_path


def test_new_list_and_revoke(data_dir: Path) -> None:
    made = runner.invoke(app, ["admin", "token", "new", "--user", "nurse.wang", "--role", "nurse", "--json"])
    assert made.exit_code == 0, made.output
    token = json.loads(made.stdout)["token"]
    token_file = TokenFile(data_dir / DEFAULT_TOKEN_FILE_NAME)
    assert token_file.actor_for(token) == Actor(user_id="nurse.wang", role=Role.NURSE)

    listed = runner.invoke(app, ["admin", "token", "list", "--json"])
    assert listed.exit_code == 0
    holders = json.loads(listed.stdout)["tokens"]
    assert [(h["user_id"], h["role"]) for h in holders] == [("nurse.wang", "nurse")]
    assert token not in listed.stdout

    revoked = runner.invoke(app, ["admin", "token", "revoke", "--user", "nurse.wang"])
    assert revoked.exit_code == 0 and "Revoked 1 token" in revoked.stdout
    assert TokenFile(token_file.path).actor_for(token) is None
    again = runner.invoke(app, ["admin", "token", "revoke", "--user", "nurse.wang"])
    assert again.exit_code == 1 and "holds no API token" in again.stderr

    with EventStore(f"sqlite:///{data_dir / 'trial-record.db'}") as store:
        changes = TokenChangeLog(store.engine).changes()
    assert [(c.action, c.user_id, c.operator) for c in changes] == [
        ("issued", "nurse.wang", getpass.getuser()),
        ("revoked", "nurse.wang", getpass.getuser()),
    ]
    assert changes[0].role == "nurse" and changes[0].sha256_prefix == holders[0]["sha256_prefix"]


def test_every_problem_with_a_new_token_is_named_and_nothing_is_written(data_dir: Path) -> None:
    refused = runner.invoke(app, ["admin", "token", "new", "--user", "bad name", "--role", "system"])
    assert refused.exit_code == 2
    assert "--role: system is the workflow's own role" in refused.stderr
    assert "--user:" in refused.stderr and "'bad name'" in refused.stderr
    refused = runner.invoke(app, ["admin", "token", "new", "--user", "dr.li", "--role", "dean"])
    assert refused.exit_code == 2 and "must be one of" in refused.stderr
    assert not (data_dir / DEFAULT_TOKEN_FILE_NAME).exists()


def test_a_broken_token_file_is_reported_and_never_overwritten(data_dir: Path) -> None:
    path = data_dir / DEFAULT_TOKEN_FILE_NAME
    path.write_text("{broken")
    refused = runner.invoke(app, ["admin", "token", "new", "--user", "dr.li", "--role", "investigator"])
    assert refused.exit_code == 2 and "not valid JSON" in refused.stderr
    assert path.read_text() == "{broken"


def test_a_new_token_expires_after_90_days_unless_told_and_the_list_shows_when(data_dir: Path) -> None:
    before = datetime.now(UTC)
    made = runner.invoke(app, ["admin", "token", "new", "--user", "nurse.wang", "--role", "nurse", "--json"])
    short = runner.invoke(app, ["admin", "token", "new", "--user", "dr.li", "--role", "investigator", "--expires", "7"])
    assert made.exit_code == 0 and short.exit_code == 0, short.output
    expires_at = datetime.fromisoformat(json.loads(made.stdout)["expires_at"])
    assert before + timedelta(days=90) <= expires_at <= datetime.now(UTC) + timedelta(days=90)
    assert "It works until" in short.stdout

    listed = json.loads(runner.invoke(app, ["admin", "token", "list", "--json"]).stdout)["tokens"]
    lifetimes = {h["user_id"]: datetime.fromisoformat(h["expires_at"]) - before for h in listed}
    assert timedelta(days=90) <= lifetimes["nurse.wang"] < timedelta(days=90, minutes=1)
    assert timedelta(days=7) <= lifetimes["dr.li"] < timedelta(days=7, minutes=1)
    table = runner.invoke(app, ["admin", "token", "list"], env={"COLUMNS": "200"}).stdout
    assert "Expires" in table and f"{expires_at:%Y-%m-%d %H:%M} UTC" in table


@pytest.mark.parametrize("days", ["0", "-3", "400"])
def test_a_lifetime_out_of_bounds_is_refused_and_nothing_is_written(data_dir: Path, days: str) -> None:
    refused = runner.invoke(
        app, ["admin", "token", "new", "--user", "dr.li", "--role", "investigator", "--expires", days]
    )
    assert refused.exit_code == 2
    assert f"--expires: a token works for 1 to 366 days, not {days}" in refused.stderr
    assert not (data_dir / DEFAULT_TOKEN_FILE_NAME).exists()


# ---------------------------------------------------------------- the server's own administration


@pytest.mark.parametrize(
    "command",
    [
        ["admin", "token", "new", "--user", "dr.li", "--role", "investigator"],
        ["admin", "token", "list"],
        ["admin", "token", "revoke", "--user", "dr.li"],
        ["admin", "migrate"],
        ["admin", "rotate-key", "--key-id", "k2"],
        ["admin", "verify"],
    ],
)
def test_without_the_servers_key_file_nothing_is_done(data_dir: Path, command: list[str]) -> None:
    key_file = data_dir / "payload-keys.json"
    key_file.unlink()
    tokens_before = sorted(data_dir.iterdir())
    refused = runner.invoke(app, command)
    assert refused.exit_code == 1, refused.output
    assert f"the payload keys file {key_file} cannot be read (it does not exist)" in refused.stderr
    assert getpass.getuser() in refused.stderr and "admin_refused" in refused.stderr  # the audit line
    assert sorted(data_dir.iterdir()) == tokens_before


def test_every_run_is_logged_with_the_operating_system_user(data_dir: Path) -> None:
    rotated = runner.invoke(app, ["admin", "rotate-key", "--key-id", "k2"])
    assert rotated.exit_code == 0, rotated.output
    assert "active key k2; keys: k1, k2" in rotated.stdout
    [line] = [json.loads(line) for line in rotated.stderr.splitlines() if '"admin_command"' in line]
    assert (line["command"], line["os_user"], line["logger"]) == ("rotate-key", getpass.getuser(), "trialflow.audit")

    sealed = runner.invoke(app, ["admin", "rotate-key", "--key-id", "s9", "--keys", "seal"])
    assert sealed.exit_code == 0, sealed.output
    assert f"{data_dir / 'seal-keys.json'}: active key s9" in sealed.stdout
    assert SealKeyring.from_file(data_dir / "seal-keys.json").active_key_id == "s9"
    assert PayloadKeyring.from_file(data_dir / "payload-keys.json").active_key_id == "k2", "the payload keys untouched"

    migrated = runner.invoke(app, ["admin", "migrate"])
    assert migrated.exit_code == 0 and f"is at schema revision {head_revision()}" in migrated.stdout


def test_verify_reads_the_database_and_never_creates_one_elsewhere(
    data_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    intact = runner.invoke(app, ["admin", "verify"])
    assert intact.exit_code == 0 and "intact" in intact.stdout, intact.output

    # Another folder with the key file but no record: refused, and no empty record is made.
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    ensure_key_file(elsewhere / "payload-keys.json")
    monkeypatch.setenv("TRIALFLOW_DATA_DIR", str(elsewhere))
    refused = runner.invoke(app, ["admin", "verify"])
    assert refused.exit_code == 1
    assert f"there is no trial record at {elsewhere}/trial-record.db" in refused.stderr
    assert not (elsewhere / "trial-record.db").exists()


def test_verify_names_an_event_edited_in_the_database(data_dir: Path) -> None:
    record = data_dir / "trial-record.db"
    with EventStore(f"sqlite:///{record}") as store:
        store.append(make_events(2))
    with sqlite3.connect(record) as database:
        database.execute("DROP TRIGGER trial_events_no_update")  # as an intruder with DDL rights would
        database.execute("UPDATE trial_events SET reason = 'edited later' WHERE sequence = 1")
    tampered = runner.invoke(app, ["admin", "verify"])
    assert tampered.exit_code == 1
    assert "problem" in tampered.stdout
