"""ReconciliationWorkflow, the timer safety net started by a Temporal Schedule: compares each unfinished journey
with what its trial record says it must show by now, and tells supervisors of each disagreement once (stable keys)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.journey_activities import EscalationRequest, JourneyActivities
    from activities.reconciliation import ReconcileJourneyInput, ReconcileJourneyResult, ReconciliationActivities
    from activities.record_checkpoint import CheckpointActivities, CheckpointInput, CheckpointResult
    from domain.identifiers import StudyId
    from domain.journey.notifications import Notification, Urgency
    from domain.journey.reconciliation import Mismatch, MismatchKind, mismatch, supervisor_alert
    from domain.protocol import FrozenModel
    from workflows.patient_journey import (
        ESCALATE_RETRY,
        IMMEDIATE_NOTIFY_RETRY,
        NOTIFY_RETRY,
        NOTIFY_TIMEOUT,
        undelivered_because,
    )

RECONCILIATION_INTERVAL = timedelta(hours=1)
# Journeys checked at once: each check is a describe, a query and a read of one patient's record.
RECONCILE_CONCURRENCY = 8
READ_TIMEOUT = timedelta(minutes=2)
# A check that keeps failing is itself reported (NOT_RECONCILED), rather than holding up the other patients.
READ_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(seconds=30), maximum_attempts=5
)
# Histories of reconciliations begun before checkpoints were written replay without one.
CHECKPOINT_PATCH = "record-checkpoint"
# Verifying every patient's chain and summary and asking every workflow: minutes for a large record, far below the
# reconciliation's interval.
CHECKPOINT_TIMEOUT = timedelta(minutes=15)


class ReconciliationInput(FrozenModel):
    study_ids: tuple[StudyId, ...] | None = None  # None: every unfinished journey in the trial record


class ReconciliationReport(FrozenModel):
    as_of: datetime
    journeys_checked: int
    mismatches: tuple[Mismatch, ...]
    alerted: tuple[str, ...]  # the alerts' keys, each handed to the notifier (which sends a key once)
    undelivered: tuple[str, ...] = ()  # alerts the notifier gave up on: escalated, and in the delivery ledger
    checkpoint: int | None = None  # the signed checkpoint written (security/checkpoints.py), if any
    checkpoint_problems: tuple[str, ...] = ()


@workflow.defn
class ReconciliationWorkflow:
    @workflow.run
    async def run(self, request: ReconciliationInput) -> ReconciliationReport:
        as_of = workflow.now()
        study_ids = request.study_ids
        if study_ids is None:
            listed = await workflow.execute_activity_method(
                ReconciliationActivities.journeys_to_reconcile,
                start_to_close_timeout=READ_TIMEOUT,
                retry_policy=READ_RETRY,
            )
            study_ids = listed.study_ids
        mismatches: list[Mismatch] = []
        for start in range(0, len(study_ids), RECONCILE_CONCURRENCY):
            batch = study_ids[start : start + RECONCILE_CONCURRENCY]
            for found in await asyncio.gather(*(self._reconcile(study_id, as_of) for study_id in batch)):
                mismatches.extend(found)
        checkpoint = await self._checkpoint(as_of) if workflow.patched(CHECKPOINT_PATCH) else None
        if checkpoint is not None:
            mismatches.extend(checkpoint.mismatches)
        alerts = list({m.key: supervisor_alert(m) for m in mismatches}.values())
        delivered = await asyncio.gather(*(self._alert(alert) for alert in alerts))
        if mismatches:
            workflow.logger.warning(
                "reconciliation: %d mismatches on %s",
                len(mismatches),
                ", ".join(sorted({m.study_id for m in mismatches})),
            )
        return ReconciliationReport(
            as_of=as_of,
            journeys_checked=len(study_ids),
            mismatches=tuple(mismatches),
            alerted=tuple(a.key for a in alerts),
            undelivered=tuple(a.key for a, ok in zip(alerts, delivered, strict=True) if not ok),
            checkpoint=checkpoint.checkpoint if checkpoint is not None else None,
            checkpoint_problems=checkpoint.problems if checkpoint is not None else (),
        )

    async def _checkpoint(self, as_of: datetime) -> CheckpointResult:
        """Every patient's record against its witnesses, then a signed checkpoint of their heads."""
        try:
            result: CheckpointResult = await workflow.execute_activity_method(
                CheckpointActivities.checkpoint_record,
                CheckpointInput(as_of=as_of),
                start_to_close_timeout=CHECKPOINT_TIMEOUT,
                retry_policy=READ_RETRY,
            )
        except ActivityError as failure:
            why = undelivered_because(failure)
            workflow.logger.error("reconciliation: no checkpoint (%s)", why)
            return CheckpointResult(checkpoint=None, patients=0, mismatches=(), problems=(f"no checkpoint: {why}",))
        return result

    async def _reconcile(self, study_id: str, as_of: datetime) -> tuple[Mismatch, ...]:
        try:
            result: ReconcileJourneyResult = await workflow.execute_activity_method(
                ReconciliationActivities.reconcile_journey,
                ReconcileJourneyInput(study_id=study_id, as_of=as_of),
                start_to_close_timeout=READ_TIMEOUT,
                heartbeat_timeout=READ_TIMEOUT,
                retry_policy=READ_RETRY,
            )
        except ActivityError as failure:
            why = undelivered_because(failure)
            detail = f"the reconciliation could not compare the journey with the trial record ({why})"
            return (mismatch(study_id, MismatchKind.NOT_RECONCILED, detail, [as_of.date().isoformat()]),)
        return result.mismatches

    async def _alert(self, alert: Notification) -> bool:
        """Through the journeys' own notify activity (ledger, channels, escalation); False when it gave up."""
        try:
            await workflow.execute_activity_method(
                JourneyActivities.notify,
                alert,
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=IMMEDIATE_NOTIFY_RETRY if alert.urgency is Urgency.IMMEDIATE else NOTIFY_RETRY,
            )
        except ActivityError as failure:
            request = EscalationRequest(notification=alert, failure=undelivered_because(failure))
            try:
                await workflow.execute_activity_method(
                    JourneyActivities.escalate_notification,
                    request,
                    start_to_close_timeout=NOTIFY_TIMEOUT,
                    retry_policy=ESCALATE_RETRY,
                )
            except ActivityError:  # on the log channel and in the ledger already: supervisors see it there
                workflow.logger.error("reconciliation alert %s was not delivered", alert.key)
            return False
        return True
