"""The timer safety net's judgement: what the trial record says a journey must show by now, against what its workflow
shows. Pure: the reconciliation activity gathers both sides, this decides what disagrees and what supervisors read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from domain.journey.daily_monitoring import is_daily_code
from domain.journey.events import Event
from domain.journey.evolve import fold
from domain.journey.notifications import SYSTEM_WORDS_MAX_LENGTH, Notification, NotificationFacts, Topic, Urgency
from domain.journey.phases import Phase
from domain.journey.state import initial_state
from domain.journey.status_view import DueItem, PatientStatus
from domain.journey.timers import TimedCommand, due_timers
from domain.journey.views import due_items, next_due, next_due_moment
from domain.protocol import CURRENT_PROTOCOL, FrozenModel, protocol_for_version
from domain.roles import Role

# How late a timer or an overdue mark may be (a busy worker, a server restart) before it counts: a healthy workflow
# is seconds late, so only a timer that never fired, a lost or stray event, or a stopped workflow is reported.
TIMER_GRACE = timedelta(minutes=15)
# A workflow task retried this many times is failing, not unlucky: its journey does not move until someone looks.
FAILING_TASK_ATTEMPTS = 3
RUNNING = "running"
KEY_DIGEST_LENGTH = 16  # hex digits: keys stay short (the ledger's key column) and distinct


class MismatchKind(StrEnum):
    WORKFLOW_NOT_RUNNING = "workflow_not_running"
    WORKFLOW_NOT_ANSWERING = "workflow_not_answering"
    WORKFLOW_TASK_FAILING = "workflow_task_failing"
    WORKFLOW_RESET = "workflow_reset"  # someone rewound the journey's history outside the API
    RECORD_AHEAD = "record_ahead"  # the record holds events the workflow has not applied
    RECORD_BEHIND = "record_behind"  # the workflow applied events the record does not hold
    PHASE_DIFFERS = "phase_differs"
    NEXT_DUE_DIFFERS = "next_due_differs"
    TIMER_NOT_FIRED = "timer_not_fired"
    OVERDUE_NOT_MARKED = "overdue_not_marked"
    NOT_RECONCILED = "not_reconciled"  # the check itself kept failing: nobody knows whether the journey is right
    # The record's chain, a summary, or a head disagrees with its witnesses (the workflow, the signed checkpoint).
    RECORD_TAMPERED = "record_tampered"


# A safety timer that never fired cannot wait for office hours (nor can a workflow that stopped, below).
_URGENT_TIMERS = frozenset({"mark_expedited_report_overdue", "expire_infusion_window"})


class LateTimer(FrozenModel):
    """A timer the record's state says was due (grace included) and has not fired: its event is not recorded."""

    command: str  # the system command's kind, e.g. "mark_visit_missed"
    subject: str  # what it concerns: a visit code, a report id, an era; "" for the journey itself
    due_at: datetime


class RecordExpectation(FrozenModel):
    """What the trial record says the journey's workflow must show at `as_of`."""

    study_id: str
    as_of: datetime
    last_sequence: int
    phase: Phase
    finished: bool  # ended with nothing open: its workflow may have closed
    next_due: DueItem | None
    due: tuple[DueItem, ...] = ()  # everything due at `as_of`: the items due at the same moment as `next_due`
    next_due_date: datetime | None  # the NextDueDate search attribute the workflow upserts for `next_due`
    overdue: tuple[str, ...]  # codes of the items overdue at `as_of - TIMER_GRACE`
    late_timers: tuple[LateTimer, ...]


class WorkflowObservation(FrozenModel):
    """What the journey's workflow shows: its execution, its `status` query, and its search attributes."""

    study_id: str
    execution_status: str | None  # "running", "completed", "terminated", ...; None: no such workflow
    run_id: str | None = None
    workflow_task_attempt: int = 0  # of the pending workflow task; 0 when none is pending
    status: PatientStatus | None = None  # None when not running or not answering
    status_error: str | None = None  # why the query was not answered
    phase_attribute: str | None = None
    overdue_attribute: bool | None = None
    next_due_date_attribute: datetime | None = None
    last_reset_at: datetime | None = None  # when the workflow was last reset (Temporal's own record of it)


class Mismatch(FrozenModel):
    """One disagreement, in words for supervisors (study id, codes and dates only), and a key stable across
    reconciliations, so the alert for it is sent once however often it is found."""

    study_id: str
    kind: MismatchKind
    detail: str
    key: str
    urgent: bool = False  # supervisors must act now, day or night


def mismatch(
    study_id: str, kind: MismatchKind, detail: str, identity: Iterable[object] = (), *, urgent: bool = False
) -> Mismatch:
    """`identity`: what makes this disagreement the same one next time (not the detail's wording)."""
    text = "|".join(str(part) for part in (kind.value, *identity))
    digest = hashlib.sha256(text.encode()).hexdigest()[:KEY_DIGEST_LENGTH]
    key = f"{study_id}/reconciliation/{kind.value}/{digest}"
    return Mismatch(study_id=study_id, kind=kind, detail=detail, key=key, urgent=urgent)


