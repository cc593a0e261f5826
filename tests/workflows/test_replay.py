"""Recorded journeys replay against today's PatientJourneyWorkflow: a change that would break running patients fails.

The histories are in tests/histories (README.md there: how and when to regenerate them, and why never to make
a failing replay pass by regenerating).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from workers.workflow_runner import workflow_runner
from workflows.patient_journey import PatientJourneyWorkflow
from workflows.trial_workflow import TrialWorkflow

# The sandbox re-imports this module for the workflow variants below: the models and the generator (which reaches
# the record's database code) come in from outside it, as in the workflow module itself. Imported inside the
# sandbox instead, the models would be second copies that pydantic refuses ("valid instance of Event").
with workflow.unsafe.imports_passed_through():
    from domain.journey.events import Event
    from tests.histories.generate import (
        HISTORIES_DIR,
        SCENARIOS,
        TRIAL_PREFIX,
        TRIAL_SCENARIOS,
        scenario_of,
        workflow_id_of,
    )
    from workflows.journey_messages import JourneyInput, JourneySummary

HISTORY_FILES = sorted(p for p in HISTORIES_DIR.glob("*-run*.json") if not p.name.startswith(TRIAL_PREFIX))
TRIAL_HISTORY_FILES = sorted(HISTORIES_DIR.glob(f"{TRIAL_PREFIX}*-run*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(workflow_id_of(scenario_of(path)), path.read_text())


def replayer(*workflows: type) -> Replayer:
    # The worker's own runner (workers/workflow_runner.py): the histories must replay as the worker runs them.
    return Replayer(
        workflows=list(workflows), data_converter=pydantic_data_converter, workflow_runner=workflow_runner()
    )


def last_event_type(history: WorkflowHistory) -> str:
    return history.events[-1].WhichOneof("attributes") or ""


@pytest.mark.parametrize("path", HISTORY_FILES, ids=[p.name for p in HISTORY_FILES])
async def test_a_recorded_run_replays_on_the_current_workflow(path: Path) -> None:
    await replayer(PatientJourneyWorkflow).replay_workflow(load(path))  # raises on any nondeterminism


@pytest.mark.parametrize("path", TRIAL_HISTORY_FILES, ids=[p.name for p in TRIAL_HISTORY_FILES])
async def test_a_recorded_run_of_the_trial_replays_on_the_current_trial_workflow(path: Path) -> None:
    await replayer(TrialWorkflow).replay_workflow(load(path))


def test_the_trial_is_recorded_where_a_scenario_reports_to_it() -> None:
    """Each scenario that reports to the trial has the trial's history too, its run still open (a trial runs on);
    the files kept from before a change guard the trials running then."""
    recorded = {scenario_of(p).removeprefix(TRIAL_PREFIX) for p in TRIAL_HISTORY_FILES}
    assert recorded == set(TRIAL_SCENARIOS)
    for path in TRIAL_HISTORY_FILES:
        assert last_event_type(load(path)) == "workflow_task_completed_event_attributes"


def test_every_scenario_is_recorded_run_by_run_to_its_end() -> None:
    runs: dict[str, list[Path]] = {}
    for path in HISTORY_FILES:
        runs.setdefault(scenario_of(path), []).append(path)
    assert set(runs) == set(SCENARIOS)
    assert len(runs["full-journey"]) >= 4  # continued-as-new at each follow-up era and each year
    for scenario, paths in runs.items():
        assert [p.name for p in paths] == [f"{scenario}-run{n:02d}.json" for n in range(1, len(paths) + 1)]
        histories = [load(p) for p in paths]
        # No run missing or stale: each but the last continued as new, the last one closed the journey.
        assert [last_event_type(h) for h in histories[:-1]] == [
            "workflow_execution_continued_as_new_event_attributes"
        ] * (len(paths) - 1)
        assert last_event_type(histories[-1]) == "workflow_execution_completed_event_attributes"


# A deliberately broken release, kept to prove the replay tests can fail: registered under the real workflow's
# name, it waits one second before every append to the trial record, so its first command is a timer where the
# recorded history has the append_events activity. Running patients would be stuck on exactly this error.
@workflow.defn(name="PatientJourneyWorkflow")
class UnpatchedTimerBeforeRecording(PatientJourneyWorkflow):
    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneySummary:
        return await super().run(journey)

    async def _record(self, events: tuple[Event, ...]) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super()._record(events)


# The same change made the safe way: histories recorded before the patch keep their old command sequence.
@workflow.defn(name="PatientJourneyWorkflow")
class PatchedTimerBeforeRecording(PatientJourneyWorkflow):
    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneySummary:
        return await super().run(journey)

    async def _record(self, events: tuple[Event, ...]) -> None:
        if workflow.patched("wait-before-recording"):
            await workflow.sleep(timedelta(seconds=1))
        await super()._record(events)


async def test_an_unpatched_change_to_the_command_sequence_is_caught() -> None:
    history = load(HISTORIES_DIR / "screen-failure-run01.json")
    # The SDK core's message names what the history holds where the new code issued its timer.
    expected = r"\[TMPRL1100\] Nondeterminism error: Timer machine does not handle this event: .*ActivityTaskScheduled"
    with pytest.raises(NondeterminismError, match=expected) as failure:
        await replayer(UnpatchedTimerBeforeRecording).replay_workflow(history)
    assert type(failure.value) is NondeterminismError  # temporalio.workflow's, not a generic RuntimeError


async def test_the_same_change_behind_workflow_patched_replays() -> None:
    for path in (HISTORIES_DIR / "screen-failure-run01.json", HISTORIES_DIR / "crs-death-run02.json"):
        await replayer(PatchedTimerBeforeRecording).replay_workflow(load(path))
