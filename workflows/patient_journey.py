"""PatientJourneyWorkflow: one durable workflow per enrolled patient, a thin shell around the domain decider.
Staff commands are Updates the decider validates; timers come from the domain; each event is recorded before it
applies; the run continues-as-new at each follow-up era or when Temporal suggests it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, RetryState

with workflow.unsafe.imports_passed_through():
    from activities.journey_activities import AppendEventsInput, EscalationRequest, JourneyActivities, RecordHead
    from activities.slot_booking import CALENDAR_FULL, BookSlotInput, EndManufacturingInput, SlotBookingActivities
    from activities.trial_reporting import TrialReporting, TrialReportRequest
    from config import search_attributes as sa
    from domain.journey import CommandRejected, decide, fold
    from domain.journey import events as ev
    from domain.journey.command_registry import STAFF_COMMAND_MODELS
    from domain.journey.commands import (
        Command,
        CorrectScreening,
        MoveToProtocolVersion,
        RecordInfusion,
        RecordSlotBooking,
        RecordSlotUnavailable,
        StopForTrial,
    )
    from domain.journey.envelope import record_limit_problems
    from domain.journey.events import Event
    from domain.journey.notifications import Notification, Topic, Urgency, notifications_for
    from domain.journey.phases import Phase
    from domain.journey.timers import due_timers, next_timer_at
    from domain.journey.views import (
        DueItem,
        PatientStatus,
        any_overdue,
        due_items,
        next_due,
        next_due_moment,
        patient_status,
    )
    from domain.protocol import TrialProtocol, protocol_for_version
    from domain.roles import SYSTEM_ACTOR
    from domain.site_time import end_of_site_day, site_date
    from domain.slots import SEARCH_WEEKS, NoSlotReason
    from domain.trial.journey_reports import trial_reports
    from domain.trial.reports import JourneyReport
    from workflows.journey_messages import (
        JourneyInput,
        JourneySummary,
        RecordResult,
        StaffCommandMessage,
        TimelineEntry,
        timeline_entry,
    )
    from workflows.journey_run_state import JourneyWorkflowState
    from workflows.wake_timer import WakeTimer

COMMAND_REJECTED = "CommandRejected"
# The patch id under which the handler requires electronic signatures on the steps the registry marks signed.
SIGNATURES_REQUIRED_PATCH = "electronic-signatures-required"
# Journeys enrolled from this version on record the cells' hand-offs before release and infusion; histories
# enrolled before replay without them.
CHAIN_OF_CUSTODY_PATCH = "chain-of-custody-required"
# The patch id under which screenings are judged on the confirmed diagnosis and the end-of-induction remission too.
INDUCTION_CRITERIA_PATCH = "eligibility-induction-criteria"
# The patch id under which a new infusion starts daily CRS/ICANS monitoring (its due items, reminders and missed
# days, one timer a site day); journeys infused before replay without it.
DAILY_MONITORING_PATCH = "daily-toxicity-monitoring"
# The cause of a CommandRejected failure when the acting role may not issue the command at all.
NOT_PERMITTED = "NotPermitted"
# The patch id under which consent, a failed manufacture and a release book or free slots in the site's calendar.
SLOT_BOOKING_PATCH = "manufacturing-slot-booking"
# The patch id under which an exit cancels the patient's live bookings (their slots free again).
SLOT_CANCELLING_PATCH = "manufacturing-slot-cancelling"
# The patch id under which a booked slot is announced to the apheresis unit, and a calendar without a slot is
# recorded in the patient's chain and alerted to the supervisors at once.
SLOT_NOTICES_PATCH = "manufacturing-slot-notices"
SLOT_NOTICE_TOPICS = frozenset({Topic.SLOT_BOOKED, Topic.NO_SLOT})
# Sent while a run is handing over to the next: the client resends the same update id, which the new run takes.
RESEND_TO_NEW_RUN = "ResendToNewRun"
# The patch id under which staff commands follow the clinical review's rules (issue 16: an explicit fever check,
# fever masking from recorded doses, an adverse event's report clock from the site's awareness).
CLINICAL_REVIEW_PATCH = "clinical-review-grading-safety"
# The patch id under which infusions, first DLTs and exits are reported to the TrialWorkflow.
TRIAL_REPORTS_PATCH = "trial-reports"
# The timers runs recorded before them do not fire (their histories replay without them), by patch id: the end of
# the DLT observation window (reported to the trial, which otherwise counts on its own clock), and the thawed cells'
# limit passing without an infusion (the investigator is told at once).
# The patch id under which a re-consented patient moves onto the amendment once nothing of theirs is in flight
# (docs/amendments.md). No history recorded before it holds a re-consent, so none reaches the move; the patch marks
# the runs that may, should the move ever change again.
AMENDMENT_MOVE_PATCH = "protocol-amendment-move"
# The patch id under which the wake timer is kept across steps that leave its moment where it was (runs recorded
# before it re-armed it at every step: a timer started and cancelled each time).
WAKE_TIMER_KEPT_PATCH = "wake-timer-kept"
TIMER_PATCHES = {
    "complete_dlt_window": "dlt-window-completed",
    "flag_late_infusion_after_thaw": "late-after-thaw-alert",
}
# Every patch above, known to the code from this one on. A run that starts on it records one marker for them all: each
# patch called on its own records a marker and, by the SDK, an upsert of the TemporalChangeVersion search attribute
# (a visibility write on the server), a dozen of each in every new run (docs/performance.md). Runs recorded before
# it call each patch as they did. The list is closed: a patch added to it would count as applied in runs that began
# before it existed. A later patch is asked on its own (through `_patched`, like every patch here).
BUNDLED_PATCHES_PATCH = "journey-patches-bundled"
BUNDLED_PATCHES = frozenset(
    {
        SIGNATURES_REQUIRED_PATCH,
        CHAIN_OF_CUSTODY_PATCH,
        INDUCTION_CRITERIA_PATCH,
        DAILY_MONITORING_PATCH,
        SLOT_BOOKING_PATCH,
        SLOT_CANCELLING_PATCH,
        SLOT_NOTICES_PATCH,
        CLINICAL_REVIEW_PATCH,
        TRIAL_REPORTS_PATCH,
        AMENDMENT_MOVE_PATCH,
        WAKE_TIMER_KEPT_PATCH,
        *TIMER_PATCHES.values(),
    }
)

# The permanent record must take every event: keep retrying while the database is away.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
# A notification that keeps failing is escalated after its last attempt. The wait between attempts doubles from
# 5 s to at most 5 min: 12 attempts span about half an hour (5+10+20+40+80+160 s, then 5 x 300 s); an immediate
# one (a grade >= 3 toxicity, an overdue report, a closed infusion window) escalates after 6, about 2.5 minutes.
NOTIFY_MAX_ATTEMPTS = 12
IMMEDIATE_NOTIFY_MAX_ATTEMPTS = 6
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5), maximum_attempts=NOTIFY_MAX_ATTEMPTS
)
IMMEDIATE_NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    maximum_interval=timedelta(minutes=5),
    maximum_attempts=IMMEDIATE_NOTIFY_MAX_ATTEMPTS,
)
# Escalations are not escalated further: tried as long as a routine notification, then left to the log channel
# and the delivery ledger, where supervisors see them.
ESCALATE_RETRY = NOTIFY_RETRY
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# The activities heartbeat every second while they run (activities/heartbeats.py): a worker that died holding one is
# known within this, and another worker retries it then, not after the whole start-to-close timeout. Each is safe to
# run twice: the append is idempotent on (patient, sequence), a delivery is claimed in the ledger before it is sent.
HEARTBEAT_TIMEOUT = timedelta(seconds=5)
# One notify attempt sends to every holder of a role, one channel at a time, each bounded by its own timeout.
NOTIFY_TIMEOUT = timedelta(minutes=5)

# Stay far below Temporal's per-run limits (2,000 updates, 51,200 events) even before it suggests a new run.
MAX_UPDATES_PER_RUN = 500
MAX_HISTORY_EVENTS_PER_RUN = 1_200
# Long-term follow-up lasts ten years: no run outlives this (servers may cap a run's age), and each
# new run costs its carried state twice in history, so not much more often either.
MAX_RUN_AGE = timedelta(days=5 * 365)


def undelivered_because(failure: ActivityError) -> str:
    """Why the notify activity gave up, in words for the escalation (its message names no patient data)."""
    cause = failure.cause
    if isinstance(cause, ApplicationError):
        reason = cause.message
    else:
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(failure)
    if failure.retry_state is RetryState.MAXIMUM_ATTEMPTS_REACHED:
        return f"still failing after the last attempt: {reason}"
    return reason


def _moves_slots(events: tuple[Event, ...]) -> bool:
    """Whether these events book or free a slot (new entries only: a correction moves nothing)."""
    kinds = (ev.ConsentSigned, ev.ManufacturingFailed, ev.ProductReleased)
    return any(isinstance(e.payload, kinds) and e.payload.supersedes is None for e in events)


def _leaves_slots(events: tuple[Event, ...]) -> bool:
    """Whether these events end the patient's path to the cells (an exit, not a correction of one)."""
    kinds = (ev.ConsentWithdrawn, ev.PatientDied, ev.LostToFollowUp, ev.TakenOffStudy)
    exits = any(isinstance(e.payload, kinds) and e.payload.supersedes is None for e in events)
    return exits or any(isinstance(e.payload, ev.TrialStopped) and e.payload.off_study for e in events)


