"""The HTTP API end to end, in-process over ASGI, against a real dev server and worker: enroll, record, read,
list, report, verify; every refusal as problem details with every reason; who acts comes from the token only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from api import create_app
from api.problems import PROBLEM_MEDIA_TYPE
from domain.journey.phases import Phase
from domain.roles import Role
from facade import TrialClient
from records.deliveries import DeliveryLedger, DeliveryTarget
from tests.api.conftest import USERS, Api, as_role, authenticator, with_signature
from tests.facade.journeys import SCREEN_FAILURE, enrollment, site_tomorrow, today
from tests.waiting import poll

COORDINATOR, INVESTIGATOR, NURSE, SUPERVISOR = (
    as_role(Role.RESEARCH_COORDINATOR),
    as_role(Role.INVESTIGATOR),
    as_role(Role.NURSE),
    as_role(Role.SUPERVISOR),
)


def enrollment_body(study_id: str, **overrides: Any) -> dict[str, Any]:
    return {"study_id": study_id, "screening": enrollment(study_id, **overrides).screening.model_dump(mode="json")}


def consent(signed_on: str | None = None, assent: bool | None = True) -> dict[str, Any]:
    return {
        "kind": "record_consent",
        "guardian_consent_signed_on": signed_on or today().isoformat(),
        "consent_form_version": "ICF v2.1",
        "child_assent_obtained": assent,
    }


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].endswith("/" + code)
    assert problem["instance"] == response.request.url.path
    assert problem["title"] and problem["detail"] and problem["reasons"]
    return problem


async def enrolled(api: Api, study_id: str) -> None:
    response = await api.http.post("/patients", json=enrollment_body(study_id), headers=COORDINATOR)
    assert response.status_code == 201, response.text


async def record(api: Api, study_id: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    """Post `body`, signed with the tests' PIN when its step may be signed."""
    return await api.http.post(f"/patients/{study_id}/commands", json=with_signature(body), headers=headers)


# ---------------------------------------------------------------- service and authentication


async def test_health_needs_no_credential(api: Api) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_every_operation_needs_a_recognised_bearer_token(api: Api) -> None:
    operations = [
        ("POST", "/patients"),
        ("POST", "/patients/AP-1000/commands"),
        ("GET", "/patients/AP-1000"),
        ("GET", "/patients/AP-1000/timeline"),
        ("GET", "/patients"),
        ("GET", "/report"),
        ("GET", "/trial"),
        ("POST", "/trial/dsmb-decisions"),
        ("GET", "/verify"),
        ("GET", "/notifications/failed"),
        ("GET", "/slots"),
    ]
    for method, path in operations:
        for headers in ({}, {"Authorization": "Bearer not-a-configured-token"}, {"Authorization": "Basic eDp5"}):
            response = await api.http.request(method, path, headers=headers, json={})
            problem = assert_problem(response, 401, "unauthenticated")
            assert response.headers["www-authenticate"].startswith("Bearer")
            assert "Authorization: Bearer" in problem["detail"]


async def test_the_openapi_schema_documents_every_operation_and_problem_details(api: Api) -> None:
    schema = (await api.http.get("/openapi.json")).json()
    assert schema["info"]["title"] == "trialflow API" and schema["info"]["version"]
    assert set(schema["paths"]) == {
        "/healthz",
        "/auth/config",
        "/me",
        "/patients",
        "/patients/{study_id}",
        "/patients/{study_id}/commands",
        "/patients/{study_id}/timeline",
        "/patients/{study_id}/audit",
        "/me/signing-pin",
        "/report",
        "/trial",
        "/trial/dsmb-decisions",
        "/verify",
        "/notifications/failed",
        "/slots",
        "/exports/odm",
        "/exports/sdtm",
    }
    record_operation = schema["paths"]["/patients/{study_id}/commands"]["post"]
    assert record_operation["responses"]["409"]["content"] == {
        PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    }
    # The request bodies never carry who acts.
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            assert "actor" not in component.get("properties", {}), name
    assert {"EnrollmentResult", "PatientStatus", "Timeline", "TrialReport", "RecordResult"} <= set(
        schema["components"]["schemas"]
    )


