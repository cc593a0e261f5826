"""`make run` itself, as a new user runs it: it starts, enrolls a patient through the HTTP API, stops cleanly on
Ctrl-C, and after a second `make run` on the same data directory the patient is still there with its state."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.token_file import DEFAULT_TOKEN_FILE_NAME, TokenFile
from domain.journey.phases import Phase
from domain.roles import Actor, Role
from tests.api.test_api import consent, enrollment_body
from tests.make_run import MakeRunSetup, make_run, printed_address
from tests.test_dev_server import LOOPBACK
from workers.dev_server import port_accepts_connections


async def test_make_run_keeps_a_patient_across_a_restart(tmp_path: Path) -> None:
    setup = MakeRunSetup.in_folder(tmp_path)
    # What `trial token new` writes: the running API reads the file.
    tokens = TokenFile(setup.data_dir / DEFAULT_TOKEN_FILE_NAME)
    coordinator = {"Authorization": "Bearer " + tokens.add(Actor(user_id="rc.zhao", role=Role.RESEARCH_COORDINATOR))}
    investigator = {"Authorization": "Bearer " + tokens.add(Actor(user_id="dr.li", role=Role.INVESTIGATOR))}

    async with make_run(setup) as lines:
        api = printed_address(lines, "HTTP API")
        assert api == f"http://{LOOPBACK}:{setup.api_port}"
        assert printed_address(lines, "Temporal Web UI") == f"http://{LOOPBACK}:{setup.ui_port}"
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            enrolled = await http.post("/patients", json=enrollment_body("MR-101"), headers=coordinator)
            assert enrolled.status_code == 201, enrolled.text
            for body in ({"kind": "confirm_eligibility"}, consent()):
                recorded = await http.post("/patients/MR-101/commands", json=body, headers=investigator)
                assert recorded.status_code == 200, recorded.text
            before = (await http.get("/patients/MR-101", headers=coordinator)).json()
    assert before["phase"] == Phase.APHERESIS
    # Stopped: nothing is left listening.
    for port in (setup.temporal_port, setup.ui_port, setup.api_port):
        assert not port_accepts_connections(LOOPBACK, port), port

    async with make_run(setup) as lines, httpx.AsyncClient(base_url=printed_address(lines, "HTTP API")) as http:
        after = await http.get("/patients/MR-101", headers=coordinator)
        assert after.status_code == 200, after.text
        assert after.json() == before
        timeline = (await http.get("/patients/MR-101/timeline", headers=coordinator)).json()
        assert [entry["type"] for entry in timeline["entries"]][-2:] == ["eligibility_confirmed", "consent_signed"]
        # The journey goes on where it stood: the step already recorded is refused.
        again = await http.post("/patients/MR-101/commands", json=consent(), headers=investigator)
        assert again.status_code == 409, again.text
        listed = (await http.get("/patients", params={"phase": "apheresis"}, headers=coordinator)).json()
        assert [patient["study_id"] for patient in listed] == ["MR-101"]
