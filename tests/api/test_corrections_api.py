"""Finding 8 against the dev server, through the HTTP API: a wrong dose and a wrong infusion time corrected (signed,
with a reason, superseding: the original kept, the status on the corrected value, the link in the timeline and the
audit export); a screen failure screened again under its study id; the report's screened, screen failure, enrolled
and infused counts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from config.journey_ids import journey_workflow_id
from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from domain.site_time import site_date
from tests.api.conftest import Api, as_role, with_signature
from tests.facade.journeys import SCREEN_FAILURE, enrollment, infused

REASON = "typed from the wrong line of the chart"
SUPERVISOR = as_role(Role.SUPERVISOR)


def _correction(event: dict[str, Any], kind: str, **changes: Any) -> dict[str, Any]:
    """The entry `event` recorded, as its step's body with `changes`, correcting it."""
    fields = {k: v for k, v in event["payload"].items() if k not in ("type", "supersedes")}
    return {
        "kind": kind,
        **fields,
        **changes,
        "correction": {"supersedes_sequence": event["sequence"], "reason": REASON},
    }


async def _events(api: Api, study_id: str) -> list[dict[str, Any]]:
    answer = await api.http.get(f"/patients/{study_id}/audit?format=jsonl", headers=as_role(Role.INVESTIGATOR))
    assert answer.status_code == 200, answer.text
    rows = [json.loads(line) for line in answer.text.splitlines() if line]
    return [
        {"sequence": r["sequence"], "type": r["event_type"], "reason": r["reason"], "payload": json.loads(r["payload"])}
        for r in rows
        if r["entry"] == "event"
    ]


async def test_a_wrong_dose_and_a_wrong_infusion_time_are_corrected_signed_and_superseding(api: Api) -> None:
    study_id = "AP-3001"
    await infused(api.stack.trial, study_id)
    events = await _events(api, study_id)
    dose = next(
        e for e in events if e["type"] == "lymphodepletion_dose_given" and e["payload"]["drug"] == "fludarabine"
    )
    pharmacy = as_role(Role.PHARMACY)
    corrected_mg = round(dose["payload"]["dose_mg"] * 0.98, 1)
    body = _correction(dose, "record_lymphodepletion_dose", dose_mg=corrected_mg)
    body.pop("prescribed_mg")  # the decider's, from the prescription

    unsigned = await api.http.post(f"/patients/{study_id}/commands", json=body, headers=pharmacy)
    assert unsigned.status_code == 409, unsigned.text
    assert any("it corrects an earlier entry" in r for r in unsigned.json()["reasons"])
    answer = await api.http.post(f"/patients/{study_id}/commands", json=with_signature(body), headers=pharmacy)
    assert answer.status_code == 200, answer.text
    [correction] = answer.json()["events"]
    assert correction["payload"]["supersedes"] == dose["sequence"] and correction["reason"] == REASON
    assert correction["signature"] is not None

    status = (await api.http.get(f"/patients/{study_id}", headers=SUPERVISOR)).json()
    assert f"fludarabine day {dose['payload']['day_number']}: {corrected_mg:g} mg" in status["doses_given"]

    infusion = next(e for e in events if e["type"] == "cells_infused")
    physician = as_role(Role.PHYSICIAN)
    recorded_at = infusion["payload"]["infused_at"]
    recorded = datetime.fromisoformat(recorded_at)
    earlier = recorded - timedelta(minutes=10)
    # Ten minutes earlier, on the same site day (else ten minutes later: an hour ago, never in the future).
    moved = (
        earlier
        if site_date(earlier, PROTOCOL_V1.schedule) == site_date(recorded, PROTOCOL_V1.schedule)
        else (recorded + timedelta(minutes=10))
    )
    fewer_cells = infusion["payload"]["cells_infused"] * 0.95
    body = {
        "kind": "record_infusion",
        "infused_at": moved.isoformat(),
        "product_label_coi": infusion["payload"]["chain_of_identity"],
        "cells_infused": fewer_cells,
        "active_uncontrolled_infection": False,
        "no_fever": True,
        "uncontrolled_crs_from_prior_therapy": False,
        "tocilizumab_doses_on_site": PROTOCOL_V1.infusion.min_tocilizumab_doses_on_site,
        "correction": {"supersedes_sequence": infusion["sequence"], "reason": REASON},
    }
    answer = await api.http.post(f"/patients/{study_id}/commands", json=with_signature(body), headers=physician)
    assert answer.status_code == 200, answer.text
    after = (await api.http.get(f"/patients/{study_id}", headers=SUPERVISOR)).json()
    assert after["cells_per_kg"] < status["cells_per_kg"] and after["phase"] == Phase.TOXICITY_OBSERVATION

    # Both entries stay, the correction linked to the original: in the timeline and in the audit export.
    timeline = (await api.http.get(f"/patients/{study_id}/timeline", headers=SUPERVISOR)).json()["entries"]
    links = {entry["sequence"]: entry["supersedes"] for entry in timeline if entry["supersedes"] is not None}
    assert sorted(links.values()) == [dose["sequence"], infusion["sequence"]]
    exported = await _events(api, study_id)
    assert exported[infusion["sequence"] - 1]["payload"]["infused_at"] == recorded_at  # never overwritten
    [corrected] = [e for e in exported if e["payload"].get("supersedes") == infusion["sequence"]]
    assert datetime.fromisoformat(corrected["payload"]["infused_at"]) == moved and corrected["reason"] == REASON