# ---------------------------------------------------------------- the record's side


DAILY_CHECK_SUBJECT = "daily monitoring"


def timer_subject(timer: TimedCommand) -> str:
    """The due item (or report, or era) a timer acts on."""
    command = timer.command
    match command.kind:
        case "mark_visit_missed" | "send_visit_reminder":
            return str(getattr(command, "visit_code", ""))
        case "mark_expedited_report_overdue":
            return str(getattr(command, "report_id", ""))
        case "expire_infusion_window":
            return "INFUSION"
        case "check_daily_monitoring":
            return f"{DAILY_CHECK_SUBJECT} day {getattr(command, 'day_number', '')}"
        case "start_follow_up_era":
            return str(getattr(command, "era", ""))
    return ""


def expect_from_record(
    study_id: str, events: Iterable[Event], as_of: datetime, grace: timedelta = TIMER_GRACE
) -> RecordExpectation:
    """Fold the record's events with the domain, as the workflow folds them, and look at `as_of`."""
    state = fold(initial_state(study_id), events)
    protocol = protocol_for_version(state.protocol_version or CURRENT_PROTOCOL.version)
    settled = as_of - grace
    items = due_items(state, protocol, as_of)
    first_due = next_due(items)
    late = due_timers(state, protocol, settled)
    return RecordExpectation(
        study_id=study_id,
        as_of=as_of,
        last_sequence=state.last_sequence,
        phase=state.phase,
        finished=state.is_final and not state.open_expedited_reports,
        next_due=first_due,
        due=tuple(items),
        next_due_date=next_due_moment(first_due, protocol.schedule),
        overdue=tuple(i.code for i in due_items(state, protocol, settled) if i.overdue),
        late_timers=tuple(LateTimer(command=t.command.kind, subject=timer_subject(t), due_at=t.due_at) for t in late),
    )


# ---------------------------------------------------------------- the comparison


def compare(expected: RecordExpectation, observed: WorkflowObservation) -> list[Mismatch]:
    """Every way the workflow's own state disagrees with what the record says it must show by now."""
    study = expected.study_id
    found: list[Mismatch] = []
    if observed.last_reset_at is not None:
        # Only an operator with Temporal's own tools can reset: never a step of the trial. Said once per reset,
        # whatever the reset run did next (it may have stopped: its replayed appends meet the record).
        detail = (
            f"the journey's workflow was reset outside the trial's API at {observed.last_reset_at.isoformat()}: "
            "its history was rewound by hand; check who did it and that the journey and its record agree"
        )
        reset_at = observed.last_reset_at.isoformat()
        found.append(mismatch(study, MismatchKind.WORKFLOW_RESET, detail, [reset_at], urgent=True))
    if observed.execution_status != RUNNING:
        if expected.finished:
            return found  # a finished journey's workflow closes: nothing left to disagree about
        shown = observed.execution_status or "not found"
        detail = (
            f"the trial record shows the journey {expected.phase.value} and not finished, but its workflow is "
            f"{shown}: nothing reminds staff or fires its timers"
        )
        stopped = mismatch(study, MismatchKind.WORKFLOW_NOT_RUNNING, detail, [shown, observed.run_id], urgent=True)
        return [*found, stopped]
    if observed.workflow_task_attempt >= FAILING_TASK_ATTEMPTS:
        detail = (
            f"the workflow's task has failed {observed.workflow_task_attempt - 1} times in a row: the journey does "
            "not move on until the cause is fixed (see its history in the Temporal Web UI)"
        )
        found.append(mismatch(study, MismatchKind.WORKFLOW_TASK_FAILING, detail, [observed.run_id], urgent=True))
    status = observed.status
    if status is None:
        detail = f"the workflow does not answer its status query ({observed.status_error or 'no answer'})"
        return [*found, mismatch(study, MismatchKind.WORKFLOW_NOT_ANSWERING, detail, [observed.run_id])]
    in_record, in_workflow = expected.last_sequence, status.last_sequence
    if in_record > in_workflow:
        detail = (
            f"the trial record holds events {in_workflow + 1} to {in_record} that the workflow has not applied "
            f"(the workflow is at event {in_workflow})"
        )
        return [*found, mismatch(study, MismatchKind.RECORD_AHEAD, detail, [in_workflow, in_record])]
    if in_workflow > in_record:
        detail = (
            f"the workflow applied events {in_record + 1} to {in_workflow} that the trial record does not hold "
            f"(the record ends at event {in_record})"
        )
        return [*found, mismatch(study, MismatchKind.RECORD_BEHIND, detail, [in_record, in_workflow])]
    # The same events: everything below follows from them, so any difference is the workflow's own.
    found += _phase_mismatches(expected, observed, status)
    found += _next_due_mismatches(expected, observed, status)
    found += _timer_mismatches(expected)
    found += _overdue_mismatches(expected, observed, status)
    return found


