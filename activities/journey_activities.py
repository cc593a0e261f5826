"""The journey's side effects: append events to the permanent trial record, and tell staff what to do. Both are
idempotent, so Temporal may retry them: the record ignores an event it holds, the notifier a delivery already sent."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.heartbeats import heartbeating
from activities.projections import FoldedPatients
from config.journey_ids import APPEND_EVENTS_ACTIVITY
from domain.journey.events import Event
from domain.journey.notifications import Notification
from domain.protocol import FrozenModel
from notifications.notifier import DeliveryOutcome, Notifier, log_channel_fields
from records import AppendResult, ConflictingEventError, EventStore
from records.deliveries import DeliveryLedger
from records.event_rows import to_row

# ApplicationError types the workflow sees when a notification or its escalation is not (yet) delivered.
NOTIFICATION_UNDELIVERED = "NotificationUndelivered"
ESCALATION_UNDELIVERED = "EscalationUndelivered"
RECORD_UNAVAILABLE = "RecordUnavailable"
RECORD_CONFLICT = "RecordConflict"

log = structlog.get_logger("trialflow.activities")


class AppendEventsInput(FrozenModel):
    events: tuple[Event, ...]


class RecordHead(FrozenModel):
    """The last event of a patient's chain after an append, and its hash. The journey's workflow keeps it in its state
    (and carries it to each new run), so Temporal's history is a second witness of the record: `trial verify`
    compares them."""

    sequence: int
    hash: str


class AppendEventsResult(FrozenModel):
    recorded: int
    already_recorded: int
    head: RecordHead | None = None  # None in results recorded before the head was returned


def head_after(result: AppendResult, study_id: str) -> RecordHead | None:
    """The highest of the patient's events this append wrote or found already written."""
    keys = [key for key in (*result.recorded, *result.already_recorded) if key.study_id == study_id]
    last = max(keys, key=lambda key: key.sequence, default=None)
    return None if last is None else RecordHead(sequence=last.sequence, hash=last.hash)


class EscalationRequest(FrozenModel):
    """A notification the notify activity gave up on, and why (staff recipients and status codes, no PHI)."""

    notification: Notification
    failure: str


class EscalationResult(FrozenModel):
    escalation_key: str
    escalated_to: str
    sent: int
    already_sent: int


class JourneyActivities:
    """Activities bound to one trial record store (one engine, shared by the worker's activity threads) and one
    notifier (the log channel only, unless a staff directory and channels are configured)."""

    def __init__(self, store: EventStore, notifier: Notifier | None = None) -> None:
        self._store = store
        self._notifier = notifier if notifier is not None else Notifier.log_only(DeliveryLedger(store.engine))
        self._folded = FoldedPatients()

    @activity.defn(name=APPEND_EVENTS_ACTIVITY)
    @heartbeating
    def append_events(self, request: AppendEventsInput) -> AppendEventsResult:
        try:
            # The supervisors' read models follow the record: folded from its events, never edited, and written
            # in the append's own transaction (one commit per step).
            folded = []
            for study_id in dict.fromkeys(e.study_id for e in request.events):
                after = self._folded.summary_after(self._store, [e for e in request.events if e.study_id == study_id])
                if after is not None:
                    folded.append(after)
            result = self._store.append([to_row(e) for e in request.events], [summary for _, summary in folded])
            for state, summary in folded:
                self._folded.remember(summary.study_id, state)
        except ConflictingEventError as error:
            # The record holds other events at these sequences (say, two new screening attempts of one screen
            # failure started at once): retrying cannot help; this run fails having recorded nothing.
            # Only where: the differences the error lists may quote the events' values.
            where = f"event {error.sequence} of {error.study_id} is already recorded with different content"
            raise ApplicationError(where, type=RECORD_CONFLICT, non_retryable=True) from None
        except SQLAlchemyError as error:
            # Retried (the append is idempotent). The database's own message may quote the SQL and its parameters,
            # i.e. the events' payloads, and its stack would pass Temporal's failure size limit: only its kind.
            log.warning("trial record unavailable", error=type(error).__name__, attempt=activity.info().attempt)
            raise ApplicationError(
                f"the trial record is unavailable ({type(error).__name__}); retrying", type=RECORD_UNAVAILABLE
            ) from None
        log.info(
            "events appended",
            study_id=request.events[0].study_id if request.events else None,
            sequences=[e.sequence for e in request.events],
            recorded=len(result.recorded),
            already_recorded=len(result.already_recorded),
        )
        return AppendEventsResult(
            recorded=len(result.recorded),
            already_recorded=len(result.already_recorded),
            head=head_after(result, request.events[-1].study_id) if request.events else None,
        )

    @activity.defn(name="notify")
    @heartbeating
    def notify(self, notification: Notification) -> None:
        """The log channel (one line per attempt, keyed, with the study id and no PHI), then every person holding
        the role on each of their channels. Raises while a delivery failed, so Temporal retries with backoff;
        deliveries already sent are skipped. Only refusals left (HTTP 4xx, SMTP 5xx): not retryable."""
        info = activity.info()
        log.info(
            "notification",
            **log_channel_fields(notification),
            attempt=info.attempt,
        )
        outcome = self._notifier.deliver(notification, attempt_id=_attempt_id())
        if not outcome.delivered:
            raise _undelivered(outcome, NOTIFICATION_UNDELIVERED)

    @activity.defn(name="escalate_notification")
    @heartbeating
    def escalate_notification(self, request: EscalationRequest) -> EscalationResult:
        """The notify activity gave up: the original's failed deliveries are marked escalated, and the role that
        covers for its role is told. The log channel has it whatever happens; a failed escalation delivery is
        retried (bounded by the workflow's policy) and stays in the ledger for supervisors."""
        escalation, outcome = self._notifier.escalate(request.notification, request.failure, _attempt_id())
        if outcome.failures and outcome.retry_can_help:
            raise _undelivered(outcome, ESCALATION_UNDELIVERED)
        return EscalationResult(
            escalation_key=escalation.key,
            escalated_to=escalation.role.value,
            sent=len(outcome.sent),
            already_sent=len(outcome.already_sent),
        )


def _attempt_id() -> str:
    """This attempt of this activity, as the delivery claims name it."""
    info = activity.info()
    return f"{info.workflow_id}/{info.activity_id}/{info.attempt}"


def _undelivered(outcome: DeliveryOutcome, error_type: str) -> ApplicationError:
    # Only refusals left: retrying cannot help, so the workflow escalates at once.
    return ApplicationError(outcome.failure_summary(), type=error_type, non_retryable=not outcome.retry_can_help)
