"""One patient's whole journey through the HTTP API against a real dev server and worker, entered late from
paper records: enrolled, every staff step from consent to the one-year marrow recorded with each role's own token,
then the status, the list by phase, the timeline and the report read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from tests.api.conftest import USERS, Api, as_role, with_signature
from tests.facade.late_journey import late_journey
from tests.waiting import poll

STUDY_ID = "AP-2001"


async def test_a_whole_journey_recorded_through_the_api_reads_back_whole(api: Api) -> None:
    enrollment, steps = late_journey(STUDY_ID, datetime.now(UTC))
    coordinator = as_role(Role.RESEARCH_COORDINATOR)
    body = {"study_id": STUDY_ID, "screening": enrollment.screening.model_dump(mode="json")}
    enrolled = await api.http.post("/patients", json=body, headers=coordinator)
    assert enrolled.status_code == 201, enrolled.text

    for step in steps:
        command = with_signature(step.model_dump(mode="json", exclude={"actor", "signature"}))
        answer = await api.http.post(
            f"/patients/{STUDY_ID}/commands", json=command, headers=as_role(step.actor.role), timeout=60
        )
        assert answer.status_code == 200, f"{step.kind}: {answer.text}"
        assert {event["actor"]["user_id"] for event in answer.json()["events"]} == {USERS[step.actor.role]}

    supervisor = as_role(Role.SUPERVISOR)
    status = (await api.http.get(f"/patients/{STUDY_ID}", headers=supervisor)).json()
    assert status["phase"] == Phase.FOLLOW_UP and status["primary_endpoint"] == "cr"
    assert status["highest_crs_grade"] == 1 and status["highest_icans_grade"] == 0
    kinds = {step.kind for step in steps}
    assert {"record_infusion", "assess_crs", "record_disease_assessment", "record_visit"} <= kinds

    timeline = (await api.http.get(f"/patients/{STUDY_ID}/timeline", headers=supervisor)).json()["entries"]
    assert [entry["sequence"] for entry in timeline] == list(range(1, len(timeline) + 1))
    staff_entries = [entry for entry in timeline if entry["actor_role"] != Role.SYSTEM.value]
    assert len(staff_entries) >= len(steps) + 1  # the enrollment, then each step (some record two events)
    # Entered late, each visit was first marked missed by the workflow's timers, then done by its date.
    past = [visit for visit in status["visits"] if visit["status"] != "not_yet_open"]
    assert past and all(visit["status"] == "done_in_window" for visit in past), past
    # Daily CRS/ICANS monitoring is in the status day by day; long over, none of its items is still due.
    until = PROTOCOL_V1.safety.daily_toxicity_assessment_until_day
    assert [day["day_number"] for day in status["daily_monitoring"]] == list(range(until + 1))
    assert {day["crs"] for day in status["daily_monitoring"]} <= {"done", "missed"}
    assert not [item for item in status["due"] if item["code"].startswith(("CRS-D", "ICANS-D"))]

    async def listed() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = (await api.http.get("/patients?phase=follow_up", headers=supervisor)).json()
        return rows if STUDY_ID in {row["study_id"] for row in rows} else None

    await poll(listed, f"{STUDY_ID} listed in follow-up")
    report = (await api.http.get("/report", headers=supervisor)).json()
    for analysis in ("intention_to_treat", "per_protocol"):
        endpoint = report["primary_endpoint"][analysis]
        assert endpoint["complete_responses"] >= 1 and endpoint["assessed"] >= 1
    assert report["secondary_endpoints"]["overall_survival"]["patients"] >= 1
    assert report["toxicity"] and report["stopping_rule"]["paused"] is False