# ---------------------------------------------------------------- enrollment


async def test_enroll_then_the_same_study_id_again_is_a_conflict(api: Api) -> None:
    response = await api.http.post("/patients", json=enrollment_body("AP-1001"), headers=COORDINATOR)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/patients/AP-1001"
    assert response.json()["eligible"] is True and response.json()["phase"] == Phase.SCREENING

    again = await api.http.post("/patients", json=enrollment_body("AP-1001"), headers=COORDINATOR)
    problem = assert_problem(again, 409, "already-enrolled")
    assert "AP-1001 is already enrolled" in problem["reasons"][0]


async def test_a_screen_failure_is_enrolled_with_every_failed_criterion(api: Api) -> None:
    response = await api.http.post("/patients", json=enrollment_body("AP-1002", **SCREEN_FAILURE), headers=COORDINATOR)
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["eligible"] is False and result["phase"] == Phase.OFF_STUDY
    assert len(result["failed_criteria"]) == 2


async def test_the_enrolling_user_is_the_tokens_never_the_bodys(api: Api) -> None:
    body = {**enrollment_body("AP-1003"), "actor": {"user_id": "someone.else", "role": "research_coordinator"}}
    refused = await api.http.post("/patients", json=body, headers=COORDINATOR)
    problem = assert_problem(refused, 422, "invalid-input")
    assert problem["reasons"] == ["actor: the acting user comes from the credential, never from the request body"]

    await enrolled(api, "AP-1003")

    async def entries() -> list[dict[str, Any]] | None:
        timeline = (await api.http.get("/patients/AP-1003/timeline", headers=SUPERVISOR)).json()
        return timeline["entries"] or None

    assert {entry["actor_user_id"] for entry in await poll(entries, "the enrollment recorded")} == {
        USERS[Role.RESEARCH_COORDINATOR]
    }


async def test_a_role_that_may_not_enroll_is_refused_with_every_reason(api: Api) -> None:
    future = today() + timedelta(days=2)
    response = await api.http.post("/patients", json=enrollment_body("AP-1004", screened_on=future), headers=NURSE)
    problem = assert_problem(response, 403, "forbidden")  # the role may not: 403, every reason still listed
    assert len(problem["reasons"]) == 2, problem
    assert any("nurse cannot enroll patient" in reason for reason in problem["reasons"])
    assert any("is in the future" in reason for reason in problem["reasons"])
    assert_problem(await api.http.get("/patients/AP-1004", headers=SUPERVISOR), 404, "unknown-patient")


async def test_a_supervisor_reads_but_may_not_write(api: Api) -> None:
    problem = assert_problem(
        await api.http.post("/patients", json=enrollment_body("AP-1005"), headers=SUPERVISOR), 403, "forbidden"
    )
    assert "supervisor can read" in problem["detail"]
    await enrolled(api, "AP-1005")
    assert_problem(await record(api, "AP-1005", {"kind": "confirm_eligibility"}, SUPERVISOR), 403, "forbidden")
    assert (await api.http.get("/patients/AP-1005", headers=SUPERVISOR)).status_code == 200


async def test_every_problem_with_an_enrollment_body_is_listed(api: Api) -> None:
    body = enrollment_body("AP-1006")
    body["study_id"] = "patient 6"
    body["screening"] |= {"performance_score": "high", "height_cm": -4}
    del body["screening"]["weight_kg"]
    problem = assert_problem(await api.http.post("/patients", json=body, headers=COORDINATOR), 422, "invalid-input")
    reasons = problem["reasons"]
    assert len(reasons) == 4, reasons
    assert any(r.startswith("study_id: study id 'patient 6' is not in the trial's format") for r in reasons)
    assert "screening.performance_score: must be a whole number" in reasons
    assert any(r.startswith("screening.height_cm: must be") for r in reasons)
    assert "screening.weight_kg: is required" in reasons
    # The input is never echoed: it may carry a birth date.
    assert body["screening"]["date_of_birth"] not in problem["detail"] + "".join(reasons)


