"""Idempotency-Key against the dev server, as draft-ietf-httpapi-idempotency-key-header says: the same key and request
are answered as the first time and recorded once; the same key with another request is 422 and records nothing (the
issue's fever sent under a reused key); while the first is running, 409; keys are each user's own, down to the
journey's update ids; enrollment too."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from api import create_app
from domain.roles import Role
from facade import TrialClient
from tests.api.conftest import Api, as_role, authenticator, with_signature
from tests.api.test_api import COORDINATOR, INVESTIGATOR, SUPERVISOR, assert_problem, consent, enrolled, enrollment_body
from tests.facade.journeys import infused, since, today
from workflows.journey_messages import RecordResult

PHYSICIAN = as_role(Role.PHYSICIAN)


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def post(api: Api, study_id: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    return await api.http.post(f"/patients/{study_id}/commands", json=with_signature(body), headers=headers)


async def event_types(api: Api, study_id: str) -> list[str]:
    timeline = (await api.http.get(f"/patients/{study_id}/timeline", headers=SUPERVISOR)).json()
    return [entry["type"] for entry in timeline["entries"]]


def crs(temperature: float, assessed_at: datetime) -> dict[str, Any]:
    findings = {
        "max_temperature_c": temperature,
        "hypotension": False,
        "vasopressors_excluding_vasopressin": 0,
        "vasopressin": False,
        "oxygen": "none",
    }
    return {"kind": "assess_crs", "assessed_at": assessed_at.isoformat(), "findings": findings}


async def test_a_key_reused_for_another_assessment_is_refused_and_records_nothing(api: Api) -> None:
    at, later = since(await infused(api.stack.trial, "IK-1001"), 2)
    first = await post(api, "IK-1001", crs(38.2, at), keyed(PHYSICIAN, "crs-IK-1001"))
    assert first.status_code == 200, first.text
    again = await post(api, "IK-1001", crs(38.2, at), keyed(PHYSICIAN, "crs-IK-1001"))
    assert (again.status_code, again.content) == (200, first.content)  # the first answer, byte for byte

    fever = await post(api, "IK-1001", crs(39.5, later), keyed(PHYSICIAN, "crs-IK-1001"))
    problem = assert_problem(fever, 422, "idempotency-key-reused")
    assert "this Idempotency-Key was used for a different request" in problem["detail"]
    assert (await event_types(api, "IK-1001")).count("crs_assessed") == 1

    # Under a key of its own the fever is recorded: nothing was lost, only refused.
    fever = await post(api, "IK-1001", crs(39.5, later), keyed(PHYSICIAN, "crs-IK-1001-b"))
    assert fever.status_code == 200, fever.text
    assert (await event_types(api, "IK-1001")).count("crs_assessed") == 2


async def test_two_users_equal_keys_never_meet_not_even_in_the_journeys_update_ids(api: Api) -> None:
    await enrolled(api, "IK-1002")
    shared = "our-first-key"
    confirmed = await post(api, "IK-1002", {"kind": "confirm_eligibility"}, keyed(INVESTIGATOR, shared))
    assert confirmed.status_code == 200, confirmed.text
    assert (await post(api, "IK-1002", consent(), INVESTIGATOR)).status_code == 200
    collected = {"kind": "record_apheresis", "collected_on": today().isoformat()}
    apheresis = await post(api, "IK-1002", collected, keyed(as_role(Role.APHERESIS_UNIT), shared))
    assert apheresis.status_code == 200, apheresis.text
    # Had the key been the update id, the journey would have answered the investigator's confirmation again.
    assert [event["payload"]["type"] for event in apheresis.json()["events"]] == ["apheresis_collected"]
    assert "apheresis_collected" in await event_types(api, "IK-1002")


async def test_enrollment_with_a_key_is_answered_again_and_started_once(api: Api) -> None:
    body = enrollment_body("IK-1003")
    first = await api.http.post("/patients", json=body, headers=keyed(COORDINATOR, "enroll-IK-1003"))
    again = await api.http.post("/patients", json=body, headers=keyed(COORDINATOR, "enroll-IK-1003"))
    assert first.status_code == again.status_code == 201, again.text
    assert first.content == again.content and again.headers["Location"] == "/patients/IK-1003"
    other = await api.http.post(
        "/patients", json=enrollment_body("IK-1004"), headers=keyed(COORDINATOR, "enroll-IK-1003")
    )
    assert_problem(other, 422, "idempotency-key-reused")
    assert (await api.http.get("/patients/IK-1004", headers=SUPERVISOR)).status_code == 404
    # Without a key, a second enrollment is what it always was: the study id is taken.
    assert_problem(await api.http.post("/patients", json=body, headers=COORDINATOR), 409, "already-enrolled")
    assert (await event_types(api, "IK-1003")).count("patient_enrolled") == 1


class _HeldTrialClient(TrialClient):
    """The stack's trial client, whose `record` waits until the test lets it go: a request truly in flight."""

    def __init__(self, stack_trial: TrialClient) -> None:
        self.__dict__.update(stack_trial.__dict__)
        self.entered = asyncio.Event()
        self.go_on = asyncio.Event()

    async def record(self, *args: Any, **kwargs: Any) -> RecordResult:
        self.entered.set()
        await self.go_on.wait()
        return await super().record(*args, **kwargs)


async def test_the_same_key_while_the_first_request_is_in_flight_is_a_conflict(api: Api) -> None:
    await enrolled(api, "IK-1005")
    held = _HeldTrialClient(api.stack.trial)
    app = create_app(held, authenticator())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://trialflow.test") as http:
        path, body = "/patients/IK-1005/commands", with_signature({"kind": "confirm_eligibility"})
        headers = keyed(INVESTIGATOR, "confirm-IK-1005")
        first = asyncio.create_task(http.post(path, json=body, headers=headers))
        await held.entered.wait()
        problem = assert_problem(await http.post(path, json=body, headers=headers), 409, "idempotency-key-in-flight")
        assert "still being processed" in problem["detail"]
        held.go_on.set()
        answered = await first
        assert answered.status_code == 200, answered.text
        again = await http.post(path, json=body, headers=headers)
        assert (again.status_code, again.content) == (200, answered.content)
    assert (await event_types(api, "IK-1005")).count("eligibility_confirmed") == 1


async def test_a_refused_request_keeps_no_answer_and_its_key_may_be_sent_again(api: Api) -> None:
    await enrolled(api, "IK-1006")
    headers = keyed(INVESTIGATOR, "consent-IK-1006")
    refused = await post(api, "IK-1006", consent(), headers)  # eligibility not confirmed yet
    assert_problem(refused, 409, "command-refused")
    assert (await post(api, "IK-1006", {"kind": "confirm_eligibility"}, INVESTIGATOR)).status_code == 200
    recorded = await post(api, "IK-1006", consent(), headers)
    assert recorded.status_code == 200, recorded.text
    assert (await event_types(api, "IK-1006")).count("consent_signed") == 1
