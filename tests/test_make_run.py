"""`make run` itself, as a new user runs it: it starts, enrolls a patient through the HTTP API, stops cleanly on
Ctrl-C, and after a second `make run` on the same data directory the patient is still there with its state."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from temporalio.client import Client

from config.journey_ids import journey_workflow_id
from domain.journey.phases import Phase
from domain.roles import Actor, Role
from security.token_file import DEFAULT_TOKEN_FILE_NAME, TokenFile
from tests.api.test_api import consent, enrollment_body
from tests.make_run import MakeRunSetup, make_run, printed_address
from tests.test_dev_server import LOOPBACK
from workers.dev_server import port_accepts_connections


async def test_make_run_keeps_a_patient_across_a_restart(tmp_path: Path) -> None:
    setup = MakeRunSetup.in_folder(tmp_path)
    # What `trial admin token new` writes: the running API reads the file.
    tokens = TokenFile(setup.data_dir / DEFAULT_TOKEN_FILE_NAME)
    coordinator = {"Authorization": "Bearer " + tokens.add(Actor(user_id="rc.zhao", role=Role.RESEARCH_COORDINATOR))}
    investigator_token = tokens.add(Actor(user_id="dr.li", role=Role.INVESTIGATOR), name="Li Ming, MD")
    investigator = {"Authorization": "Bearer " + investigator_token}
    signature = {"pin": "739164", "meaning": "author"}  # the investigator's signing PIN, set below

    async with make_run(setup) as lines:
        api = printed_address(lines, "HTTP API")
        assert api == f"http://{LOOPBACK}:{setup.api_port}"
        assert printed_address(lines, "Temporal Web UI") == f"http://{LOOPBACK}:{setup.ui_port}"
        async with httpx.AsyncClient(base_url=api, timeout=30) as http:
            # The web app's first page is the sign-in.
            assert printed_address(lines, "Web app") == f"{api}/"
            first = await http.get("/", follow_redirects=True)
            assert first.url.path == "/sign-in" and 'name="credential"' in first.text, first.text
            enrolled = await http.post("/patients", json=enrollment_body("MR-101"), headers=coordinator)
            assert enrolled.status_code == 201, enrolled.text
            pin = await http.put("/me/signing-pin", json={"new_pin": signature["pin"]}, headers=investigator)
            assert pin.status_code == 204, pin.text
            for body in ({"kind": "confirm_eligibility"}, consent()):
                signed = {**body, "signature": signature}
                recorded = await http.post("/patients/MR-101/commands", json=signed, headers=investigator)
                assert recorded.status_code == 200, recorded.text
            before = (await http.get("/patients/MR-101", headers=coordinator)).json()
        # Encrypted by default: Temporal's copy of the journey shows no patient data without the key.
        raw = await Client.connect(printed_address(lines, "Temporal gRPC"))
        history = (await raw.get_workflow_handle(journey_workflow_id("MR-101")).fetch_history()).to_json()
        date_of_birth = enrollment_body("MR-101")["screening"]["date_of_birth"]
        index = history.find(date_of_birth)
        assert index < 0, history[max(0, index - 3000) : index + 100]
        # The codec server decodes for staff with a token, for no one else.
        codec = printed_address(lines, "Codec server")
        payload = json.loads(history)["events"][0]["workflowExecutionStartedEventAttributes"]["input"]
        encoding = base64.b64decode(payload["payloads"][0]["metadata"]["encoding"])
        assert encoding == b"binary/encrypted"
        async with httpx.AsyncClient(base_url=codec, timeout=30) as http:
            assert (await http.post("/decode", json=payload)).status_code == 401
            decoded = await http.post("/decode", json=payload, headers=coordinator)
            assert decoded.status_code == 200, decoded.text
            assert date_of_birth in base64.b64decode(decoded.json()["payloads"][0]["data"]).decode()
        # The Web UI decodes through that codec server (`--ui-codec-endpoint`): the UI's own settings say so.
        async with httpx.AsyncClient(base_url=printed_address(lines, "Temporal Web UI"), timeout=30) as http:
            ui_settings = (await http.get("/api/v1/settings")).json()
        assert ui_settings["Codec"]["Endpoint"] == codec
    assert before["phase"] == Phase.APHERESIS
    # Stopped: nothing is left listening.
    for port in (setup.temporal_port, setup.ui_port, setup.api_port, setup.codec_port):
        assert not port_accepts_connections(LOOPBACK, port), port

    async with (
        make_run(setup) as lines,
        httpx.AsyncClient(base_url=printed_address(lines, "HTTP API"), timeout=30) as http,
    ):
        after = await http.get("/patients/MR-101", headers=coordinator)
        assert after.status_code == 200, after.text
        assert after.json() == before
        timeline = (await http.get("/patients/MR-101/timeline", headers=coordinator)).json()
        # Consent books the collection's slot (a system entry after it).
        assert [entry["type"] for entry in timeline["entries"]][-3:] == [
            "eligibility_confirmed",
            "consent_signed",
            "slot_booked",
        ]
        # The journey goes on where it stood: the step already recorded is refused.
        again = await http.post(
            "/patients/MR-101/commands", json={**consent(), "signature": signature}, headers=investigator
        )
        assert again.status_code == 409, again.text
        listed = (await http.get("/patients", params={"phase": "apheresis"}, headers=coordinator)).json()
        assert [patient["study_id"] for patient in listed] == ["MR-101"]
