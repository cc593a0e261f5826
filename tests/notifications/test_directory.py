"""The staff directory: the shipped example is valid; a bad file is refused with every bad entry named; routing
turns a role into people and their channels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import load_settings
from domain.journey.notifications import Notification, Topic, Urgency
from domain.roles import Role
from notifications import (
    ADDRESSABLE_ROLES,
    ChannelKind,
    NotificationConfigurationError,
    Notifier,
    StaffDirectoryError,
    load_staff_directory,
    plan_deliveries,
)
from notifications.from_settings import notifier_from_settings
from records.deliveries import DeliveryLedger
from tests.notifications.people import directory_of, staff_entry

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "config" / "staff-directory.example.toml"

BAD_DIRECTORY = """
[escalation]
pharmacy = "investigator"
nurse = "system"
janitor = "investigator"

[[staff]]
id = "dr.li"
roles = ["investigator"]
email = "not-an-address"

[[staff]]
id = "dr.li"
roles = ["physician", "system"]
webhooks = ["http://chat.hospital.example/hooks/secret-token-123"]

[[staff]]
id = "ward"
roles = ["nurse", "wizard"]

[[staff]]
id = "pharmacy"
roles = ["pharmacy", "pharmacy"]
email = "rx@hospital.example"
pager = "555-0100"

[[staff]]
roles = ["cell_lab"]
email = "lab@hospital.example"

