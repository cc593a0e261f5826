"""The journey's names on the Temporal server: its task queue and each patient's workflow id."""

from __future__ import annotations

from typing import Final

WORKFLOW_ID_PREFIX: Final = "patient-journey-"
TASK_QUEUE: Final = "trialflow-journeys"
# The append to the trial record, as histories name it: the trial client reads the enrollment's there.
APPEND_EVENTS_ACTIVITY: Final = "append_events"


def journey_workflow_id(study_id: str) -> str:
    """Derived from the study id only: workflow ids are never encrypted, so they never carry PHI."""
    return f"{WORKFLOW_ID_PREFIX}{study_id}"


def study_id_of(workflow_id: str) -> str | None:
    """The study id a journey's workflow id names; None for another workflow's id."""
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX) if workflow_id.startswith(WORKFLOW_ID_PREFIX) else None


TRIAL_WORKFLOW_ID_PREFIX: Final = "trial-"


def trial_workflow_id(trial_identifier: str, task_queue: str = TASK_QUEUE) -> str:
    """One TrialWorkflow per trial, named by the protocol's trial identifier; a worker on another task queue (a test's,
    a demo's) has a trial of its own, so its journeys never count in the site's."""
    scope = "" if task_queue == TASK_QUEUE else f"@{task_queue}"
    return f"{TRIAL_WORKFLOW_ID_PREFIX}{trial_identifier}{scope}"
