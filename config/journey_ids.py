"""The journey's names on the Temporal server: its task queue and each patient's workflow id."""

from __future__ import annotations

from typing import Final

WORKFLOW_ID_PREFIX: Final = "patient-journey-"
TASK_QUEUE: Final = "trialflow-journeys"


def journey_workflow_id(study_id: str) -> str:
    """Derived from the study id only: workflow ids are never encrypted, so they never carry PHI."""
    return f"{WORKFLOW_ID_PREFIX}{study_id}"
