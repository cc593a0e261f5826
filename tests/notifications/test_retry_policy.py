"""How long a failing notification is retried before it is escalated: the numbers the workflow's comment gives."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from workflows.patient_journey import (
    ESCALATE_RETRY,
    IMMEDIATE_NOTIFY_MAX_ATTEMPTS,
    IMMEDIATE_NOTIFY_RETRY,
    NOTIFY_MAX_ATTEMPTS,
    NOTIFY_RETRY,
)


def backoff_before_last_attempt(policy: RetryPolicy) -> timedelta:
    """The waits between attempts, as Temporal computes them (doubling, capped), before the last one starts."""
    assert policy.maximum_interval is not None
    total, wait = timedelta(0), policy.initial_interval
    for _ in range(policy.maximum_attempts - 1):
        total += min(wait, policy.maximum_interval)
        wait = wait * policy.backoff_coefficient
    return total


def test_a_routine_or_soon_notification_is_escalated_after_about_half_an_hour() -> None:
    assert NOTIFY_RETRY.maximum_attempts == NOTIFY_MAX_ATTEMPTS == 12
    assert backoff_before_last_attempt(NOTIFY_RETRY) == timedelta(seconds=5 + 10 + 20 + 40 + 80 + 160 + 5 * 300)
    assert timedelta(minutes=25) <= backoff_before_last_attempt(NOTIFY_RETRY) <= timedelta(minutes=35)


def test_an_immediate_notification_is_escalated_within_minutes() -> None:
    assert IMMEDIATE_NOTIFY_RETRY.maximum_attempts == IMMEDIATE_NOTIFY_MAX_ATTEMPTS == 6
    assert backoff_before_last_attempt(IMMEDIATE_NOTIFY_RETRY) == timedelta(seconds=5 + 10 + 20 + 40 + 80)


def test_an_escalation_is_retried_but_never_forever() -> None:
    assert ESCALATE_RETRY.maximum_attempts > 0  # 0 would mean forever, holding the journey's next run back
