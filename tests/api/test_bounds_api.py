"""Bounds before acceptance, through the API on the dev server (findings 3 of issue 14): every typed field is refused
past its length or with a control character, every problem named, with the limit or the rule; the schema shows
them; and the largest command the models allow is recorded, far below Temporal's payload limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from domain.free_text import (
    ADVERSE_EVENT_TERM_MAX_LENGTH,
    FREE_TEXT_MAX_LENGTH,
    FREE_TEXT_PATTERN,
    LABEL_MAX_LENGTH,
    LABEL_PATTERN,
    LABEL_RULE,
)
from domain.roles import Role
from tests.api.conftest import Api, as_role, with_signature
from tests.api.test_api import assert_problem, enrolled, enrollment_body, record
from tests.domain.largest_commands import WIDEST, largest_commands
from tests.facade.journeys import infused, today

COORDINATOR, CELL_LAB, PHYSICIAN, SUPERVISOR = (
    as_role(Role.RESEARCH_COORDINATOR),
    as_role(Role.CELL_LAB),
    as_role(Role.PHYSICIAN),
    as_role(Role.SUPERVISOR),
)


async def test_an_over_long_lot_number_and_a_control_character_are_each_named_with_the_limit_or_rule(api: Api) -> None:
    await enrolled(api, "AB-1001")
    before = (await api.http.get("/patients/AB-1001/timeline", headers=SUPERVISOR)).json()
    body = {
        "kind": "record_product_release",
        "product_label_coi": "COI-AB1001\x07",
        "lot_number": "L" * (LABEL_MAX_LENGTH + 1),
        "total_viable_car_cells": 2e8,
        "released_on": today().isoformat(),
    }
    problem = assert_problem(await record(api, "AB-1001", body, CELL_LAB), 422, "invalid-input")
    assert problem["reasons"] == [
        f"product_label_coi: {LABEL_RULE} (found U+0007)",
        f"lot_number: must have at most {LABEL_MAX_LENGTH} characters",
    ]
    assert (await api.http.get("/patients/AB-1001/timeline", headers=SUPERVISOR)).json() == before


async def test_an_enrollment_with_a_huge_regimen_is_refused_and_nothing_is_started(api: Api) -> None:
    body = enrollment_body("AB-1002")
    body["screening"]["regimen"] = "CCCG-ALL " * 20_000  # 180 kB: what the finding's 1 MB did, under any body limit
    problem = assert_problem(await api.http.post("/patients", json=body, headers=COORDINATOR), 422, "invalid-input")
    assert problem["reasons"] == ["screening.regimen: must have at most 64 characters"]
    assert (await api.http.get("/patients/AB-1002", headers=SUPERVISOR)).status_code == 404


async def test_the_schema_shows_every_typed_fields_length_and_characters(api: Api) -> None:
    schemas = (await api.http.get("/openapi.json")).json()["components"]["schemas"]
    release = schemas["RecordProductReleaseRequest"]["properties"]
    assert release["lot_number"]["maxLength"] == LABEL_MAX_LENGTH
    assert release["lot_number"]["pattern"] == LABEL_PATTERN
    take_off = schemas["TakeOffStudyRequest"]["properties"]["reason"]
    assert (take_off["maxLength"], take_off["pattern"]) == (FREE_TEXT_MAX_LENGTH, FREE_TEXT_PATTERN)


def request_body(command: dict[str, Any]) -> dict[str, Any]:
    """A command as the API takes it: who acts and the signature come from the credential and the PIN."""
    return {k: v for k, v in command.items() if k not in ("actor", "signature")}


async def test_the_largest_adverse_event_correction_is_recorded(api: Api) -> None:
    """The largest kind of command there is (an adverse event corrected: its term and the correction's reason at
    their limits, in four-byte characters), recorded on the dev server and read back whole."""
    study_id = "AB-1003"
    await infused(api.stack.trial, study_id)
    first = {
        "kind": "record_adverse_event",
        "adverse_event": {
            "term": "Febrile neutropenia",
            "ctcae_grade": 2,
            "serious": False,
            "related_to_car_t": "possible",
            "onset_date": today().isoformat(),
        },
    }
    recorded = await record(api, study_id, first, PHYSICIAN)
    assert recorded.status_code == 200, recorded.text
    [entry] = recorded.json()["events"]

    largest = request_body(largest_commands()["record_adverse_event"].model_dump(mode="json"))
    # Aware now, written in the widest offset (+14:00): a time as long as the schema's largest, and not before onset.
    aware = datetime.now(UTC).astimezone(timezone(timedelta(hours=14))).replace(microsecond=999_999)
    largest["adverse_event"] |= {"onset_date": today().isoformat(), "ctcae_grade": 4, "aware_at": aware.isoformat()}
    largest["correction"]["supersedes_sequence"] = entry["sequence"]
    corrected = await record(api, study_id, with_signature(largest), PHYSICIAN)
    assert corrected.status_code == 200, corrected.text

    [correction] = [e for e in api.stack.store.events_for(study_id) if e.payload.get("supersedes") == entry["sequence"]]
    assert correction.reason == WIDEST * FREE_TEXT_MAX_LENGTH
    assert correction.payload["adverse_event"]["term"] == WIDEST * ADVERSE_EVENT_TERM_MAX_LENGTH