async def test_an_enrollment_without_the_induction_results_is_refused_naming_both(api: Api) -> None:
    body = enrollment_body("AP-1016")
    del body["screening"]["b_all_diagnosis_confirmed"]
    del body["screening"]["end_of_induction_marrow_blasts_percent"]
    problem = assert_problem(await api.http.post("/patients", json=body, headers=COORDINATOR), 422, "invalid-input")
    assert sorted(problem["reasons"]) == [
        "screening.b_all_diagnosis_confirmed: is required",
        "screening.end_of_induction_marrow_blasts_percent: is required",
    ]
    assert (await api.http.get("/patients/AP-1016", headers=COORDINATOR)).status_code == 404


async def test_a_body_that_is_not_json_is_invalid_input(api: Api) -> None:
    response = await api.http.post(
        "/patients", content=b"{not json", headers={**COORDINATOR, "content-type": "application/json"}
    )
    assert assert_problem(response, 422, "invalid-input")["reasons"] == ["the request body is not valid JSON"]


# ---------------------------------------------------------------- staff commands


async def test_staff_record_steps_and_the_status_follows(api: Api) -> None:
    await enrolled(api, "AP-1010")
    confirmed = await record(api, "AP-1010", {"kind": "confirm_eligibility"}, INVESTIGATOR)
    assert confirmed.status_code == 200, confirmed.text
    [event] = confirmed.json()["events"]
    assert event["payload"]["type"] == "eligibility_confirmed"
    assert event["actor"] == {"user_id": USERS[Role.INVESTIGATOR], "role": "investigator"}
    assert (await record(api, "AP-1010", consent(), INVESTIGATOR)).status_code == 200
    collected = {"kind": "record_apheresis", "collected_on": today().isoformat()}
    assert (await record(api, "AP-1010", collected, as_role(Role.APHERESIS_UNIT))).status_code == 200

    status = (await api.http.get("/patients/AP-1010", headers=SUPERVISOR)).json()
    assert status["study_id"] == "AP-1010" and status["phase"] == Phase.MANUFACTURING
    timeline = (await api.http.get("/patients/AP-1010/timeline", headers=NURSE)).json()
    actors = [(entry["actor_user_id"], entry["actor_role"]) for entry in timeline["entries"]]
    assert (USERS[Role.INVESTIGATOR], "investigator") in actors
    assert (USERS[Role.APHERESIS_UNIT], "apheresis_unit") in actors

    # Consent booked the earliest free slot: the calendar and the status show its expected release.
    slots = (await api.http.get("/slots", headers=SUPERVISOR)).json()
    [booked] = [b for week in slots["weeks"] for b in week["bookings"] if b["study_id"] == "AP-1010"]
    assert status["collection_booked_on"] == booked["collection_date"]
    assert status["expected_release"] == booked["expected_release"]
    assert slots["capacity"] == {
        "collections_per_week": 2,
        "max_products_in_manufacturing": 3,
        "manufacturing_days": 12,
    }
    assert "AP-1010" in [b["study_id"] for b in slots["expected_releases"]]


async def test_a_refused_command_is_a_conflict_listing_every_reason(api: Api) -> None:
    await enrolled(api, "AP-1011")
    assert (await record(api, "AP-1011", {"kind": "confirm_eligibility"}, INVESTIGATOR)).status_code == 200
    before = (await api.http.get("/patients/AP-1011", headers=SUPERVISOR)).json()
    tomorrow = site_tomorrow().isoformat()

    response = await record(api, "AP-1011", consent(signed_on=tomorrow, assent=None), NURSE)

    problem = assert_problem(response, 403, "forbidden")  # a nurse may not record consent: 403, every reason listed
    reasons = problem["reasons"]
    assert len(reasons) == 3, reasons
    assert any(r.startswith("a nurse cannot record consent") for r in reasons)
    assert any(f"the consent date {tomorrow} is in the future" in r for r in reasons)
    assert any("the child's own assent is required from age 8" in r for r in reasons)
    assert all(reason in problem["detail"] for reason in reasons)
    assert (await api.http.get("/patients/AP-1011", headers=SUPERVISOR)).json() == before


