"""A stand-in for a patient's journey workflow that answers its status query from a frozen status: what a journey
whose timers never fired would show. The reconciliation tests start it under a journey's workflow id."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from domain.journey.views import PatientStatus


@workflow.defn
class FrozenJourneyWorkflow:
    @workflow.init
    def __init__(self, status: PatientStatus) -> None:
        self._status = status

    @workflow.run
    async def run(self, status: PatientStatus) -> None:
        await workflow.wait_condition(lambda: False)  # until the test terminates it: it never wakes, like the bug

    @workflow.query
    def status(self) -> PatientStatus:
        return self._status
