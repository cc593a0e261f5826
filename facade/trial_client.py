"""The one client of the trial: enroll, record, read one patient, list, report, verify. The CLI and the HTTP API
both call it, so what they do and the errors they give are the same. Running journeys answer through Temporal;
the trial record answers for ended ones (Temporal forgets them after retention) and for every trial-level count.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import QueryRejectCondition, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from config.journey_ids import TASK_QUEUE, journey_workflow_id
from domain.eligibility import age_in_completed_years
from domain.journey import CommandRejected, JourneyState, decide, fold, initial_state
from domain.journey.commands import (
    Command,
    EnrollPatient,
    PrescribeLymphodepletion,
    RecordLymphodepletionDose,
    StaffCommand,
)
from domain.journey.handlers.enrollment import screen_failed
from domain.journey.permissions import READ_ONLY_ROLES, role_problem
from domain.journey.phases import Phase
from domain.journey.status_view import PatientStatus
from domain.journey.views import patient_status
from domain.protocol import CURRENT_PROTOCOL, TrialProtocol, protocol_for_version, protocol_in_effect
from domain.roles import Actor
from domain.site_time import site_date
from domain.slots import SlotCalendarView, SlotCapacity, calendar_view
from domain.toxicity import IcansFindings, ToxicityGrading, grade_icans, icans_findings_problems
from domain.trial.reports import DsmbDecision, DsmbOutcome
from domain.trial.status import TrialStatus
from exports.odm import odm_document
from exports.sdtm_files import sdtm_archive
from facade.audit import AuditEntry, audit_entries
from facade.command_seals import sealing_client
from facade.enrollment_taken import ENROLLMENT_TAKEN_WITHIN, await_enrollment_recorded
from facade.errors import AlreadyEnrolled, CommandRefused, JourneyClosed, NotPermitted, TrialError, UnknownPatient
from facade.listing import journeys_query, listing_from, listing_from_record
from facade.models import EnrollmentResult, PatientListing, Timeline, TrialReport
from facade.report import build_report, status_from_summary
from facade.report_verification import verified_summaries
from facade.signing import SigningDesk, SigningRequest
from facade.trial_exports import trial_record
from facade.trial_gate import TrialGate
from observability.logging import get_logger
from records import EventStore, RecordedEvent, VerificationReport
from records.audit_trail import stored_chain
from records.deliveries import DeliveryLedger, DeliveryRecord
from records.event_rows import to_event
from records.refusals import RefusedAttemptLog
from records.signing_pins import SigningPinStore
from records.slot_bookings import SlotCalendar
from records.witnessed import verify_with_witnesses
from security.checkpoints import CheckpointLog
from security.command_seal import SEAL_REFUSED
from security.keys import SealKeyring
from workflows.journey_messages import (
    CarriedState,
    JourneyInput,
    JourneySummary,
    RecordHead,
    RecordResult,
    timeline_entry,
)
from workflows.patient_journey import COMMAND_REJECTED, NOT_PERMITTED, RESEND_TO_NEW_RUN, PatientJourneyWorkflow

# A command reaching a run that is handing over to the next (turned away, or NOT_FOUND once it has gone) is
# resent with the same update id until the new run takes it; the handover waits for in-flight activities.
RESEND_WITHIN = timedelta(seconds=30)
RESEND_FIRST_DELAY_SECONDS = 0.05
RESEND_MAX_DELAY_SECONDS = 1.0
# Reading a patient whose workflow cannot answer: unknown to Temporal (ended and past retention), its workflow task
# failing (a bug an engineer must fix; nothing recorded is lost), or no worker answering within JOURNEY_ANSWERS_WITHIN
# (all stopped, or one so loaded that replaying the journey to answer trips the SDK's 2 s deadlock limit): the trial
# record answers instead. The journey changes its state only after the record holds the change, so the record's
# answer is the same. (The SDK reports its own deadline as CANCELLED, "Timeout expired"; the server's as
# DEADLINE_EXCEEDED.)
RECORD_ANSWERS_INSTEAD = frozenset(
    {
        RPCStatusCode.NOT_FOUND,
        RPCStatusCode.FAILED_PRECONDITION,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
    }
)
JOURNEY_ANSWERS_WITHIN = timedelta(seconds=10)

# The logger of refused attempts: its own name, so a log pipeline can route the audit lines apart.
AUDIT_LOGGER = "trialflow.audit"

log = get_logger("facade.trial_client")

JourneyHandle = WorkflowHandle[PatientJourneyWorkflow, JourneySummary]
Answer = TypeVar("Answer")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _refusal(study_id: str, reasons: Sequence[str], not_permitted: bool) -> CommandRefused:
    """The decider's refusal; NotPermitted when it refused the acting role this command at all."""
    return NotPermitted(study_id, reasons) if not_permitted else CommandRefused(study_id, reasons)