async def test_the_actor_in_a_command_body_is_refused(api: Api) -> None:
    await enrolled(api, "AP-1012")
    body = {"kind": "confirm_eligibility", "actor": {"user_id": "investigator.real", "role": "investigator"}}
    problem = assert_problem(await record(api, "AP-1012", body, NURSE), 422, "invalid-input")
    assert problem["reasons"] == ["actor: the acting user comes from the credential, never from the request body"]


async def test_every_problem_with_a_command_body_is_listed(api: Api) -> None:
    body = {"kind": "record_consent", "guardian_consent_signed_on": "2026-02-30", "child_assent_obtained": "maybe"}
    problem = assert_problem(await record(api, "AP-1013", body, INVESTIGATOR), 422, "invalid-input")
    reasons = problem["reasons"]
    assert len(reasons) == 3, reasons
    assert any(r.startswith("guardian_consent_signed_on: must be a real date") for r in reasons)
    assert "consent_form_version: is required" in reasons
    assert "child_assent_obtained: must be true or false" in reasons

    unknown = assert_problem(
        await record(api, "AP-1013", {"kind": "enroll_patient"}, INVESTIGATOR), 422, "invalid-input"
    )
    assert unknown["reasons"][0].startswith("kind: must be one of: confirm_eligibility")
    missing = assert_problem(await record(api, "AP-1013", {}, INVESTIGATOR), 422, "invalid-input")
    assert missing["reasons"] == ["kind: is required (which command this is)"]


async def test_commands_for_a_patient_never_enrolled_or_a_malformed_id(api: Api) -> None:
    assert_problem(await record(api, "AP-1999", {"kind": "confirm_eligibility"}, INVESTIGATOR), 404, "unknown-patient")
    assert_problem(await api.http.get("/patients/AP-1999", headers=SUPERVISOR), 404, "unknown-patient")
    assert_problem(await api.http.get("/patients/AP-1999/timeline", headers=SUPERVISOR), 404, "unknown-patient")
    problem = assert_problem(await api.http.get("/patients/ap-1", headers=SUPERVISOR), 422, "invalid-input")
    assert problem["reasons"][0].startswith("path parameter study_id: study id 'ap-1' is not in the trial's format")


async def test_a_closed_journey_is_a_conflict(api: Api) -> None:
    await api.http.post("/patients", json=enrollment_body("AP-1014", **SCREEN_FAILURE), headers=COORDINATOR)

    async def closed() -> httpx.Response | None:
        response = await record(api, "AP-1014", {"kind": "confirm_eligibility"}, INVESTIGATOR)
        return response if "journey-closed" in response.json()["type"] else None

    problem = assert_problem(await poll(closed, "the screen failure's journey ends"), 409, "journey-closed")
    assert "AP-1014 has ended" in problem["detail"]


async def test_the_same_idempotency_key_is_answered_again_never_recorded_twice(api: Api) -> None:
    await enrolled(api, "AP-1015")
    key = {"Idempotency-Key": "confirm-AP-1015-1"}
    first = await record(api, "AP-1015", {"kind": "confirm_eligibility"}, {**INVESTIGATOR, **key})
    again = await record(api, "AP-1015", {"kind": "confirm_eligibility"}, {**INVESTIGATOR, **key})
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    timeline = (await api.http.get("/patients/AP-1015/timeline", headers=SUPERVISOR)).json()
    assert [entry["type"] for entry in timeline["entries"]].count("eligibility_confirmed") == 1

    bad_key = {**INVESTIGATOR, "Idempotency-Key": "no spaces allowed"}
    problem = assert_problem(await record(api, "AP-1015", consent(), bad_key), 422, "invalid-input")
    assert problem["reasons"][0].startswith("header idempotency-key:")


# ---------------------------------------------------------------- the trial


