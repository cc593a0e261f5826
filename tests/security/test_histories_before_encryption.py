"""The journeys recorded before payload encryption (tests/histories, every payload in clear) still replay on a
worker that encrypts: switching encryption on does not strand a running patient's journey.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from security import PayloadKeyring, encrypted_data_converter, new_key
from workflows.patient_journey import PatientJourneyWorkflow

with workflow.unsafe.imports_passed_through():
    from tests.histories.generate import HISTORIES_DIR, scenario_of, workflow_id_of

HISTORY_FILES = sorted(HISTORIES_DIR.glob("*-run*.json"))
KEYRING = PayloadKeyring("k1", {"k1": base64.b64decode(new_key())})


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(workflow_id_of(scenario_of(path)), path.read_text())


def test_there_are_recorded_histories_in_clear() -> None:
    assert HISTORY_FILES
    assert all('"binary/encrypted"' not in path.read_text() for path in HISTORY_FILES)


@pytest.mark.parametrize("path", HISTORY_FILES, ids=[p.name for p in HISTORY_FILES])
async def test_a_history_from_before_encryption_replays_with_the_encrypting_converter(path: Path) -> None:
    replayer = Replayer(workflows=[PatientJourneyWorkflow], data_converter=encrypted_data_converter(KEYRING))
    await replayer.replay_workflow(load(path))  # raises if any payload could not be decoded


async def test_refusing_payloads_in_clear_would_strand_them() -> None:
    # Why the codec passes payloads in clear through: with `accept_unencrypted=False` the same replay fails.
    strict = encrypted_data_converter(KEYRING, accept_unencrypted=False)
    replayer = Replayer(workflows=[PatientJourneyWorkflow], data_converter=strict)
    result = await replayer.replay_workflow(load(HISTORY_FILES[0]), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "UnencryptedPayloadError" in str(result.replay_failure)
