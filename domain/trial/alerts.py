"""Who is told at once when the stopping rule pauses enrollment: the investigator, the supervisors and the DSMB."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.journey.notifications import Notification, NotificationFacts, Topic, Urgency
from domain.roles import Role
from domain.statistics import StoppingRuleStatus

PAUSE_ALERTED_ROLES = (Role.INVESTIGATOR, Role.SUPERVISOR, Role.DSMB)


def enrollment_paused_alerts(
    trial_identifier: str, paused_at: datetime, rule: StoppingRuleStatus
) -> list[Notification]:
    """One immediate notification per role; the key (trial, pause time, role) makes each delivery idempotent."""
    facts = NotificationFacts(
        on=paused_at.astimezone(UTC).date(),
        dose_limiting_toxicities=rule.toxicities,
        evaluable_patients=rule.patients,
        posterior_probability=rule.posterior_probability,
    )
    at = paused_at.astimezone(UTC)
    return [
        Notification(
            key=f"{trial_identifier}/enrollment-paused/{at:%Y%m%dT%H%M%SZ}/{role.value}",
            study_id=trial_identifier,
            role=role,
            urgency=Urgency.IMMEDIATE,
            topic=Topic.ENROLLMENT_PAUSED,
            facts=facts,
        )
        for role in PAUSE_ALERTED_ROLES
    ]
