"""GET /trial and POST /trial/dsmb-decisions: the DSMB's decision is signed with the member's PIN, taken only from
the DSMB and only on a paused trial, and reopens enrollment."""

from __future__ import annotations

import uuid
from typing import Any

from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from domain.statistics import evaluate_stopping_rule
from tests.api.conftest import SIGNING_PIN, Api, as_role
from tests.facade.journeys import GRADE_3_CRS, infused
from tests.waiting import poll


def decision(**overrides: Any) -> dict[str, Any]:
    return {
        "decision_id": f"DSMB-{uuid.uuid4().hex[:8]}",
        "outcome": "resume",
        "rationale": "Both events reviewed; resume with a weekly safety review.",
        "signature": {"pin": SIGNING_PIN},
        **overrides,
    }


async def test_the_dsmb_resumes_a_paused_trial_with_a_signed_decision(api: Api) -> None:
    early = await api.http.post("/trial/dsmb-decisions", json=decision(), headers=as_role(Role.DSMB))
    assert early.status_code == 409, early.text
    assert "not paused: there is nothing to resume" in " ".join(early.json()["reasons"])

    await infused(api.stack.trial, "TF-601", GRADE_3_CRS)
    await infused(api.stack.trial, "TF-602", GRADE_3_CRS)

    async def paused() -> dict[str, Any] | None:
        answer = await api.http.get("/trial", headers=as_role(Role.SUPERVISOR))
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body if body["enrollment"] == "paused" else None

    status = await poll(paused, "GET /trial shows the pause")
    assert status["more_dlts_to_pause"] == 0 and status["evaluable"] == ["TF-601", "TF-602"]
    # The posterior the API answers is the domain's computation for the same counts, to the last bit.
    expected = evaluate_stopping_rule(2, 2, PROTOCOL_V1.stopping_rule).posterior_probability
    rule = status["stopping_rule"]
    assert (rule["toxicities"], rule["patients"], rule["posterior_probability"]) == (2, 2, expected)

    by_investigator = await api.http.post("/trial/dsmb-decisions", json=decision(), headers=as_role(Role.INVESTIGATOR))
    assert by_investigator.status_code == 409
    assert "only the data and safety monitoring board decides" in by_investigator.json()["reasons"][0]
    wrong_pin = decision(signature={"pin": "0000-0000"})
    refused = await api.http.post("/trial/dsmb-decisions", json=wrong_pin, headers=as_role(Role.DSMB))
    assert refused.status_code == 403 and "wrong" in refused.text

    resumed = await api.http.post("/trial/dsmb-decisions", json=decision(), headers=as_role(Role.DSMB))
    assert resumed.status_code == 200, resumed.text
    body = resumed.json()
    assert body["enrollment"] == "open"
    [made] = body["decisions"]
    assert (made["outcome"], made["decided_by"]) == ("resume", "dsmb.api")