async def test_list_by_phase_report_and_verify(api: Api) -> None:
    await enrolled(api, "AP-1020")
    assert (await record(api, "AP-1020", {"kind": "confirm_eligibility"}, INVESTIGATOR)).status_code == 200

    async def listed_in_consent() -> list[dict[str, Any]] | None:
        response = await api.http.get("/patients", params={"phase": "consent"}, headers=SUPERVISOR)
        assert response.status_code == 200, response.text
        found = [listing for listing in response.json() if listing["study_id"] == "AP-1020"]
        return found or None

    [listing] = await poll(listed_in_consent, "AP-1020 listed in consent")
    assert listing["phase"] == Phase.CONSENT and listing["running"] is True
    filtered = await api.http.get(
        "/patients", params={"phase": "apheresis", "overdue": "false", "expedited_report_open": "false"}, headers=NURSE
    )
    assert all(item["phase"] == "apheresis" for item in filtered.json())
    bad = await api.http.get("/patients", params={"phase": "relapsed", "overdue": "perhaps"}, headers=SUPERVISOR)
    assert len(assert_problem(bad, 422, "invalid-input")["reasons"]) == 2

    report = await api.http.get("/report", headers=SUPERVISOR)
    assert report.status_code == 200, report.text
    enrollment_counts = report.json()["enrollment"]
    assert enrollment_counts["patients"] >= 1 and enrollment_counts["by_phase"]["consent"] >= 1
    endpoint = report.json()["primary_endpoint"]
    assert "cr_rate" in endpoint["intention_to_treat"] and "cr_rate" in endpoint["per_protocol"]
    assert report.json()["stopping_rule"] and report.json()["secondary_endpoints"]["event_free_survival"]

    verified = await api.http.get("/verify", headers=SUPERVISOR)
    assert verified.status_code == 200 and verified.json()["problems"] == []
    assert verified.json()["checked_events"] >= 2


async def test_an_unknown_route_or_method_is_a_problem_too(api: Api) -> None:
    assert_problem(await api.http.get("/nowhere", headers=SUPERVISOR), 404, "http-404")
    assert_problem(await api.http.delete("/report", headers=SUPERVISOR), 405, "http-405")


async def test_the_app_takes_a_factory_of_trial_clients_too(api: Api) -> None:
    made: list[int] = []

    async def factory() -> TrialClient:
        made.append(1)
        return api.stack.trial

    app = create_app(factory, authenticator())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://trialflow.test") as http:
        assert (await http.get("/report", headers=SUPERVISOR)).status_code == 200
        assert (await http.get("/healthz")).status_code == 200
    assert made == [1]  # asked for by the operation that needs it, not by the health check


async def test_supervisors_see_the_notifications_that_did_not_arrive(api: Api) -> None:
    ledger = DeliveryLedger(api.stack.store.engine)
    target = DeliveryTarget(
        notification_key="AP-1030/7/pharmacy",
        study_id="AP-1030",
        role="pharmacy",
        staff_id="ph.zhou",
        channel="email",
        recipient="pharmacy@hospital.example",
    )
    ledger.record_failure(target, "SMTP 451: try again later", permanent=False)
    elsewhere = target.model_copy(update={"notification_key": "AP-1031/2/nurse", "study_id": "AP-1031"})
    ledger.record_sent(elsewhere)

    response = await api.http.get("/notifications/failed", params={"study_id": "AP-1030"}, headers=SUPERVISOR)
    assert response.status_code == 200, response.text
    [failed] = response.json()
    assert failed["notification_key"] == "AP-1030/7/pharmacy" and failed["status"] == "failed"
    assert failed["last_error"] == "SMTP 451: try again later" and failed["escalated_at"] is None
    delivered = await api.http.get("/notifications/failed", params={"study_id": "AP-1031"}, headers=SUPERVISOR)
    assert delivered.json() == []
    assert_problem(
        await api.http.get("/notifications/failed", params={"study_id": "no id"}, headers=SUPERVISOR),
        422,
        "invalid-input",
    )
