"""The command registry: exactly the members of the command unions, roles for each, the protocol's signed steps,
help in one line, and units only on fields that hold a number."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from pydantic import BaseModel

from domain.journey import commands as cmd
from domain.journey.command_registry import (
    COMMANDS,
    STAFF_COMMAND_MODELS,
    STAFF_COMMANDS,
    SYSTEM_COMMANDS,
    CommandEntry,
    Signed,
)
from domain.journey.permissions import ALLOWED_ROLES, READ_ONLY_ROLES
from domain.roles import Role


def union_members(union: Any) -> set[type[BaseModel]]:
    return set(get_args(get_args(union)[0]))


def test_the_registry_holds_exactly_the_staff_and_system_commands() -> None:
    assert {entry.model for entry in STAFF_COMMANDS.values()} == union_members(cmd.StaffCommand)
    assert {entry.model for entry in SYSTEM_COMMANDS.values()} == union_members(cmd.SystemCommand)
    assert set(STAFF_COMMAND_MODELS) == union_members(cmd.StaffCommand)
    assert len(COMMANDS) == len(STAFF_COMMANDS) + len(SYSTEM_COMMANDS)
    for kind, entry in COMMANDS.items():
        assert entry.model.model_fields["kind"].default == kind


def test_roles_come_from_the_registry_and_only_the_workflow_issues_timer_commands() -> None:
    assert dict(ALLOWED_ROLES) == {kind: entry.roles for kind, entry in COMMANDS.items()}
    # Every system command is the workflow's own, but the trial's stop: the board member who signed it is its actor.
    assert all(entry.roles == {Role.SYSTEM} for kind, entry in SYSTEM_COMMANDS.items() if kind != "trial_stopped")
    assert SYSTEM_COMMANDS["trial_stopped"].roles == {Role.DSMB}
    assert all(entry.roles and Role.SYSTEM not in entry.roles for entry in STAFF_COMMANDS.values())
    assert {Role.SUPERVISOR, Role.DSMB} == READ_ONLY_ROLES  # the DSMB decides on the trial, never a journey step


def test_the_protocols_signed_steps_are_marked_and_a_condition_is_said_in_words() -> None:
    always = {kind for kind, entry in COMMANDS.items() if entry.signed is Signed.ALWAYS}
    assert always == {
        "correct_screening",
        "confirm_eligibility",
        "record_consent",
        "record_product_release",
        "record_infusion",
        "confirm_expedited_report",
        # The decisions on a product that left the protocol's chain of custody (a cold-chain excursion, a late
        # infusion after thawing) are signed like the product release they stand in for.
        "decide_temperature_excursion",
        "approve_late_infusion_after_thaw",
        # The family's answer to a protocol amendment is a consent, signed as the first one is.
        "record_reconsent",
    }
    sometimes = {kind: entry.signed_when for kind, entry in COMMANDS.items() if entry.signed is Signed.WHEN}
    corrected_only = {
        "record_apheresis",
        "record_manufacturing_failure",
        "record_custody_hand_off",
        "prescribe_lymphodepletion",
        "record_lymphodepletion_dose",
        "record_infusion_not_given",
        "record_fever_masking_dose",
        "record_chemotherapy_resumed",
        "withdraw_consent",
        "record_death",
        "record_lost_to_follow_up",
        "take_off_study",
    }
    assert set(sometimes) == {
        "assess_crs",
        "assess_icans",
        "record_adverse_event",
        "record_disease_assessment",
        "record_visit",
        *corrected_only,
    }
    assert all(sometimes[kind] == "it corrects an earlier entry" for kind in corrected_only)
    assert "3 or higher" in str(sometimes["assess_crs"]) and "serious" in str(sometimes["record_adverse_event"])
    assert "one-year" in str(sometimes["record_disease_assessment"])
    # Every correction is signed: each command that can carry one is signed always, or at least then.
    for kind, entry in COMMANDS.items():
        if "correction" in entry.model.model_fields and entry.signed is not Signed.ALWAYS:
            assert entry.signed is Signed.WHEN and "corrects an earlier entry" in str(entry.signed_when), kind
        if entry.signed is not Signed.WHEN:
            assert entry.signed_when is None, kind


def test_a_condition_is_given_exactly_when_a_step_is_signed_only_sometimes() -> None:
    with pytest.raises(ValueError, match="exactly when"):
        CommandEntry(cmd.RecordVisit, frozenset({Role.NURSE}), "Record a visit.", signed=Signed.WHEN)
    with pytest.raises(ValueError, match="exactly when"):
        CommandEntry(cmd.RecordVisit, frozenset({Role.NURSE}), "Record a visit.", signed_when="always")


def test_each_help_is_one_plain_sentence() -> None:
    for kind, entry in COMMANDS.items():
        assert entry.help.endswith(".") and "\n" not in entry.help and len(entry.help) <= 120, kind
        assert "_" not in entry.help, kind  # words, not field names


def _leaf(model: type[BaseModel], path: str) -> Any:
    """The type a dotted path reaches: an optional value's type, a list's item type."""
    annotation: Any = model
    for part in path.split("."):
        annotation = annotation.model_fields[part.removesuffix("[]")].annotation
        annotation = next(a for a in get_args(annotation) or (annotation,) if a is not type(None))
    return annotation


def test_units_name_numeric_fields_of_their_command() -> None:
    assert STAFF_COMMANDS["record_product_release"].units["total_viable_car_cells"] == "cells"
    assert STAFF_COMMANDS["record_lymphodepletion_dose"].units["dose_mg"] == "mg"
    assert STAFF_COMMANDS["assess_crs"].units["findings.max_temperature_c"] == "°C"
    for kind, entry in COMMANDS.items():
        for path in entry.units:
            assert _leaf(entry.model, path) in (int, float), f"{kind}: {path}"


def test_roles_by_a_field_value_cover_every_value_and_make_up_the_entrys_roles() -> None:
    ruled = [entry for entry in COMMANDS.values() if entry.roles_by is not None]
    assert [entry.kind for entry in ruled] == ["record_custody_hand_off"]
    for entry in ruled:
        by = entry.roles_by
        assert by is not None
        values = set(get_args(entry.model.model_fields[by.field].annotation))
        assert set(by.roles) == values == set(by.actions), entry.kind
        assert frozenset().union(*by.roles.values()) == entry.roles, entry.kind
