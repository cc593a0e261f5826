"""Re-consent to amendment 1.1 through the API (docs/amendments.md): a signed step of the investigator's; accepted,
the patient's status shows 1.1 once the journey has moved them; unsigned, it is refused and nothing changes."""

from __future__ import annotations

from typing import Any

from domain.roles import Role
from tests.api.conftest import Api, as_role, with_signature
from tests.facade.journeys import to_apheresis, today
from tests.waiting import poll

SUPERVISOR = as_role(Role.SUPERVISOR)


def _reconsent(accepted: bool) -> dict[str, Any]:
    return {
        "kind": "record_reconsent",
        "protocol_version": "1.1",
        "accepted": accepted,
        "answered_on": today().isoformat(),
        "consent_form_version": "ICF v1.1",
    }


async def _version(api: Api, study_id: str) -> str:
    answer = await api.http.get(f"/patients/{study_id}", headers=SUPERVISOR)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["protocol_version"])


async def test_a_signed_reconsent_moves_the_patient_onto_1_1(api: Api) -> None:
    study_id = "AP-18001"
    await to_apheresis(api.stack.trial, study_id)
    url, investigator = f"/patients/{study_id}/commands", as_role(Role.INVESTIGATOR)

    unsigned = await api.http.post(url, json=_reconsent(True), headers=investigator)
    assert unsigned.status_code == 409, unsigned.text
    assert any("electronically signed" in reason for reason in unsigned.json()["reasons"])
    assert await _version(api, study_id) == "1.0"

    not_theirs = await api.http.post(url, json=with_signature(_reconsent(True)), headers=as_role(Role.NURSE))
    assert not_theirs.status_code == 403, not_theirs.text

    signed = await api.http.post(url, json=with_signature(_reconsent(True)), headers=investigator)
    assert signed.status_code == 200, signed.text

    async def moved() -> bool | None:
        return True if await _version(api, study_id) == "1.1" else None

    await poll(moved, "the patient moved onto 1.1")
    timeline = (await api.http.get(f"/patients/{study_id}/timeline", headers=SUPERVISOR)).json()["entries"]
    reconsent, change = timeline[-2:]
    assert (reconsent["type"], change["type"]) == ("reconsent_recorded", "protocol_version_changed")
    assert reconsent["signature"] is not None
    assert reconsent["details"] == [f"protocol 1.1 accepted on {today().isoformat()} (consent form ICF v1.1)"]
    assert change["details"] == ["now follows protocol 1.1 (was 1.0)"] and change["actor_role"] == "system"
