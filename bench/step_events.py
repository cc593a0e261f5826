"""What a recorded step leaves in Temporal's history, read back from a sample of the workflows a run measured.

The server's work grows with the events it writes (each a row in its history, many a task for matching, timers or
visibility). Counted by type over every run of each sampled workflow (a journey continues as new at infusion) and
divided by the updates they took, beside the same count for the floor: which commands a step costs beyond the
floor's update and activity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

# Workflows read back per kind: their histories are alike (the same path), so a few say what a step costs.
SAMPLED_WORKFLOWS = 5


@dataclass(frozen=True)
class StepEvents:
    """History events per update over the sampled workflows, in all and by event type (start included)."""

    workflows: int
    updates: int
    by_type: dict[str, int]

    @property
    def per_update(self) -> float | None:
        return sum(self.by_type.values()) / self.updates if self.updates else None

    def summary(self) -> dict[str, object]:
        per_update = {kind: count / self.updates for kind, count in self.by_type.items()} if self.updates else {}
        return {
            "workflows": self.workflows,
            "updates": self.updates,
            "events_per_update": self.per_update,
            "by_type_per_update": dict(sorted(per_update.items(), key=lambda item: -item[1])),
        }


def event_type_name(event_type: int) -> str:
    return EventType.Name(event_type).removeprefix("EVENT_TYPE_").lower()


async def step_events(client: Client, workflow_ids: Sequence[str], updates_per_workflow: int) -> StepEvents:
    """Every run of each workflow (listed by visibility, which holds closed runs too), its events counted by type."""
    counts: Counter[str] = Counter()
    for workflow_id in workflow_ids:
        async for run in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
            history = await client.get_workflow_handle(workflow_id, run_id=run.run_id).fetch_history()
            counts.update(event_type_name(event.event_type) for event in history.events)
    return StepEvents(len(workflow_ids), len(workflow_ids) * updates_per_workflow, dict(counts))