def unrecordable(events: tuple[Event, ...]) -> list[str]:
    """Why the permanent record would refuse these events (say, a reason typed with an invisible control character):
    such a command is refused, for its append would be retried forever and hold back every later command."""
    return list(dict.fromkeys(problem for event in events for problem in record_limit_problems(event)))


# A reason is the decider's own sentence; this only bounds the log line if one ever quotes a long typed value.
REFUSAL_LOG_REASON_CHARACTERS = 300


def rejection_error(rejection: CommandRejected) -> ApplicationError:
    """A refusal as the caller sees it: every reason in the message and, one by one, in the details."""
    return ApplicationError("; ".join(rejection.reasons), *rejection.reasons, type=COMMAND_REJECTED, non_retryable=True)


def role_refusal(rejection: CommandRejected) -> ApplicationError | None:
    """The cause a refusal carries when the acting role may not issue the command, so a client tells it apart
    (say, as 403) without judging roles itself; None otherwise."""
    if not rejection.not_permitted:
        return None
    return ApplicationError("the acting role may not issue this command", type=NOT_PERMITTED, non_retryable=True)


@workflow.defn
class PatientJourneyWorkflow:
    @workflow.init
    def __init__(self, journey: JourneyInput) -> None:
        # First, before any other patch is asked for: whether this run began on code that knows the bundled ones.
        self._bundled = workflow.patched(BUNDLED_PATCHES_PATCH)
        self._state = JourneyWorkflowState.starting(journey)
        if journey.protocol_version is not None:
            self._state.enrolling_under = protocol_for_version(journey.protocol_version)
        # Not state: the lock that applies commands one at a time, the notification deliveries in flight, and the
        # timer for the next wake.
        self._lock = asyncio.Lock()
        self._notifications: set[asyncio.Task[None]] = set()
        self._wake = WakeTimer()
        # Enrollment is decided here, so the first staff command can be validated against an enrolled patient;
        # run() records it before any command is applied (`ready`). With a carried state it is a screen failure's
        # new screening attempt: a new run started from the record (earlier histories never carry both).
        rescreening = journey.screen_failure is not None or journey.carried is not None  # not parsed twice
        if journey.enrollment is not None and (self._state.journey.phase is Phase.NOT_ENROLLED or rescreening):
            try:
                custody = self._patched(CHAIN_OF_CUSTODY_PATCH)
                induction = self._patched(INDUCTION_CRITERIA_PATCH)
                self._state.enrollment = self._decided(
                    journey.enrollment,
                    chain_of_custody=custody,
                    induction_criteria=induction,
                    # A first screening, or a screen failure's new one, under the version the client found in effect
                    # (starts recorded before amendments carry none: a new attempt then keeps the patient's version).
                    protocol=self._state.enrolling_under if journey.protocol_version else None,
                )
            except CommandRejected as rejection:
                self._state.enrollment_refused = rejection
            self._state.journey = fold(self._state.journey, self._state.enrollment)

    def _patched(self, patch_id: str) -> bool:
        """`workflow.patched`, answered without a marker of its own for a bundled patch in a run that began on code
        knowing the bundle."""
        return (self._bundled and patch_id in BUNDLED_PATCHES) or workflow.patched(patch_id)

    @property
    def _protocol(self) -> TrialProtocol:
        version = self._state.journey.protocol_version
        return protocol_for_version(version) if version else self._state.enrolling_under

    # ------------------------------------------------------------ main loop

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneySummary:
        if self._state.enrollment_refused is not None:
            raise rejection_error(self._state.enrollment_refused)
        async with self._lock:
            await self._record(self._state.enrollment)
            self._announce(self._state.enrollment)
            self._state.ready = True
        while True:
            await self._fire_due_timers()
            await self._move_onto_amendment()
            due = self._due_now()  # one reading per wake: what supervisors see, and when to wake next
            self._upsert_search_attributes(due)
            wake_at = self._next_wake(due)
            del due  # not held while the journey waits in a worker's cache (days): the moment is all it needs
            if self._finished():
                break
            if self._time_for_a_new_run():
                self._state.moving_to_new_run = True  # no new commands here, or a busy patient would never move on
                self._wake.cancel()
                await self._drain()
                workflow.continue_as_new(self._carry())
            await self._sleep_until_next_wake(wake_at)
        self._wake.cancel()
        await self._drain()
        return self._summary()

    async def _sleep_until_next_wake(self, wake_at: datetime | None) -> None:
        self._state.woken = False
        if wake_at is None:
            self._wake.cancel()
            await workflow.wait_condition(self._should_wake)
            return
        delay = (wake_at - workflow.now()).total_seconds()
        if delay <= 0:
            return
        if self._patched(WAKE_TIMER_KEPT_PATCH):
            timer = self._wake.until(wake_at)  # the timer already running when the moment has not moved
            await workflow.wait_condition(lambda: self._should_wake() or timer.done())
            return
        with contextlib.suppress(TimeoutError):  # the timer came due: the loop fires it
            await workflow.wait_condition(self._should_wake, timeout=delay)

    def _should_wake(self) -> bool:
        return self._state.woken or workflow.info().is_continue_as_new_suggested() or self._amendment_move_due()

    def _amendment_move_due(self) -> bool:
        """A re-consented patient is moved onto the amendment at the first point where nothing of theirs is in
        flight: no staff command or stop being applied or waiting to be (every handler finished), no step's
        activity running (each holds the lock while it records)."""
        pending = self._state.journey.pending_protocol_version
        return (
            pending is not None
            and pending != self._state.move_not_taken
            and self._state.ready
            and workflow.all_handlers_finished()
            and not self._lock.locked()
        )

    async def _move_onto_amendment(self) -> None:
        if not self._amendment_move_due():
            return
        version = self._state.journey.pending_protocol_version
        assert version is not None  # _amendment_move_due
        if not self._patched(AMENDMENT_MOVE_PATCH):
            self._state.move_not_taken = version
            return
        async with self._lock:
            try:
                await self._apply(MoveToProtocolVersion(actor=SYSTEM_ACTOR, protocol_version=version))
            except CommandRejected as rejection:  # the domain promises this cannot happen; never loop on it
                workflow.logger.error("amendment move refused: %s", "; ".join(rejection.reasons))
                self._state.move_not_taken = version

    def _due_now(self) -> list[DueItem]:
        return due_items(self._state.journey, self._protocol, workflow.now())

    def _next_wake(self, due: list[DueItem]) -> datetime | None:
        """The next timer, or the moment something `due` becomes overdue (so the search attributes follow)."""
        now = workflow.now()
        moments = [workflow.info().start_time + MAX_RUN_AGE]
        timer_at = next_timer_at(self._state.journey, self._protocol, after=now, leave_out=self._timers_left_out())
        if timer_at is not None:
            moments.append(timer_at)
        rules = self._protocol.schedule
        for item in due:
            last_day = item.window_closes or item.due_on
            if last_day is not None and not item.overdue:
                moments.append(end_of_site_day(last_day, rules))
        future = [m for m in moments if m > now]
        return min(future) if future else None

    async def _fire_due_timers(self) -> None:
        async with self._lock:
            while due := due_timers(self._state.journey, self._protocol, workflow.now(), self._timers_left_out()):
                try:
                    await self._apply(due[0].command)
                except CommandRejected as rejection:  # the domain promises this cannot happen; never loop on it
                    workflow.logger.error("timer command refused: %s", "; ".join(rejection.reasons))
                    return

    def _timers_left_out(self) -> frozenset[str]:
        """The timer kinds this run does not fire: those added after the run began (remembered per run by patch)."""
        return frozenset(kind for kind, patch in TIMER_PATCHES.items() if not self._patched(patch))

    def _finished(self) -> bool:
        # An ended journey stays open until its safety reports are confirmed: none may be forgotten.
        return self._state.journey.is_final and not self._state.journey.open_expedited_reports

    def _time_for_a_new_run(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or self._state.journey.era != self._state.era_at_start
            or self._state.updates_this_run >= MAX_UPDATES_PER_RUN
            or info.get_current_history_length() >= MAX_HISTORY_EVENTS_PER_RUN
            or workflow.now() - info.start_time >= MAX_RUN_AGE
        )

    async def _drain(self) -> None:
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._notifications)

    def _carry(self) -> JourneyInput:
        return JourneyInput(study_id=self._state.journey.study_id, carried=self._state.carried())

    # ------------------------------------------------------------ applying a command

    def _decided(
        self,
        command: Command,
        signatures_required: bool = True,
        chain_of_custody: bool = False,
        clinical_review: bool = True,
        induction_criteria: bool = True,
        daily_monitoring: bool = True,
        protocol: TrialProtocol | None = None,
    ) -> tuple[Event, ...]:
        """The decider's events for `command`, or CommandRejected: by the decider, or by the record's own rules.
        `chain_of_custody` matters to an enrollment only (the journey keeps what it was enrolled with); so does
        `protocol` (by default the one the patient follows)."""
        now = workflow.now()
        events = tuple(
            decide(
                self._state.journey,
                command,
                now,
                protocol or self._protocol,
                signatures_required=signatures_required,
                chain_of_custody=chain_of_custody,
                clinical_review=clinical_review,
                induction_criteria=induction_criteria,
                daily_monitoring=daily_monitoring,
            )
        )
        problems = unrecordable(events)
        if problems:
            raise CommandRejected(problems)
        return events

    async def _apply(
        self,
        command: Command,
        signatures_required: bool = True,
        *,
        induction_criteria: bool = True,
        daily_monitoring: bool = True,
        clinical_review: bool = True,
    ) -> tuple[Event, ...]:
        """Decide, record permanently, then fold. Call with the lock held, so commands apply one at a time."""
        events = self._decided(
            command,
            signatures_required,
            induction_criteria=induction_criteria,
            daily_monitoring=daily_monitoring,
            clinical_review=clinical_review,
        )
        await self._record(events)
        before = self._state.journey
        self._state.journey = fold(self._state.journey, events)
        self._announce(events)
        self._report_to_trial(trial_reports(before, self._state.journey, events, self._protocol))
        return events

    def _report_to_trial(self, reports: list[JourneyReport]) -> None:
        """Tell the trial (its stopping rule and accrual); retried until it has them, drained like notifications."""
        if not reports or not self._patched(TRIAL_REPORTS_PATCH):
            return
        trial = self._protocol.accrual.trial_identifier
        for report in reports:
            task = asyncio.create_task(self._send_report(TrialReportRequest(trial_identifier=trial, report=report)))
            self._notifications.add(task)
            task.add_done_callback(self._notifications.discard)

    async def _send_report(self, request: TrialReportRequest) -> None:
        await workflow.execute_activity_method(
            TrialReporting.report_to_trial,
            request,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=RECORD_RETRY,  # the trial must count every DLT: keep trying while it is away
        )

    async def _record(self, events: tuple[Event, ...]) -> None:
        """Append to the permanent trial record; retried until the record has them."""
        if events:
            result = await workflow.execute_activity_method(
                JourneyActivities.append_events,
                AppendEventsInput(events=events),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
            if result.head is not None:  # results in histories recorded before heads were returned have none
                self._state.record_head = result.head

    def _announce(self, events: tuple[Event, ...]) -> None:
        """After recording: the timeline, the staff who must act, the supervisors' search attributes."""
        for event in events:
            self._state.timeline.append(timeline_entry(event))
            for notification in notifications_for(event, events):
                self._send(notification)
        self._upsert_search_attributes(self._due_now())

    def _send(self, notification: Notification) -> None:
        # Slots booked in histories recorded before the notices replay without them.
        if notification.topic in SLOT_NOTICE_TOPICS and not self._patched(SLOT_NOTICES_PATCH):
            return
        send_notification(self._notifications, notification)

    # ------------------------------------------------------------ staff commands

    @workflow.update
    async def record(self, message: StaffCommandMessage) -> RecordResult:
        command = message.root
        update_id = workflow.current_update_info().id  # type: ignore[union-attr]
        if update_id in self._state.recent_updates:
            return self._answered_before(update_id)
        await workflow.wait_condition(lambda: self._state.ready)
        # Histories recorded before signatures were required replay as they ran; the validator (new commands
        # only) always requires them.
        signatures_required = self._patched(SIGNATURES_REQUIRED_PATCH)
        # Likewise entries made before the clinical review's rules (the validator always applies them).
        clinical_review = self._patched(CLINICAL_REVIEW_PATCH)
        # A screening corrected in a history recorded before the induction criteria replays as it ran.
        induction = not isinstance(command, CorrectScreening) or self._patched(INDUCTION_CRITERIA_PATCH)
        # So does an infusion recorded before daily monitoring was tracked.
        daily = not isinstance(command, RecordInfusion) or self._patched(DAILY_MONITORING_PATCH)
        async with self._lock:
            try:
                events = await self._apply(
                    command,
                    signatures_required,
                    induction_criteria=induction,
                    daily_monitoring=daily,
                    clinical_review=clinical_review,
                )
            except CommandRejected as rejection:  # the state moved on since validation
                raise rejection_error(rejection) from role_refusal(rejection)
            # Histories recorded before the slot calendar replay without its bookings.
            if _moves_slots(events) and self._patched(SLOT_BOOKING_PATCH):
                await self._book_slots(events)
            if _leaves_slots(events) and self._patched(SLOT_CANCELLING_PATCH):
                await self._cancel_slots()
        return self._answered(update_id, events)

    def _answered(self, update_id: str, events: tuple[Event, ...]) -> RecordResult:
        result = RecordResult(events=events)
        self._state.recent_updates[update_id] = result.model_dump_json()  # kept as text: see RecentUpdate
        self._state.updates_this_run += 1
        self._state.woken = True
        return result

    def _answered_before(self, update_id: str) -> RecordResult:
        return RecordResult.model_validate_json(self._state.recent_updates[update_id])

    async def _cancel_slots(self) -> None:
        await workflow.execute_activity_method(
            SlotBookingActivities.cancel_slots,
            self._state.journey.study_id,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    @record.validator
    def validate_record(self, message: StaffCommandMessage) -> None:
        # A payload in another encoding arrives as bytes or None, not as the message: _validate names it.
        command = message.root if isinstance(message, StaffCommandMessage) else message
        self._validate(command, STAFF_COMMAND_MODELS, "a staff command")

    def _validate(self, command: object, kinds: type | tuple[type, ...], what: str) -> None:
        """An update's validator: refused, with its reasons, unless the decider would accept `command` now."""
        info = workflow.current_update_info()
        if info is not None and info.id in self._state.recent_updates:
            return  # a retry of a command already applied: answered again, never applied twice
        # A payload in another encoding (binary/plain, binary/null) arrives as bytes or None, past pydantic.
        if not isinstance(command, kinds):
            reason = f"this is not {what} (the update's argument is {type(command).__name__})"
            self._log_refusal(command, [reason])
            raise rejection_error(CommandRejected([reason]))
        if self._state.moving_to_new_run:
            raise ApplicationError("the journey is moving to a new run: resend this command", type=RESEND_TO_NEW_RUN)
        try:
            self._decided(cast(Command, command))
        except CommandRejected as rejection:
            self._log_refusal(command, rejection.reasons)
            raise rejection_error(rejection) from role_refusal(rejection)

    # ------------------------------------------------------------ the trial stopped

    @workflow.update
    async def trial_stopped(self, command: StopForTrial) -> RecordResult:
        """The TrialWorkflow's word that the DSMB stopped the trial (sent by its activity, sealed; the worker checks
        the seal in the validator). Not yet infused: off study; infused: the safety follow-up goes on. Once per
        decision: the update id is the decision's, and the decider records the stop once."""
        update_id = workflow.current_update_info().id  # type: ignore[union-attr]
        if update_id in self._state.recent_updates:
            return self._answered_before(update_id)
        await workflow.wait_condition(lambda: self._state.ready)
        async with self._lock:
            try:
                events = await self._apply(command)
            except CommandRejected as rejection:
                raise rejection_error(rejection) from role_refusal(rejection)
            if _leaves_slots(events):
                await self._cancel_slots()
        return self._answered(update_id, events)

    @trial_stopped.validator
    def validate_trial_stopped(self, command: StopForTrial) -> None:
        self._validate(command, StopForTrial, "the trial's stop")

    def _log_refusal(self, command: object, reasons: Sequence[str]) -> None:
        """Every refused attempt leaves a line in the worker's log, whatever path it came by (the trial client also
        keeps it in the record's refused attempts; an update sent straight to Temporal has only this line). The
        reasons are the decider's words; the workflow id carries the study id, never a name."""
        actor = getattr(command, "actor", None)
        workflow.logger.warning(
            "command refused: %s by %s (%s): %s",
            getattr(command, "kind", type(command).__name__),
            getattr(actor, "user_id", "unknown"),
            getattr(getattr(actor, "role", None), "value", "unknown"),
            "; ".join(reason[:REFUSAL_LOG_REASON_CHARACTERS] for reason in reasons),
        )

    # ------------------------------------------------------------ the slot calendar

    async def _book_slots(self, events: tuple[Event, ...]) -> None:
        """After consent: book the first collection's slot; after a failed manufacture: free its slot and book the
        re-collection (if allowed); after a release: free its manufacturing slot. Call with the lock held."""
        today = site_date(workflow.now(), self._protocol.schedule)
        for event in events:
            p = event.payload
            if getattr(p, "supersedes", None) is not None:
                continue  # a correction moves no slot
            if isinstance(p, ev.ConsentSigned):
                await self._book_slot(1, max(p.signed_on, today))
            elif isinstance(p, ev.ManufacturingFailed):
                number = self._state.journey.collections[-1].collection_number
                await self._end_manufacturing(
                    EndManufacturingInput(
                        study_id=event.study_id, collection_number=number, outcome="failed", on=p.failed_on
                    )
                )
                if p.recollection_allowed:
                    await self._book_slot(number + 1, max(p.failed_on, today))
            elif isinstance(p, ev.ProductReleased):
                number = self._state.journey.collections[-1].collection_number
                await self._end_manufacturing(
                    EndManufacturingInput(
                        study_id=event.study_id, collection_number=number, outcome="released", on=p.released_on
                    )
                )

    async def _book_slot(self, collection_number: int, not_before: date) -> None:
        study_id = self._state.journey.study_id
        try:
            booking = await workflow.execute_activity_method(
                SlotBookingActivities.book_slot,
                BookSlotInput(study_id=study_id, collection_number=collection_number, not_before=not_before),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                heartbeat_timeout=HEARTBEAT_TIMEOUT,
                retry_policy=RECORD_RETRY,
            )
        except ActivityError as failure:
            if isinstance(failure.cause, ApplicationError) and failure.cause.type == CALENDAR_FULL:
                workflow.logger.error("no slot booked for %s: %s", study_id, failure.cause.message)
                if self._patched(SLOT_NOTICES_PATCH):
                    await self._record_no_slot(collection_number, not_before, failure.cause)
                return
            raise
        command = RecordSlotBooking(
            actor=SYSTEM_ACTOR,
            collection_number=booking.collection_number,
            week=booking.week,
            slot_number=booking.slot_number,
            collection_date=booking.collection_date,
            expected_release=booking.expected_release,
        )
        try:
            await self._apply(command)
        except CommandRejected as rejection:  # the domain accepts the booking it asked for; never loop on it
            workflow.logger.error("slot booking not recorded: %s", "; ".join(rejection.reasons))

    async def _record_no_slot(self, collection_number: int, not_before: date, full: ApplicationError) -> None:
        """The patient's status says why no slot is booked, and the supervisors are alerted at once (the event's
        notification). The activity's details name the capacity that ran out."""
        details = full.details
        reason = NoSlotReason(details[0]) if details else NoSlotReason.NO_COLLECTION_SLOT
        weeks = int(details[1]) if len(details) > 1 else SEARCH_WEEKS
        command = RecordSlotUnavailable(
            actor=SYSTEM_ACTOR,
            collection_number=collection_number,
            reason=reason,
            searched_from=not_before,
            searched_weeks=weeks,
        )
        try:
            await self._apply(command)
        except CommandRejected as rejection:  # the domain accepts what the calendar answered; never loop on it
            workflow.logger.error("missing slot not recorded: %s", "; ".join(rejection.reasons))

    async def _end_manufacturing(self, request: EndManufacturingInput) -> None:
        await workflow.execute_activity_method(
            SlotBookingActivities.end_manufacturing,
            request,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )

    # ------------------------------------------------------------ queries

    @workflow.query
    def status(self) -> PatientStatus:
        return patient_status(self._state.journey, self._protocol, workflow.now())

    @workflow.query
    def timeline(self) -> list[TimelineEntry]:
        return list(self._state.timeline)

    @workflow.query
    def record_head(self) -> RecordHead | None:
        """The trial record's head after this journey's last append (`trial verify` compares the record with it)."""
        return self._state.record_head

    @workflow.query
    def enrollment_recorded(self) -> bool:
        """Whether the journey has recorded its enrollment (or carries it from the run before): the trial client
        answers an enrollment only then."""
        return self._state.ready

    # ------------------------------------------------------------ visibility and the end

    def _upsert_search_attributes(self, due: list[DueItem]) -> None:
        """From the patient's state and their items `due` now: what patient_status says of these, without building
        the whole status (asked for at every step)."""
        if self._state.journey.phase is Phase.NOT_ENROLLED:
            return
        state = self._state.journey
        wanted: dict[str, object] = {
            sa.TRIAL_PHASE.name: state.phase.value,
            sa.OVERDUE.name: any_overdue(due),
            sa.EXPEDITED_REPORT_OPEN.name: bool(state.open_expedited_reports),
            sa.HIGHEST_CRS_GRADE.name: state.highest_crs_grade,
            sa.HIGHEST_ICANS_GRADE.name: state.highest_icans_grade,
            sa.PROTOCOL_VERSION.name: state.protocol_version,
            sa.NEXT_DUE_DATE.name: next_due_moment(next_due(due), self._protocol.schedule),
        }
        changed = {k: v for k, v in wanted.items() if self._state.search_attributes.get(k, ...) != v}
        if not changed:
            return
        updates = []
        for key in sa.JOURNEY_SEARCH_ATTRIBUTES:
            if key.name in changed:
                value = changed[key.name]
                updates.append(key.value_unset() if value is None else key.value_set(value))
        workflow.upsert_search_attributes(updates)
        self._state.search_attributes.update(changed)

    def _summary(self) -> JourneySummary:
        status = patient_status(self._state.journey, self._protocol, workflow.now())
        return JourneySummary(
            study_id=self._state.journey.study_id,
            phase=self._state.journey.phase,
            exit=self._state.journey.exit,
            infused_on=status.infused_on,
            completed_on=self._state.journey.completed_on,
            highest_crs_grade=status.highest_crs_grade,
            highest_icans_grade=status.highest_icans_grade,
            primary_endpoint=status.primary_endpoint,
            events_recorded=self._state.journey.last_sequence,
            runs=self._state.runs,
            record_head=self._state.record_head,
        )


# ---------------------------------------------------------------- notifications (the journey's and the trial's)


def send_notification(in_flight: set[asyncio.Task[None]], notification: Notification) -> None:
    """Deliver `notification` in the background; `in_flight` holds it until it is done (a run waits for them all
    before it ends or continues as new)."""
    task = asyncio.create_task(deliver_notification(notification))
    in_flight.add(task)
    task.add_done_callback(in_flight.discard)


async def deliver_notification(notification: Notification) -> None:
    """Retried as its urgency says; when every attempt is used, or it is refused for good, someone else must know."""
    retry_policy = IMMEDIATE_NOTIFY_RETRY if notification.urgency is Urgency.IMMEDIATE else NOTIFY_RETRY
    try:
        await workflow.execute_activity_method(
            JourneyActivities.notify,
            notification,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=retry_policy,
        )
    except ActivityError as failure:
        if isinstance(failure.cause, CancelledError):
            raise
        await _escalate(notification, failure)


async def _escalate(notification: Notification, failure: ActivityError) -> None:
    request = EscalationRequest(notification=notification, failure=undelivered_because(failure))
    try:
        await workflow.execute_activity_method(
            JourneyActivities.escalate_notification,
            request,
            start_to_close_timeout=NOTIFY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=ESCALATE_RETRY,
        )
    except ActivityError:  # on the log channel and in the delivery ledger already; nothing more to try
        workflow.logger.error("escalation of notification %s was not delivered", notification.key)
