"""The journeys recorded before payload encryption (tests/histories, every payload in clear) still replay with the
replay-only converter (security/data_converter.py, `replay_data_converter`), which reads payloads in clear; a worker's
converter refuses them, so that anyone who reaches Temporal cannot hand a journey a command.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from security import PayloadKeyring, encrypted_data_converter, new_key, replay_data_converter
from workflows.patient_journey import PatientJourneyWorkflow
from workflows.trial_workflow import TrialWorkflow

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
async def test_a_history_from_before_encryption_replays_with_the_replay_converter(path: Path) -> None:
    # The journeys' histories and the trial's (tests/histories: the trial- files).
    workflows = [PatientJourneyWorkflow, TrialWorkflow]
    replayer = Replayer(workflows=workflows, data_converter=replay_data_converter(KEYRING))
    await replayer.replay_workflow(load(path))  # raises if any payload could not be decoded


async def test_the_converter_of_workers_and_clients_refuses_them() -> None:
    # Why the replayer has its own converter: with the one workers use, the start input in clear is refused, the
    # workflow fails at once where the recorded run went on.
    replayer = Replayer(workflows=[PatientJourneyWorkflow], data_converter=encrypted_data_converter(KEYRING))
    # A first run (its start input is the enrollment in clear), recorded before encryption.
    result = await replayer.replay_workflow(load(HISTORIES_DIR / "crs-death-run01.json"), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "Fail workflow" in str(result.replay_failure)
