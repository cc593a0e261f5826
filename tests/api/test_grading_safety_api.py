"""Through the API (issue 16): the old "fever masked" box is refused with what to do instead; a dose recorded by the
bedside staff masks the fever of the CRS check after it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from domain.roles import Role
from tests.api.conftest import Api, as_role, with_signature
from tests.api.test_api import SUPERVISOR, assert_problem
from tests.facade.journeys import infused, since

NURSE = as_role(Role.NURSE)


async def post(api: Api, study_id: str, body: dict[str, Any]) -> httpx.Response:
    return await api.http.post(f"/patients/{study_id}/commands", json=with_signature(body), headers=NURSE)


def crs(assessed_at: datetime, **extra: Any) -> dict[str, Any]:
    findings = {
        "max_temperature_c": 37.1,
        "hypotension": True,
        "vasopressors_excluding_vasopressin": 0,
        "vasopressin": False,
        "oxygen": "none",
        **extra,
    }
    return {"kind": "assess_crs", "assessed_at": assessed_at.isoformat(), "findings": findings}


async def test_the_fever_masked_box_is_refused_and_a_recorded_dose_masks_instead(api: Api) -> None:
    given_at, boxed_at, assessed_at = since(await infused(api.stack.trial, "GS-1601"), 3)
    boxed = await post(api, "GS-1601", crs(boxed_at, fever_masked_by_treatment=True))
    problem = assert_problem(boxed, 422, "invalid-input")
    assert problem["reasons"] == [
        "findings: 'fever masked' is no longer ticked by hand: it follows from the tocilizumab or corticosteroid "
        "doses recorded before the assessment, so record the dose (record-fever-masking-dose: drug, dose, time "
        "given) and leave fever_masked_by_treatment out"
    ]

    dose = {"kind": "record_fever_masking_dose", "drug": "tocilizumab", "dose_mg": 8, "given_at": given_at.isoformat()}
    given = await post(api, "GS-1601", dose)
    assert given.status_code == 200, given.text
    assessed = await post(api, "GS-1601", crs(assessed_at))
    assert assessed.status_code == 200, assessed.text
    [event] = assessed.json()["events"]
    assert event["payload"]["grade"] == 2
    assert event["payload"]["reasons"][0].startswith("fever masked by tocilizumab 8 mg given")
    status = (await api.http.get("/patients/GS-1601", headers=SUPERVISOR)).json()
    assert status["worst_crs"]["grade"] == 2 and status["worst_crs"]["reasons"] == event["payload"]["reasons"]
