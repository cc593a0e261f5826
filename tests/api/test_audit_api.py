"""`GET /patients/{study_id}/audit`: the patient's trail from the trial record as JSON lines or CSV (Accept or
?format=), every event with its hashes (an auditor recomputes the chain from the export) and the refused attempts;
an unknown patient is 404, a role that may not read patient data 403, an unoffered media type 406."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest_asyncio

from api.codec_server import PHI_READER_ROLES
from api.problems import PROBLEM_MEDIA_TYPE
from domain.roles import Role
from facade.audit import AUDIT_READER_ROLES
from tests.api.conftest import USERS, Api, as_role, with_signature
from tests.facade.audit_check import chain_problems_in_export, csv_rows, jsonl_rows
from tests.facade.journeys import enrollment, today
from tests.waiting import poll

COORDINATOR, INVESTIGATOR, NURSE, SUPERVISOR = (
    as_role(Role.RESEARCH_COORDINATOR),
    as_role(Role.INVESTIGATOR),
    as_role(Role.NURSE),
    as_role(Role.SUPERVISOR),
)
STUDY = "AA-1001"


async def post(api: Api, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    response = await api.http.post(path, json=with_signature(body), headers=headers)
    assert response.status_code in (200, 201), response.text


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def withdrawn(api: Api) -> str:
    """Enrolled, confirmed, consented, one refused attempt, then consent withdrawn with the family's reason."""
    body = {"study_id": STUDY, "screening": enrollment(STUDY).screening.model_dump(mode="json")}
    await post(api, "/patients", body, COORDINATOR)
    commands = f"/patients/{STUDY}/commands"
    await post(api, commands, {"kind": "confirm_eligibility"}, INVESTIGATOR)
    consent = {
        "kind": "record_consent",
        "guardian_consent_signed_on": today().isoformat(),
        "consent_form_version": "ICF v2.1",
        "child_assent_obtained": True,
    }
    refused = await api.http.post(commands, json=consent, headers=NURSE)
    assert refused.status_code == 403, refused.text
    await post(api, commands, consent, INVESTIGATOR)
    withdrawal = {"kind": "withdraw_consent", "withdrawn_on": today().isoformat(), "reason": "the family moved abroad"}
    await post(api, commands, withdrawal, INVESTIGATOR)

    async def recorded() -> bool | None:
        timeline = (await api.http.get(f"/patients/{STUDY}/timeline", headers=SUPERVISOR)).json()
        return True if any(e["type"] == "consent_withdrawn" for e in timeline["entries"]) else None

    await poll(recorded, "the withdrawal recorded")
    return STUDY


async def audit(api: Api, study_id: str, headers: dict[str, str] | None = None, **params: str) -> httpx.Response:
    return await api.http.get(f"/patients/{study_id}/audit", headers={**SUPERVISOR, **(headers or {})}, params=params)


async def test_the_trail_as_json_lines_names_who_when_what_and_why_and_verifies(api: Api, withdrawn: str) -> None:
    response = await audit(api, withdrawn)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["content-disposition"] == f'attachment; filename="audit-{withdrawn}.jsonl"'
    rows = jsonl_rows(response.text)
    events = [row for row in rows if row["entry"] == "event"]

    assert [row["sequence"] for row in events] == list(range(1, len(events) + 1))
    assert chain_problems_in_export(rows) == []
    assert (await api.http.get("/verify", headers=SUPERVISOR)).json()["problems"] == []
    who = {(row["event_type"], row["actor_user_id"]) for row in events}
    assert ("consent_signed", USERS[Role.INVESTIGATOR]) in who
    [withdrawal] = [row for row in events if row["event_type"] == "consent_withdrawn"]
    assert withdrawal["reason"] == "the family moved abroad" and withdrawal["actor_role"] == "investigator"
    assert withdrawal["occurred_at"].endswith("Z") and len(withdrawal["hash"]) == 64

    [refused] = [row for row in rows if row["entry"] == "refused_attempt"]
    assert rows[-1] == refused
    assert (refused["actor_user_id"], refused["refused_command"], refused["refusal"]) == (
        USERS[Role.NURSE],
        "record_consent",
        "forbidden",
    )


async def test_csv_by_accept_header_or_format_parameter_carries_the_same_rows(api: Api, withdrawn: str) -> None:
    as_jsonl = jsonl_rows((await audit(api, withdrawn)).text)
    by_accept = await audit(api, withdrawn, {"Accept": "application/json;q=0.5, text/csv"})
    by_param = await audit(api, withdrawn, {"Accept": "application/x-ndjson"}, format="csv")
    for response in (by_accept, by_param):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        assert response.headers["content-disposition"].endswith('.csv"')
        assert csv_rows(response.text) == as_jsonl
    ndjson = await audit(api, withdrawn, {"Accept": "text/csv;q=0.1, application/x-ndjson"})
    assert jsonl_rows(ndjson.text) == as_jsonl


async def test_every_refusal_is_problem_details(api: Api, withdrawn: str) -> None:
    def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        problem: dict[str, Any] = response.json()
        assert problem["type"].endswith("/" + code)
        return problem

    unknown = assert_problem(await audit(api, "AA-9999"), 404, "unknown-patient")
    assert "no patient with study id AA-9999" in unknown["detail"]
    assert_problem(await audit(api, withdrawn, {"Accept": "text/html"}), 406, "not-acceptable")
    bad = assert_problem(await audit(api, withdrawn, format="xml"), 422, "invalid-input")
    assert any(reason.startswith("query parameter format") for reason in bad["reasons"]), bad
    assert_problem(await audit(api, "not an id"), 422, "invalid-input")
    pharmacy = await api.http.get(f"/patients/{withdrawn}/audit", headers=as_role(Role.PHARMACY))
    assert "may not export" in assert_problem(pharmacy, 403, "forbidden")["detail"]
    assert_problem(await api.http.get(f"/patients/{withdrawn}/audit"), 401, "unauthenticated")


async def test_a_refused_enrollment_alone_is_a_trail_of_its_own(api: Api) -> None:
    """A study id whose only entry is a refused attempt is not unknown to an auditor."""
    screened = enrollment("AA-1002", screened_on=today() + timedelta(days=3)).screening.model_dump(mode="json")
    refused = await api.http.post("/patients", json={"study_id": "AA-1002", "screening": screened}, headers=NURSE)
    assert refused.status_code == 403, refused.text
    rows = jsonl_rows((await audit(api, "AA-1002")).text)
    assert [(row["entry"], row["refused_command"], len(row["refusal_reasons"])) for row in rows] == [
        ("refused_attempt", "enroll_patient", 2)
    ]


def test_the_roles_that_may_export_a_trail_are_those_that_may_decode_patient_data() -> None:
    assert AUDIT_READER_ROLES == PHI_READER_ROLES