def _phase_mismatches(
    expected: RecordExpectation, observed: WorkflowObservation, status: PatientStatus
) -> list[Mismatch]:
    found = []
    shown = {"its status query": status.phase.value, "its TrialPhase search attribute": observed.phase_attribute}
    for where, phase in shown.items():
        if phase != expected.phase.value:
            detail = f"the trial record puts the journey in {expected.phase.value}, {where} in {phase or 'no phase'}"
            identity = [where, expected.phase.value, phase]
            found.append(mismatch(expected.study_id, MismatchKind.PHASE_DIFFERS, detail, identity))
    return found


def _due_words(first: DueItem | None, due: Sequence[DueItem]) -> str:
    """What is due first, as a set: items due at the same moment come in no order that means anything (the record
    reads a prescription's drugs back in sorted order, the workflow keeps the protocol's), so they are named sorted."""
    if first is None:
        return "nothing due"
    if first.due_on is None:
        return f"{first.code} (no date)"
    codes = sorted({first.code, *(item.code for item in due if item.due_on == first.due_on)})
    return f"{', '.join(codes)} due {first.due_on.isoformat()}"


def _next_due_mismatches(
    expected: RecordExpectation, observed: WorkflowObservation, status: PatientStatus
) -> list[Mismatch]:
    found = []
    want = expected.next_due
    want_words = _due_words(want, expected.due)
    got = status.next_due
    got_words = _due_words(got, status.due)
    if want_words != got_words:
        detail = f"next due by the trial record: {want_words}; by the workflow's status query: {got_words}"
        found.append(
            mismatch(expected.study_id, MismatchKind.NEXT_DUE_DIFFERS, detail, ["status", want_words, got_words])
        )
    if observed.next_due_date_attribute != expected.next_due_date:
        shown = observed.next_due_date_attribute.isoformat() if observed.next_due_date_attribute else "unset"
        wanted = expected.next_due_date.isoformat() if expected.next_due_date else "unset"
        detail = (
            f"next due by the trial record: {want_words}, so NextDueDate {wanted}; the workflow's NextDueDate search "
            f"attribute is {shown}, so supervisors' lists are wrong"
        )
        found.append(mismatch(expected.study_id, MismatchKind.NEXT_DUE_DIFFERS, detail, ["attribute", wanted, shown]))
    return found


def _timer_mismatches(expected: RecordExpectation) -> list[Mismatch]:
    found = []
    for timer in expected.late_timers:
        what = timer.command.replace("_", " ") + (f" {timer.subject}" if timer.subject else "")
        detail = (
            f"the workflow's timer to {what} was due at {timer.due_at.isoformat()} and has not fired: "
            "its event is not in the trial record"
        )
        identity = [timer.command, timer.subject, timer.due_at.isoformat()]
        urgent = timer.command in _URGENT_TIMERS
        found.append(mismatch(expected.study_id, MismatchKind.TIMER_NOT_FIRED, detail, identity, urgent=urgent))
    return found


def _overdue_mismatches(
    expected: RecordExpectation, observed: WorkflowObservation, status: PatientStatus
) -> list[Mismatch]:
    # An item whose own timer is late is reported as that timer; the rest must show as overdue.
    explained = {t.subject for t in expected.late_timers}
    # The daily checks run one after another: a late one explains every daily assessment overdue after it.
    daily_late = any(t.subject.startswith(DAILY_CHECK_SUBJECT) for t in expected.late_timers)
    codes = [code for code in expected.overdue if code not in explained and not (daily_late and is_daily_code(code))]
    if not codes:
        return []
    unmarked = [
        where
        for where, shown in (
            ("its status query", status.overdue),
            ("its Overdue search attribute", observed.overdue_attribute),
        )
        if shown is not True
    ]
    if not unmarked:
        return []
    detail = (
        f"the trial record shows {', '.join(codes)} overdue, but the workflow has not marked the journey overdue "
        f"({' nor '.join(unmarked)})"
    )
    return [mismatch(expected.study_id, MismatchKind.OVERDUE_NOT_MARKED, detail, [*codes, *unmarked])]


# ---------------------------------------------------------------- telling supervisors


def supervisor_alert(found: Mismatch) -> Notification:
    """The supervisors' message for one mismatch: the study id and what disagrees, never patient data."""
    return Notification(
        key=found.key,
        study_id=found.study_id,
        role=Role.SUPERVISOR,
        urgency=Urgency.IMMEDIATE if found.urgent else Urgency.SOON,
        topic=Topic.RECONCILIATION,
        facts=NotificationFacts(finding=found.kind.value, system_words=found.detail[:SYSTEM_WORDS_MAX_LENGTH]),
    )