async def test_a_screen_failure_is_screened_again_under_its_study_id_and_the_report_counts_apart(api: Api) -> None:
    study_id = "AP-3002"
    coordinator = as_role(Role.RESEARCH_COORDINATOR)

    def body(**overrides: Any) -> dict[str, Any]:
        screening = enrollment(study_id, **overrides).screening
        return {"study_id": study_id, "screening": screening.model_dump(mode="json")}

    failed = await api.http.post("/patients", json=body(**SCREEN_FAILURE), headers=coordinator)
    assert failed.status_code == 201 and failed.json()["eligible"] is False
    await api.stack.temporal.get_workflow_handle(journey_workflow_id(study_id)).result()
    before = (await api.http.get("/report", headers=SUPERVISOR)).json()["enrollment"]

    again = await api.http.post("/patients", json=body(), headers=coordinator)
    assert again.status_code == 201, again.text
    assert (again.json()["screening_attempt"], again.json()["phase"], again.json()["eligible"]) == (
        2,
        "screening",
        True,
    )
    twice = await api.http.post("/patients", json=body(), headers=coordinator)
    assert twice.status_code == 409 and f"{study_id} is already enrolled" in twice.json()["reasons"][0]

    confirmed = await api.http.post(
        f"/patients/{study_id}/commands",
        json=with_signature({"kind": "confirm_eligibility"}),
        headers=as_role(Role.INVESTIGATOR),
    )
    assert confirmed.status_code == 200, confirmed.text
    timeline = (await api.http.get(f"/patients/{study_id}/timeline", headers=SUPERVISOR)).json()["entries"]
    assert [e["type"] for e in timeline] == [
        "patient_enrolled",
        "eligibility_assessed",
        "screen_failed",
        "patient_enrolled",
        "eligibility_assessed",
        "eligibility_confirmed",
    ]
    after = (await api.http.get("/report", headers=SUPERVISOR)).json()["enrollment"]
    # The same patient: screened once more, no longer a screen failure, now enrolled; never infused.
    assert after["screened"] == before["screened"]
    assert after["screening_attempts"] == before["screening_attempts"] + 1
    assert after["screen_failures"] == before["screen_failures"] - 1
    assert after["enrolled"] == before["enrolled"] + 1 and after["infused"] == before["infused"]
    # The new run witnesses the same chain: the record verifies against the journey's workflow.
    verified = (await api.http.get("/verify", headers=SUPERVISOR)).json()
    assert [p for p in verified["problems"] if p["study_id"] == study_id] == [], verified
    assert any("workflow" in witness for witness in verified["witnesses"]), verified