def _role_refused(failure: ApplicationError) -> bool:
    """Whether the workflow's CommandRejected failure says the acting role may not issue the command."""
    cause = failure.cause
    return isinstance(cause, ApplicationError) and cause.type == NOT_PERMITTED


def _enrollment_result(state: JourneyState) -> EnrollmentResult:
    return EnrollmentResult(
        study_id=state.study_id,
        workflow_id=journey_workflow_id(state.study_id),
        eligible=state.eligibility is not None and state.eligibility.eligible,
        failed_criteria=state.eligibility.failed if state.eligibility else (),
        phase=state.phase,
        screening_attempt=state.screening_attempt,
    )


def update_id_for(user_id: str, idempotency_key: str) -> str:
    """The Temporal update id of a user's Idempotency-Key: keys are the user's own, so the id is derived from both
    (a SHA-256, so no key nor user id of any length can make two pairs meet)."""
    digest = hashlib.sha256(f"{user_id}\x00{idempotency_key}".encode()).hexdigest()
    return f"idem-{digest}"


class TrialClient:
    """Operations of operators, staff and supervisors over one Temporal client and one trial record."""

    def __init__(
        self,
        temporal: Client,
        store: EventStore,
        protocol: TrialProtocol = CURRENT_PROTOCOL,
        *,
        task_queue: str = TASK_QUEUE,
        clock: Callable[[], datetime] = _utc_now,
        resend_within: timedelta = RESEND_WITHIN,
        seal_keys: SealKeyring | None = None,
        signing: SigningDesk | None = None,
        checkpoints: CheckpointLog | None = None,
        enrollment_taken_within: timedelta = ENROLLMENT_TAKEN_WITHIN,
        accrual_target_infused: int | None = None,
        slot_capacity: SlotCapacity | None = None,
        protocol_effective_dates: Mapping[str, date] | None = None,
    ) -> None:
        # With seal keys, every command and enrollment leaves sealed (facade/command_seals.py), dated by `clock`.
        self._temporal = sealing_client(temporal, seal_keys, clock) if seal_keys is not None else temporal
        self._store = store
        self._protocol = protocol
        # The site's amendments in effect by version (config: protocol_effective_dates): a new screening's version.
        self._effective_dates = dict(protocol_effective_dates or {})
        protocol_in_effect(date.max, self._effective_dates)  # names an unknown version now, not at an enrollment
        self._task_queue = task_queue
        self._clock = clock
        self._resend_within = resend_within
        self._checkpoints = checkpoints  # the signed heads `verify` checks the record against (None: not configured)
        self._enrollment_taken_within = enrollment_taken_within
        # Admission, the paused trial, its status; `accrual_target_infused` replaces the protocol's (a load benchmark).
        self._gate = TrialGate(self._temporal, protocol, task_queue, accrual_target_infused)
        # The site's slot calendar (the worker books in it; this reads it): the protocol's capacity unless set.
        self._slots = SlotCalendar(store.engine, slot_capacity or SlotCapacity.of(protocol.manufacturing))
        # Without one given (no staff directory), supervisors' alerts about signing reach the log channel only.
        self._signing = signing or SigningDesk.log_only(
            SigningPinStore(store.engine), DeliveryLedger(store.engine), protocol
        )

    @property
    def temporal(self) -> Client:
        return self._temporal

    @property
    def store(self) -> EventStore:
        return self._store

    @property
    def protocol(self) -> TrialProtocol:
        return self._protocol

    @property
    def signing(self) -> SigningDesk:
        return self._signing

    def _handle(self, study_id: str) -> JourneyHandle:
        # The workflow id, never a run id: a journey continues-as-new, and its newest run is the one to ask.
        return self._temporal.get_workflow_handle_for(PatientJourneyWorkflow.run, journey_workflow_id(study_id))

    # ------------------------------------------------------------ operators

    async def enroll(self, command: EnrollPatient) -> EnrollmentResult:
        """Start the patient's journey. A screen failure is enrolled too: recorded with every reason, then ended; the
        same study id enrolled again is its new screening attempt (and only a screen failure's).

        Answers once the journey has recorded the enrollment. Raises CommandRefused (NotPermitted for a role that may
        not enroll; nothing started; or the journey refused it), AlreadyEnrolled, or EnrollmentNotTaken (nothing
        recorded in time: the journey was stopped); every refusal is logged and kept as a refused attempt."""
        try:
            return await self._enroll(command)
        except TrialError as error:
            raise await self._refused_attempt(error, command) from None

    async def _enroll(self, command: EnrollPatient) -> EnrollmentResult:
        study_id = command.study_id
        self._refuse_read_only(study_id, command)
        # Decided here first, as the workflow will decide it: a refusal lists every reason and starts nothing.
        protocol = protocol_in_effect(command.screening.screening_date, self._effective_dates)
        try:
            events = decide(initial_state(study_id), command, self._clock(), protocol)
        except CommandRejected as rejection:
            raise _refusal(study_id, rejection.reasons, rejection.not_permitted) from None
        # The record remembers every patient for ever; Temporal forgets a closed journey after its retention.
        if await asyncio.to_thread(self._store.last_sequence, study_id):
            return await self._rescreen(command)
        await self._admit_if_eligible(study_id, fold(initial_state(study_id), events))
        try:
            handle = await self._temporal.start_workflow(
                PatientJourneyWorkflow.run,
                JourneyInput(study_id=study_id, enrollment=command, protocol_version=protocol.version),
                id=journey_workflow_id(study_id),
                task_queue=self._task_queue,
                # Never a second journey under one study id once the first has recorded anything (the record says so
                # above); a failed one recorded nothing (say, a forged start without a seal, workers/command_seals.py).
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise AlreadyEnrolled(study_id) from None
        # Answered only once the journey has recorded it: else refused, or stopped with nothing half-created.
        await await_enrollment_recorded(self._temporal, handle, study_id, self._enrollment_taken_within)
        return _enrollment_result(fold(initial_state(study_id), events))

    async def _rescreen(self, command: EnrollPatient) -> EnrollmentResult:
        """A screen failure screened again under its study id: a new run of its journey, started from the trial
        record's state, whose first entries are the new screening attempt, in the same record chain. Any other
        patient already in the record is refused as enrolled."""
        study_id = command.study_id
        events = [to_event(e) for e in await asyncio.to_thread(self._store.events_for, study_id)]
        state = fold(initial_state(study_id), events)
        if not screen_failed(state):
            raise AlreadyEnrolled(study_id)
        protocol = protocol_in_effect(command.screening.screening_date, self._effective_dates)
        try:
            attempt = decide(state, command, self._clock(), protocol)
        except CommandRejected as rejection:
            raise _refusal(study_id, rejection.reasons, rejection.not_permitted) from None
        await self._admit_if_eligible(study_id, fold(state, attempt))
        head = await asyncio.to_thread(self._store.chain_head, study_id)
        carried = CarriedState(
            state=state,
            timeline=tuple(timeline_entry(e) for e in events),
            # The new run witnesses the record from its start, as the closed run did.
            record_head=RecordHead(sequence=head.sequence, hash=head.hash) if head is not None else None,
        )
        journey = JourneyInput(
            study_id=study_id,
            enrollment=command,
            screen_failure=carried.model_dump_json(),
            protocol_version=protocol.version,
        )
        try:
            handle = await self._start_rescreening(journey)
        except WorkflowAlreadyStartedError:
            # The screen failure's run may still be closing (its notifications going out): wait for it, once.
            if not await self._closed_within(study_id, self._enrollment_taken_within):
                raise AlreadyEnrolled(study_id) from None
            try:
                handle = await self._start_rescreening(journey)
            except WorkflowAlreadyStartedError:  # another attempt started meanwhile
                raise AlreadyEnrolled(study_id) from None
        await await_enrollment_recorded(self._temporal, handle, study_id, self._enrollment_taken_within)
        return _enrollment_result(fold(state, attempt))

    async def _start_rescreening(self, journey: JourneyInput) -> JourneyHandle:
        return await self._temporal.start_workflow(
            PatientJourneyWorkflow.run,
            journey,
            id=journey_workflow_id(journey.study_id),
            task_queue=self._task_queue,
            # The screen failure's run has closed; a run still open (another attempt just started) refuses.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )

    async def _closed_within(self, study_id: str, within: timedelta) -> bool:
        """Whether the journey's open run closes within `within` (a screen failure's run ends once its
        notifications are out)."""
        handle = self._temporal.get_workflow_handle(journey_workflow_id(study_id))
        try:
            await asyncio.wait_for(handle.result(follow_runs=False), timeout=within.total_seconds())
        except TimeoutError:
            return False
        except WorkflowFailureError:
            return True
        return True

    async def _admit_if_eligible(self, study_id: str, enrolled: JourneyState) -> None:
        """The trial admits an eligible patient first (refused with every reason when paused, closed or full); a
        screen failure takes no place and is recorded whatever the trial's state."""
        if enrolled.eligibility is not None and enrolled.eligibility.eligible:
            await self._gate.admit(study_id, self._enrollment_taken_within)

    async def trial_status(self) -> TrialStatus:
        """The trial as its workflow sees it: enrollment, the stopping rule over evaluable patients, accrual."""
        return await self._gate.status()

    async def decide_for_dsmb(
        self,
        actor: Actor,
        *,
        decision_id: str,
        outcome: DsmbOutcome,
        amendment_version: str | None,
        rationale: str,
        signing: SigningRequest,
    ) -> TrialStatus:
        """The DSMB's decision as the API takes it: built now, signed with the member's PIN, then decided."""
        decision = DsmbDecision(
            decision_id=decision_id,
            actor=actor,
            outcome=outcome,
            decided_at=self._clock(),
            amendment_version=amendment_version,
            rationale=rationale,
        )
        trial = self._protocol.accrual.trial_identifier
        try:
            decision = await self._signing.sign(trial, decision, signing)
        except TrialError as error:
            raise await self._refused_attempt(error, decision) from None
        return await self.dsmb_decision(decision)

    async def dsmb_decision(self, decision: DsmbDecision) -> TrialStatus:
        """The DSMB's signed decision on a paused trial (resume, resume under an amendment, stop); raises
        CommandRefused with every reason, logged and kept as a refused attempt."""
        try:
            return await self._gate.decide(decision)
        except TrialError as error:
            raise await self._refused_attempt(error, decision) from None

    # ------------------------------------------------------------ staff

    async def record(
        self,
        study_id: str,
        command: StaffCommand,
        update_id: str | None = None,
        signing: SigningRequest | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> RecordResult:
        """Apply a staff command, signed by its actor when `signing` is given. Resending with the same `update_id`
        is answered again, never applied twice; an `idempotency_key` (a caller's Idempotency-Key) gives the update
        id of its actor's key, so two people's equal keys never meet.

        Raises CommandRefused (every reason; nothing changed; NotPermitted when the role may not issue it),
        SignatureRefused (SigningLocked), UnknownPatient or JourneyClosed; every refusal is logged and kept as a
        refused attempt."""
        if idempotency_key is not None:
            update_id = update_id_for(command.actor.user_id, idempotency_key)
        update_id = update_id or str(uuid.uuid4())
        try:
            if signing is not None:
                self._refuse_read_only(study_id, command)
                command = await self._signing.sign(study_id, command, signing)
            if isinstance(command, (PrescribeLymphodepletion, RecordLymphodepletionDose)):
                self._refuse_read_only(study_id, command)
                # Doses given from the trial record, which holds every answered step: a dose under way asks
                # neither the journey nor the trial (a query each was two more round trips on six of a path's steps).
                dosing = isinstance(command, RecordLymphodepletionDose) and command.correction is None
                doses_given = len((await self._recorded_state(study_id))[0].doses_given) if dosing else 0
                await self._gate.check_lymphodepletion(study_id, command, doses_given)
            return await self._record(study_id, command, update_id)
        except TrialError as error:
            raise await self._refused_attempt(error, command, update_id) from None

    async def _record(self, study_id: str, command: StaffCommand, update_id: str) -> RecordResult:
        self._refuse_read_only(study_id, command)
        handle = self._handle(study_id)
        deadline = time.monotonic() + self._resend_within.total_seconds()
        delay = RESEND_FIRST_DELAY_SECONDS
        while True:
            try:
                return await handle.execute_update(PatientJourneyWorkflow.record, command, id=update_id)
            except WorkflowUpdateFailedError as error:
                cause = error.cause
                if isinstance(cause, ApplicationError) and cause.type == COMMAND_REJECTED:
                    reasons = tuple(str(reason) for reason in cause.details)
                    raise _refusal(study_id, reasons, _role_refused(cause)) from None
                if isinstance(cause, ApplicationError) and cause.type == SEAL_REFUSED:
                    refused = f"the journey refused the command's seal: {cause.message}"
                    raise CommandRefused(study_id, [refused]) from None
                # The run is handing over to the next one: the new run takes the same update id.
                if not (isinstance(cause, ApplicationError) and cause.type == RESEND_TO_NEW_RUN):
                    raise
                if time.monotonic() + delay > deadline:
                    raise
            except RPCError as error:
                if error.status is not RPCStatusCode.NOT_FOUND:
                    raise
                # No journey, an ended one, or a run that has just continued-as-new: only the last is resent.
                await self._require_running(study_id, handle)
                if time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESEND_MAX_DELAY_SECONDS)

    @staticmethod
    def _refuse_read_only(study_id: str, command: Command) -> None:
        """A role no command allows (a supervisor) is refused before anything reaches Temporal, in the domain's words;
        every other role is judged by the decider alone."""
        role = command.actor.role
        if role in READ_ONLY_ROLES:
            problem = role_problem(command.kind, role)
            assert problem is not None  # no command allows a read-only role
            words = role.value.replace("_", " ")
            raise NotPermitted(study_id, [problem], f"a {words} can read the trial record but not write to it")

    async def _refused_attempt(
        self, error: TrialError, command: Command | DsmbDecision, update_id: str | None = None
    ) -> TrialError:
        """Log the refused attempt (WARNING) and keep it in the record; returns `error` for the caller to raise.

        Both name who, in which role, which command, which study id, and why (protocol sentences, never typed values).
        """
        fields: dict[str, Any] = {
            "study_id": error.study_id,
            "actor_user_id": command.actor.user_id,
            "actor_role": command.actor.role.value,
            "command_kind": command.kind,
            "refusal": error.code,
            "reasons": list(error.reasons),
            "update_id": update_id,
        }
        # Looked up per call, not cached at import: the line goes wherever logging is configured at the time.
        audit_log = get_logger(AUDIT_LOGGER)
        audit_log.warning("refused_attempt", **fields)
        attempts = RefusedAttemptLog(self._store.engine, clock=self._clock)
        try:
            await asyncio.to_thread(attempts.record, **fields)
        except (SQLAlchemyError, ValueError) as failure:
            # A record that cannot keep it does not hide the refusal from the caller.
            audit_log.error("refused_attempt_not_kept", study_id=error.study_id, error=type(failure).__name__)
        return error

    async def _require_running(self, study_id: str, handle: JourneyHandle) -> None:
        try:
            description = await handle.describe()
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            # Unknown to Temporal: never enrolled, or ended and past the retention period.
            summary = await asyncio.to_thread(self._store.patient_summary, study_id)
            if summary is None and not await asyncio.to_thread(self._store.last_sequence, study_id):
                raise UnknownPatient(study_id) from None
            raise JourneyClosed(study_id, summary.phase if summary else None) from None
        if description.status is not WorkflowExecutionStatus.RUNNING:
            summary = await asyncio.to_thread(self._store.patient_summary, study_id)
            raise JourneyClosed(study_id, summary.phase if summary else None)

    # ------------------------------------------------------------ supervisors: one patient

    async def status(self, study_id: str) -> PatientStatus:
        """Where the patient stands now: from the running journey, else folded from the trial record."""
        answer = await self._journey_answer(study_id, PatientJourneyWorkflow.status)
        if answer is not None:
            return answer
        state, protocol = await self._recorded_state(study_id)
        return patient_status(state, protocol, self._clock())

    async def icans_preview(self, study_id: str, findings: IcansFindings, assessed_at: datetime) -> ToxicityGrading:
        """The ICANS grade `findings` would get at `assessed_at`, graded on the patient's age then (from the record;
        the age goes no further than the grade), before anyone submits it. Raises CommandRefused naming every
        problem (findings that do not fit the age, an unknown birth date), UnknownPatient."""
        state, protocol = await self._recorded_state(study_id)
        if state.date_of_birth is None:
            raise CommandRefused(study_id, ["the patient's age is not known from the record"])
        age = age_in_completed_years(state.date_of_birth, site_date(assessed_at, protocol.schedule))
        problems = icans_findings_problems(findings, age, protocol.icans)
        if problems:
            raise CommandRefused(study_id, problems)
        return grade_icans(findings, age, protocol.icans)

    async def timeline(self, study_id: str) -> Timeline:
        """Every event of the patient, oldest first."""
        entries = await self._journey_answer(study_id, PatientJourneyWorkflow.timeline)
        if entries is not None:
            return Timeline(study_id=study_id, source="workflow", entries=tuple(entries))
        events = await self._recorded_events(study_id)
        return Timeline(study_id=study_id, source="record", entries=tuple(timeline_entry(to_event(e)) for e in events))

    async def _journey_answer(self, study_id: str, query: Callable[[PatientJourneyWorkflow], Answer]) -> Answer | None:
        """The running journey's answer to `query`; None when the trial record must answer instead (the journey
        has ended, or it cannot answer: RECORD_ANSWERS_INSTEAD)."""
        try:
            return await self._handle(study_id).query(
                query, reject_condition=QueryRejectCondition.NOT_OPEN, rpc_timeout=JOURNEY_ANSWERS_WITHIN
            )
        except WorkflowQueryRejectedError:
            return None  # the journey has ended
        except WorkflowQueryFailedError as failure:
            # Its worker failed to answer (overloaded, or a bug): an engineer must look; the record still can.
            log.warning("journey_cannot_answer", study_id=study_id, error=failure.message)
            return None
        except RPCError as error:
            if error.status not in RECORD_ANSWERS_INSTEAD:
                raise
            if error.status is not RPCStatusCode.NOT_FOUND:  # unknown to Temporal: ended long ago, nothing wrong
                log.warning("journey_cannot_answer", study_id=study_id, error=error.message)
            return None

    async def _recorded_events(self, study_id: str) -> Sequence[RecordedEvent]:
        events = await asyncio.to_thread(self._store.events_for, study_id)
        if not events:
            raise UnknownPatient(study_id)
        return events

    async def _recorded_state(self, study_id: str) -> tuple[JourneyState, TrialProtocol]:
        events = await self._recorded_events(study_id)
        state = fold(initial_state(study_id), (to_event(e) for e in events))
        return state, protocol_for_version(state.protocol_version or self._protocol.version)

    # ------------------------------------------------------------ supervisors: the trial

    async def list_patients(
        self, phase: Phase | str | None = None, overdue: bool | None = None, expedited_report_open: bool | None = None
    ) -> list[PatientListing]:
        """Journeys matching every filter given (None: no filter), by study id, from Temporal's visibility index.

        The index is eventually consistent and keeps an ended journey only for retention; `report` counts every patient.
        """
        query = journeys_query(phase, overdue, expedited_report_open)
        newest: dict[str, tuple[datetime, PatientListing]] = {}
        async for execution in self._temporal.list_workflows(query):
            # Briefly, the index may show a run that has continued-as-new beside its successor: keep the newest.
            started = execution.start_time
            earlier = newest.get(execution.id)
            if earlier is None or started > earlier[0]:
                newest[execution.id] = (started, listing_from(execution, self._protocol))
        return sorted((listing for _, listing in newest.values()), key=lambda listing: listing.study_id)

    async def recorded_patients(self) -> list[PatientListing]:
        """Every patient the trial record holds, by study id, as its summary has them (never Temporal's index, which
        forgets ended journeys and knows nothing of a record kept from another server, such as the demo's)."""
        summaries = await asyncio.to_thread(self._store.patient_summaries)
        return sorted(
            (listing_from_record(status_from_summary(s)) for s in summaries), key=lambda listing: listing.study_id
        )

    async def report(self) -> TrialReport:
        """The trial-level report, computed from the trial record's patient summaries.

        The record keeps every patient for ever (Temporal's index forgets ended journeys) and rebuilds its summaries
        with each append, so the report is reproducible from the record alone."""
        summaries = await asyncio.to_thread(self._store.patient_summaries)
        # Only verified patients count; the others are named (facade/report_verification.py).
        summaries, verification = verified_summaries(summaries, await self.verify())
        report = build_report((status_from_summary(s) for s in summaries), self._protocol)
        return report.model_copy(update={"verification": verification})

    async def verify(self) -> VerificationReport:
        """Recompute the trial record's hash chain, compare every patient's head with their journey's workflow and
        the last signed checkpoint, fold every summary again; report every problem found."""
        checkpoint = await asyncio.to_thread(self._checkpoints.witness) if self._checkpoints is not None else None
        return await verify_with_witnesses(self._store, self._temporal, checkpoint)

    async def audit(self, study_id: str) -> list[AuditEntry]:
        """The patient's audit trail from the trial record (never the workflow): every event with its hashes, in
        sequence order, then every refused attempt, oldest first. Raises UnknownPatient when the record holds neither.
        """

        def read() -> list[AuditEntry]:
            chain = stored_chain(self._store.engine, study_id)
            refused = RefusedAttemptLog(self._store.engine).for_patient(study_id)
            return audit_entries(chain, refused)

        entries = await asyncio.to_thread(read)
        if not entries:
            raise UnknownPatient(study_id)
        return entries

    async def odm_export(self) -> bytes:
        """The whole trial record as one CDISC ODM 1.3.2 document (exports/odm.py): metadata, audit, signatures."""
        records = await asyncio.to_thread(trial_record, self._store)
        created_at = self._clock()
        return await asyncio.to_thread(odm_document, records, created_at=created_at, current=self._protocol)

    async def sdtm_export(self) -> bytes:
        """The SDTM datasets (CSV and XPT v5) with their define.xml, as one zip archive (exports/sdtm_files.py)."""
        records = await asyncio.to_thread(trial_record, self._store)
        created_at = self._clock()
        return await asyncio.to_thread(sdtm_archive, records, self._protocol, created_at=created_at)

    async def slots(self) -> SlotCalendarView:
        """The slot calendar from the current week on: collections booked per week, products in manufacturing
        today, and the expected releases still to come."""
        bookings = await asyncio.to_thread(self._slots.bookings)
        today = site_date(self._clock(), self._protocol.schedule)
        return calendar_view(bookings, self._slots.capacity, today)

    async def failed_notifications(self, study_id: str | None = None) -> list[DeliveryRecord]:
        """Notifications that did not reach someone (most recent first), escalated or still being retried."""
        return await asyncio.to_thread(DeliveryLedger(self._store.engine).failed, study_id=study_id)