[other]
x = 1
"""


def note(role: Role) -> Notification:
    return Notification(
        key=f"TF-001/3/{role.value}",
        study_id="TF-001",
        role=role,
        urgency=Urgency.ROUTINE,
        topic=Topic.ELIGIBILITY_CONFIRMED,
    )


def test_the_shipped_example_is_valid_and_covers_every_role() -> None:
    directory = load_staff_directory(EXAMPLE)
    for role in ADDRESSABLE_ROLES:
        assert directory.people_for(role), role
    assert [p.id for p in directory.people_for(Role.INVESTIGATOR)] == ["dr.li", "dr.okafor"]
    assert directory.escalation_role(Role.PHARMACY) is Role.PHYSICIAN  # from the file
    assert directory.escalation_role(Role.NURSE) is Role.INVESTIGATOR  # the default
    assert directory.uses_email and directory.uses_webhooks


def test_the_shipped_example_names_who_holds_the_dsmb_role_and_how_to_reach_them() -> None:
    [board] = load_staff_directory(EXAMPLE).people_for(Role.DSMB)
    assert board.id == "dsmb.chair" and (board.email or board.webhooks)


def test_a_directory_without_a_dsmb_holder_is_refused_with_that_reason() -> None:
    """The DSMB is told at once when the stopping rule pauses enrollment: a directory without one would tell nobody."""
    entries = [staff_entry(role, email=f"{role.value}@hospital.example") for role in ADDRESSABLE_ROLES]
    without_board = [entry for entry in entries if entry["roles"] != [Role.DSMB.value]]
    with pytest.raises(StaffDirectoryError) as refused:
        directory_of(without_board)
    assert refused.value.problems == [
        "no one holds the role 'dsmb': its notifications would reach nobody; add it to someone's roles"
    ]
    assert directory_of(entries).people_for(Role.DSMB)  # with the board's holder, the same directory is taken


def test_a_bad_directory_is_refused_naming_the_file_and_every_bad_entry(tmp_path: Path) -> None:
    path = tmp_path / "staff.toml"
    path.write_text(BAD_DIRECTORY)

    with pytest.raises(StaffDirectoryError) as refused:
        load_staff_directory(path)

    message = str(refused.value)
    assert message.startswith(f"invalid staff directory {path}:\n  ")
    roles = ", ".join(role.value for role in ADDRESSABLE_ROLES)
    nobody = "its notifications would reach nobody; add it to someone's roles"
    assert refused.value.problems == [
        "unknown section 'other' (expected 'staff' and 'escalation')",
        "staff entry 1 (id 'dr.li'): email[0]: 'not-an-address' is not an e-mail address (expected name@domain)",
        "staff entry 2 (id 'dr.li'): roles: 'system' is the workflow itself, not a role a person holds",
        "staff entry 2 (id 'dr.li'): webhooks[0]: http://chat.hospital.example must use https: messages would "
        "cross the network unencrypted (plain http is accepted only to this machine)",
        f"staff entry 3 (id 'ward'): roles[1]: 'wizard' is not a role a person holds (one of {roles})",
        "staff entry 3 (id 'ward'): has no channel: give at least one e-mail address (email) or webhook URL (webhooks)",
        "staff entry 4 (id 'pharmacy'): roles: pharmacy listed more than once",
        "staff entry 4 (id 'pharmacy'): pager: unknown field (expected id, display_name, roles, email, webhooks)",
        "staff entry 5: id: Field required",
        "id 'dr.li' is used by more than one entry (entries 1, 2): ids must be unique",
        f"no one holds the role 'research_coordinator': {nobody}",
        f"no one holds the role 'apheresis_unit': {nobody}",
        f"no one holds the role 'laboratory': {nobody}",
        f"no one holds the role 'supervisor': {nobody}",
        f"no one holds the role 'dsmb': {nobody}",
        f"escalation.nurse: 'system' is not a role a person holds (one of {roles})",
        f"escalation: 'janitor' is not a role a person holds (one of {roles})",
    ]
    assert "secret-token-123" not in message  # a webhook URL is a secret: never echoed


def test_a_role_held_only_by_an_otherwise_broken_entry_is_not_reported_missing_twice(tmp_path: Path) -> None:
    entries = [staff_entry(role, email=f"{role.value}@hospital.example") for role in ADDRESSABLE_ROLES]
    entries[0]["email"] = "broken"
    with pytest.raises(StaffDirectoryError) as refused:
        directory_of(entries)
    assert refused.value.problems == [
        "staff entry 1 (id 'research_coordinator.1'): email[0]: 'broken' is not an e-mail address "
        "(expected name@domain)"
    ]


def test_a_file_that_is_not_toml_or_not_there_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[[staff]]\nid = "dr.li\n')
    with pytest.raises(StaffDirectoryError, match=rf"invalid staff directory {broken}:\n  is not valid TOML: .*line 2"):
        load_staff_directory(broken)
    with pytest.raises(StaffDirectoryError, match="cannot be read: No such file"):
        load_staff_directory(tmp_path / "missing.toml")


def test_no_directory_means_the_log_channel_only(ledger: DeliveryLedger) -> None:
    directory = load_staff_directory(None)
    assert plan_deliveries(note(Role.INVESTIGATOR), directory) == []
    outcome = Notifier.log_only(ledger).deliver(note(Role.INVESTIGATOR))
    assert outcome.delivered and outcome.sent == () and outcome.failures == ()


def test_routing_sends_to_every_holder_of_the_role_on_each_channel_once() -> None:
    shared = "oncall@hospital.example"
    entries = [staff_entry(role, email=f"{role.value}@hospital.example") for role in ADDRESSABLE_ROLES]
    entries += [
        {"id": "dr.a", "roles": ["investigator"], "email": [shared], "webhooks": "https://chat.example/hooks/a"},
        {"id": "dr.b", "roles": ["investigator", "physician"], "email": shared},
    ]
    directory = directory_of(entries)

    planned = plan_deliveries(note(Role.INVESTIGATOR), directory)

    assert [(d.target.staff_id, d.channel, d.recipient) for d in planned] == [
        ("investigator.1", ChannelKind.EMAIL, "investigator@hospital.example"),
        ("dr.a", ChannelKind.EMAIL, shared),
        ("dr.a", ChannelKind.WEBHOOK, planned[2].recipient),
    ]
    webhook = planned[2]
    assert webhook.address == "https://chat.example/hooks/a"
    assert webhook.recipient.startswith("https://chat.example#") and "hooks" not in webhook.recipient
    assert "hooks/a" not in repr(webhook)  # the secret URL stays out of reprs and logs
    assert {d.target.notification_key for d in planned} == {"TF-001/3/investigator"}


def test_channels_the_directory_needs_must_be_configured(tmp_path: Path, ledger: DeliveryLedger) -> None:
    path = tmp_path / "staff.toml"
    path.write_text(EXAMPLE.read_text())
    with pytest.raises(NotificationConfigurationError) as refused:
        notifier_from_settings(load_settings(staff_directory=path), ledger)
    assert "set TRIALFLOW_SMTP_HOST" in str(refused.value)
    assert "set TRIALFLOW_WEBHOOK_SIGNING_KEY" in str(refused.value)

    configured = notifier_from_settings(
        load_settings(staff_directory=path, smtp_host="127.0.0.1", webhook_signing_key=SecretStr("k" * 32)), ledger
    )
    configured.close()


def test_the_worker_refuses_to_start_with_a_bad_directory(tmp_path: Path) -> None:
    path = tmp_path / "staff.toml"
    path.write_text(BAD_DIRECTORY)
    environment = {**os.environ, "TRIALFLOW_STAFF_DIRECTORY": str(path), "TRIALFLOW_DATA_DIR": str(tmp_path)}

    finished = subprocess.run(
        [sys.executable, "-m", "workers"], cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=120
    )

    assert finished.returncode == 2, finished.stderr
    assert f"error: invalid staff directory {path}:" in finished.stderr
    assert "staff entry 3 (id 'ward'): has no channel" in finished.stderr
