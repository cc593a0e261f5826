"""TrialWorkflow: one per trial, a thin shell around domain/trial. Journeys report to it (by signal, counted once
by event id), enrollment asks it for admission (an update), the DSMB's signed decision is an update; the rule is
evaluated at every report and whenever a patient's DLT observation window ends. When it fires, enrollment pauses
and the investigator, the supervisors and the DSMB are notified at once."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.journey_stopping import JourneyStopping, StopJourneyRequest
    from domain.journey.notifications import Notification
    from domain.protocol import CURRENT_PROTOCOL, PROTOCOLS, TrialProtocol
    from domain.trial.alerts import enrollment_paused_alerts
    from domain.trial.decide import (
        Outcome,
        admit_all,
        apply_report,
        decide,
        evaluate,
        lymphodepletion_refusal,
        rule_status,
    )
    from domain.trial.reports import DsmbDecision, DsmbOutcome, JourneyReport
    from domain.trial.state import TrialState
    from domain.trial.status import TrialStatus, trial_status
    from workflows.patient_journey import send_notification
    from workflows.trial_messages import (
        AdmissionBatch,
        AdmissionRequest,
        AdmissionResult,
        AdmissionResults,
        GateMemo,
        TrialInput,
    )

DSMB_DECISION_REFUSED = "DsmbDecisionRefused"
# The trial lives for years: a new run well before Temporal's limits, carrying the state (a few kB per patient).
MAX_HISTORY_EVENTS_PER_RUN = 2_000
MAX_RUN_AGE = timedelta(days=365)
# Trials stopped by the DSMB from this version on tell every journey still on study (earlier histories did not).
STOP_JOURNEYS_PATCH = "dsmb-stop-tells-journeys"
# The trial's own clock is the fallback for a window's end: each journey reports it at that very moment from its own
# timer. Waking a minute later, the trial never wakes on both at once; on the time-skipping server a report handled
# while the trial's timer fires under that task hangs the workflow (the server refuses the timer's cancel:
# temporalio/sdk-java#2606, #3088), which stalled the demo's clock.
FALLBACK_AFTER_REPORTS_PATCH = "trial-window-fallback-after-reports"
FALLBACK_AFTER_REPORTS = timedelta(minutes=1)
# The gate of every prescription and first dose reads why no new lymphodepletion may start from the trial's memo, by
# describing its workflow: the server answers from its own record of the run, without asking the worker. A query
# waits for the worker, which at 10,000 patients was busy folding reports, and the server refused the gate's queries
# ("consistent query buffer is full"). Published at each run's first workflow task and at every change, in the task
# that makes it; trials from before this version publish from their next workflow task on.
GATE_MEMO = "lymphodepletion_gate"
PUBLISH_GATE_PATCH = "trial-publishes-its-gate"
# Every journey must hear of the stop: keep trying while a journey, its worker or the server is away.
STOP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
STOP_TIMEOUT = timedelta(seconds=30)


@workflow.defn
class TrialWorkflow:
    @workflow.init
    def __init__(self, trial: TrialInput) -> None:
        self._state = trial.carried or TrialState(trial_identifier=trial.trial_identifier)
        self._accrual_target = trial.accrual_target_infused
        self._woken = False
        self._next_window_end: datetime | None = None  # the rule's next evaluation by the clock
        self._published_gate: GateMemo | None = None  # what this run last published; None: nothing yet
        self._notifications: set[asyncio.Task[None]] = set()
        self._stops: set[asyncio.Task[None]] = set()  # journeys being told the DSMB stopped the trial

    @property
    def _protocol(self) -> TrialProtocol:
        # The rule's numbers are the current protocol's, or an amendment's the DSMB resumed under.
        protocol = PROTOCOLS.get(self._state.protocol_version or "", CURRENT_PROTOCOL)
        if self._accrual_target is None:
            return protocol
        accrual = protocol.accrual.model_copy(update={"accrual_target_infused": self._accrual_target})
        return protocol.model_copy(update={"accrual": accrual})

    @workflow.run
    async def run(self, trial: TrialInput) -> None:
        while True:
            self._adopt(evaluate(self._state, workflow.now(), self._protocol))  # a window may have ended
            if self._time_for_a_new_run():
                await workflow.wait_condition(
                    lambda: workflow.all_handlers_finished() and not self._notifications and not self._stops
                )
                workflow.continue_as_new(
                    TrialInput(
                        trial_identifier=self._state.trial_identifier,
                        carried=self._state,
                        accrual_target_infused=self._accrual_target,
                    )
                )
            self._woken = False
            wake_at = self._next_window_end
            if wake_at is not None and workflow.patched(FALLBACK_AFTER_REPORTS_PATCH):
                wake_at += FALLBACK_AFTER_REPORTS
            timeout = None if wake_at is None else max((wake_at - workflow.now()).total_seconds(), 0.001)
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._woken or workflow.info().is_continue_as_new_suggested(), timeout=timeout
                )

    def _time_for_a_new_run(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= MAX_HISTORY_EVENTS_PER_RUN
            or workflow.now() - info.start_time >= MAX_RUN_AGE
        )

    def _adopt(self, outcome: Outcome) -> None:
        self._state = outcome.state
        self._next_window_end = outcome.next_window_end
        self._publish_gate()
        if outcome.paused_now and outcome.state.paused_at is not None:
            rule = rule_status(outcome.state, workflow.now(), self._protocol)
            for notification in enrollment_paused_alerts(self._state.trial_identifier, outcome.state.paused_at, rule):
                self._send(notification)

    # ------------------------------------------------------------ journeys report

    @workflow.signal
    def report(self, report: JourneyReport) -> None:
        self._adopt(apply_report(self._state, report, workflow.now(), self._protocol))
        self._woken = True  # a new pending patient may end its window before the current wake

    # ------------------------------------------------------------ enrollment asks first

    @workflow.update
    def admit(self, request: AdmissionRequest) -> AdmissionResult:
        [result] = self._admit((request.study_id,))
        return result

    def _admit(self, study_ids: tuple[str, ...]) -> tuple[AdmissionResult, ...]:
        self._state, answers = admit_all(self._state, study_ids, workflow.now(), self._protocol)
        return tuple(
            AdmissionResult(study_id=study_id, admitted=not reasons, reasons=tuple(reasons))
            for study_id, reasons in zip(study_ids, answers, strict=True)
        )

    @admit.validator
    def validate_admit(self, request: AdmissionRequest) -> None:
        """Nothing of its own: the worker's seal check (workers/command_seals.py) runs in the validator, and only
        updates that have one reach it."""

    @workflow.update
    def admit_all(self, batch: AdmissionBatch) -> AdmissionResults:
        """Each admission of the batch as `admit` decides it, one after another: a place taken by one is gone for
        the next."""
        return AdmissionResults(results=self._admit(batch.study_ids))

    @admit_all.validator
    def validate_admit_all(self, batch: AdmissionBatch) -> None:
        """The seal check runs here (see validate_admit)."""

    # ------------------------------------------------------------ the DSMB

    @workflow.update
    def dsmb_decision(self, decision: DsmbDecision) -> TrialStatus:
        recorded_before = len(self._state.decisions)
        self._state, reasons = decide(self._state, decision, workflow.now(), self._protocol)
        if reasons:
            raise ApplicationError("; ".join(reasons), list(reasons), type=DSMB_DECISION_REFUSED, non_retryable=True)
        stopped_now = decision.outcome is DsmbOutcome.STOP and len(self._state.decisions) > recorded_before
        if stopped_now and workflow.patched(STOP_JOURNEYS_PATCH):
            self._tell_journeys_stopped(decision)
        self._woken = True
        self._publish_gate()
        return self.status()

    def _publish_gate(self) -> None:
        gate = GateMemo(refused_because=lymphodepletion_refusal(self._state))
        if gate != self._published_gate and workflow.patched(PUBLISH_GATE_PATCH):
            workflow.upsert_memo({GATE_MEMO: gate})
            self._published_gate = gate

    def _tell_journeys_stopped(self, decision: DsmbDecision) -> None:
        """Every admitted patient still on study hears of the stop, attributed to the member who signed it."""
        for study_id in sorted(sid for sid, p in self._state.patients.items() if p.exited_at is None):
            request = StopJourneyRequest(study_id=study_id, decision_id=decision.decision_id, decided_by=decision.actor)
            task = asyncio.create_task(self._stop_journey(request))
            self._stops.add(task)
            task.add_done_callback(self._stops.discard)

    async def _stop_journey(self, request: StopJourneyRequest) -> None:
        outcome = await workflow.execute_activity_method(
            JourneyStopping.stop_journey, request, start_to_close_timeout=STOP_TIMEOUT, retry_policy=STOP_RETRY
        )
        workflow.logger.info("trial stop delivered to %s: %s", request.study_id, outcome.value)

    @dsmb_decision.validator
    def validate_dsmb_decision(self, decision: DsmbDecision) -> None:
        """The seal check runs here (see validate_admit); a refused decision changes nothing and leaves no event."""

    @workflow.query
    def status(self) -> TrialStatus:
        return trial_status(self._state, workflow.now(), self._protocol)

    @workflow.query
    def lymphodepletion_refusal(self) -> str | None:
        """Why no new lymphodepletion may start now, or None: the gate of every prescription and first dose, so it
        reads the enrollment's state alone, not every patient's tally as `status` does (the server buffers one
        query at a time while a workflow task runs: at 10,000 patients the full status refused the gate's queries)."""
        return lymphodepletion_refusal(self._state)

    # ------------------------------------------------------------ notifications

    def _send(self, notification: Notification) -> None:
        """Immediate, escalated as an SAE's alert is when the role cannot be reached (the journey's delivery)."""
        send_notification(self._notifications, notification)
