"""The journey's side effects: append events to the permanent trial record, and tell staff what to do.

Both are idempotent, so Temporal may retry them freely: the record ignores an event it already holds,
and a notification carries a key that stays the same on every retry.
"""

from __future__ import annotations

import structlog
from temporalio import activity

from activities.projections import project_cohort, project_patient
from domain.journey.events import Event
from domain.journey.notifications import Notification
from domain.protocol import FrozenModel
from records import EventStore, RecordedEvent

log = structlog.get_logger("trialflow.activities")


class AppendEventsInput(FrozenModel):
    events: tuple[Event, ...]


class AppendEventsResult(FrozenModel):
    recorded: int
    already_recorded: int


def to_recorded_event(event: Event) -> RecordedEvent:
    return RecordedEvent(
        study_id=event.study_id,
        sequence=event.sequence,
        event_type=event.type,
        occurred_at=event.occurred_at,
        actor_user_id=event.actor.user_id,
        actor_role=event.actor.role.value,
        protocol_version=event.protocol_version,
        reason=event.reason,
        payload=event.payload.model_dump(mode="json"),
    )


class JourneyActivities:
    """Activities bound to one trial record store (one engine, shared by the worker's activity threads)."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    @activity.defn(name="append_events")
    def append_events(self, request: AppendEventsInput) -> AppendEventsResult:
        result = self._store.append([to_recorded_event(e) for e in request.events])
        # The supervisors' read models follow the record: rebuilt from its events, never edited.
        self._store.rebuild_projections(project_patient, project_cohort, study_ids={e.study_id for e in request.events})
        log.info(
            "events appended",
            study_id=request.events[0].study_id if request.events else None,
            sequences=[e.sequence for e in request.events],
            recorded=len(result.recorded),
            already_recorded=len(result.already_recorded),
        )
        return AppendEventsResult(recorded=len(result.recorded), already_recorded=len(result.already_recorded))

    @activity.defn(name="notify")
    def notify(self, notification: Notification) -> None:
        """The structured-log channel: one line per notification, keyed, with the study id and no PHI."""
        info = activity.info()
        log.info(
            "notification",
            channel="log",
            key=notification.key,
            study_id=notification.study_id,
            role=notification.role.value,
            urgency=notification.urgency.value,
            subject=notification.subject,
            body=notification.body,
            attempt=info.attempt,
        )
