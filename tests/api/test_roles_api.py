"""Role rules through the HTTP API: a role refusal is 403 problem details naming every reason (a state conflict
stays 409), a supervisor reads but never writes, and every refused attempt shows in the patient's audit trail."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx

from api.problems import PROBLEM_MEDIA_TYPE
from domain.roles import Role
from domain.site_time import site_date
from simulation import journey_steps as path
from simulation.journey_steps import Milestone, PathPatient, entered_late, send
from tests.api.conftest import USERS, Api, as_role, with_signature
from tests.facade.infusion_ready import ready_for_infusion
from tests.facade.journeys import RULES, enrollment

NURSE, PHYSICIAN, SUPERVISOR, INVESTIGATOR = (
    as_role(Role.NURSE),
    as_role(Role.PHYSICIAN),
    as_role(Role.SUPERVISOR),
    as_role(Role.INVESTIGATOR),
)
APHERESIS, CELL_LAB_HEADERS = as_role(Role.APHERESIS_UNIT), as_role(Role.CELL_LAB)


def problem_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem: dict[str, Any] = response.json()
    assert problem["type"].endswith("/" + code) and problem["reasons"]
    return problem


def infusion_body(fields: dict[str, Any]) -> dict[str, Any]:
    return with_signature({"kind": "record_infusion", **fields, "infused_at": fields["infused_at"].isoformat()})


async def refused_attempts(api: Api, study_id: str) -> list[dict[str, Any]]:
    response = await api.http.get(f"/patients/{study_id}/audit", headers=SUPERVISOR)
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines()]
    return [line for line in lines if line["entry"] == "refused_attempt"]


async def test_a_nurse_recording_an_infusion_is_403_with_the_reason_and_a_physician_then_may(api: Api) -> None:
    fields = await ready_for_infusion(api.stack.trial, "RA-1001")
    path = "/patients/RA-1001/commands"

    refused = await api.http.post(path, json=infusion_body(fields), headers=NURSE)
    problem = problem_of(refused, 403, "forbidden")
    assert problem["title"] == "Not allowed for this role"
    assert problem["reasons"] == ["a nurse cannot record infusion; this must be done by a physician or an investigator"]

    accepted = await api.http.post(path, json=infusion_body(fields), headers=PHYSICIAN)
    assert accepted.status_code == 200, accepted.text

    [attempt] = await refused_attempts(api, "RA-1001")
    assert attempt["actor_user_id"] == USERS[Role.NURSE] and attempt["actor_role"] == "nurse"
    assert attempt["refused_command"] == "record_infusion" and attempt["refusal"] == "forbidden"
    assert attempt["refusal_reasons"] == problem["reasons"]
    assert attempt["sequence"] is None and attempt["hash"] is None  # outside the hash chain


async def test_a_supervisor_may_write_nothing_and_each_attempt_is_kept(api: Api) -> None:
    body = {"study_id": "RA-1002", "screening": enrollment("RA-1002").screening.model_dump(mode="json")}
    problem = problem_of(await api.http.post("/patients", json=body, headers=SUPERVISOR), 403, "forbidden")
    assert problem["detail"] == "a supervisor can read the trial record but not write to it"
    assert (await api.http.get("/patients/RA-1002", headers=SUPERVISOR)).status_code == 404  # nothing started

    await api.stack.trial.enroll(enrollment("RA-1002"))
    for command in ({"kind": "confirm_eligibility"}, {"kind": "take_off_study", "reason": "monitor's decision"}):
        response = await api.http.post("/patients/RA-1002/commands", json=command, headers=SUPERVISOR)
        problem_of(response, 403, "forbidden")
    assert (await api.http.get("/patients/RA-1002", headers=SUPERVISOR)).json()["phase"] == "screening"

    attempts = await refused_attempts(api, "RA-1002")
    assert [(a["refused_command"], a["actor_role"]) for a in attempts] == [
        ("enroll_patient", "supervisor"),
        ("confirm_eligibility", "supervisor"),
        ("take_off_study", "supervisor"),
    ]
    # The reason the supervisor typed is not kept: only the protocol's sentences are.
    assert "monitor's decision" not in json.dumps(attempts)


async def test_a_state_conflict_stays_409_and_is_kept_as_command_refused(api: Api) -> None:
    await api.stack.trial.enroll(enrollment("RA-1003"))
    confirm = with_signature({"kind": "confirm_eligibility"})
    first = await api.http.post("/patients/RA-1003/commands", json=confirm, headers=INVESTIGATOR)
    assert first.status_code == 200, first.text
    again = await api.http.post("/patients/RA-1003/commands", json=confirm, headers=INVESTIGATOR)
    problem = problem_of(again, 409, "command-refused")
    [attempt] = await refused_attempts(api, "RA-1003")
    assert attempt["refusal"] == "command_refused" and attempt["refusal_reasons"] == problem["reasons"]


async def test_a_custody_hand_off_by_a_role_not_allowed_for_its_step_is_403_with_the_plain_reason(api: Api) -> None:
    trial = api.stack.trial
    day_zero = site_date(datetime.now(UTC), RULES)  # collected weeks ago, in manufacturing now
    steps = entered_late(Milestone.COLLECTED, PathPatient(study_id="RA-1004"), day_zero)
    await trial.enroll(enrollment("RA-1004", site_date(steps[0].at, RULES)))
    await send(steps, partial(trial.record, "RA-1004"))
    at = steps[-1].at + timedelta(hours=1)
    label = path.chain_of_identity(PathPatient(study_id="RA-1004"))
    path_ = "/patients/RA-1004/commands"

    def hand_off(step: str, minutes: int) -> dict[str, Any]:
        moment = (at + timedelta(minutes=minutes)).isoformat()
        return {"kind": "record_custody_hand_off", "step": step, "at": moment, "product_label_coi": label}

    # The apheresis unit may ship the cells, but only the cell lab receives them at the manufacturer.
    shipped = await api.http.post(path_, json=hand_off("shipped_to_manufacturer", 0), headers=APHERESIS)
    assert shipped.status_code == 200, shipped.text
    refused = await api.http.post(path_, json=hand_off("received_by_manufacturer", 5), headers=APHERESIS)
    problem = problem_of(refused, 403, "forbidden")
    assert problem["reasons"] == [
        "the apheresis unit cannot record the cells received by the manufacturer; this must be done by the cell lab"
    ]
    by_nurse = await api.http.post(path_, json=hand_off("received_by_manufacturer", 5), headers=NURSE)
    assert problem_of(by_nurse, 403, "forbidden")["reasons"] == [
        "a nurse cannot record the cells received by the manufacturer; this must be done by the cell lab"
    ]
    received = await api.http.post(path_, json=hand_off("received_by_manufacturer", 5), headers=CELL_LAB_HEADERS)
    assert received.status_code == 200, received.text
    attempts = await refused_attempts(api, "RA-1004")
    assert [(a["actor_role"], a["refusal"]) for a in attempts] == [
        ("apheresis_unit", "forbidden"),
        ("nurse", "forbidden"),
    ]
