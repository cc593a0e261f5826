"""The API's Idempotency-Key ledger on SQLite and PostgreSQL: a key is its user's own; claimed once; a resend of the
same request gets the kept answer, another request under the key is told apart, a claim in flight is reported, a
released claim (nothing recorded) frees the key, and answers are forgotten after their lifetime."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from records import EventStore
from records.idempotency_keys import (
    IN_FLIGHT_LEASE,
    KEY_LIFETIME,
    PURGE_EVERY,
    Claim,
    ClaimOutcome,
    IdempotencyLedger,
)
from records.schema import idempotency_keys
from tests.records.conftest import FixedClock

ANSWER = '{"events":[]}'


def test_the_same_request_is_answered_again_and_another_request_under_the_key_is_told_apart(
    store: EventStore, clock: FixedClock
) -> None:
    ledger = IdempotencyLedger(store.engine, clock=clock)
    assert ledger.claim("nurse.lee", "k-1", "a" * 64) == Claim(ClaimOutcome.CLAIMED)
    assert ledger.claim("nurse.lee", "k-1", "a" * 64) == Claim(ClaimOutcome.IN_FLIGHT)
    assert ledger.claim("nurse.lee", "k-1", "b" * 64) == Claim(ClaimOutcome.DIFFERENT_REQUEST)
    ledger.complete("nurse.lee", "k-1", 201, ANSWER)
    assert ledger.claim("nurse.lee", "k-1", "a" * 64) == Claim(ClaimOutcome.REPLAY, 201, ANSWER)
    assert ledger.claim("nurse.lee", "k-1", "b" * 64) == Claim(ClaimOutcome.DIFFERENT_REQUEST)
    # Keys are each user's own: another person's equal key is another claim.
    assert ledger.claim("dr.li", "k-1", "b" * 64) == Claim(ClaimOutcome.CLAIMED)


def test_a_released_claim_frees_the_key_and_an_answer_is_forgotten_after_its_lifetime(
    store: EventStore, clock: FixedClock
) -> None:
    ledger = IdempotencyLedger(store.engine, clock=clock)
    assert ledger.claim("nurse.lee", "k-2", "a" * 64).outcome is ClaimOutcome.CLAIMED
    ledger.release("nurse.lee", "k-2")  # refused: nothing recorded
    assert ledger.claim("nurse.lee", "k-2", "b" * 64).outcome is ClaimOutcome.CLAIMED
    ledger.complete("nurse.lee", "k-2", 200, ANSWER)
    ledger.release("nurse.lee", "k-2")  # a done answer is never released
    clock.advance(KEY_LIFETIME - IN_FLIGHT_LEASE)
    assert ledger.claim("nurse.lee", "k-2", "b" * 64).outcome is ClaimOutcome.REPLAY
    clock.advance(IN_FLIGHT_LEASE * 2)
    assert ledger.claim("nurse.lee", "k-2", "a" * 64).outcome is ClaimOutcome.CLAIMED


def test_expired_answers_of_everyone_are_deleted_from_the_table(store: EventStore, clock: FixedClock) -> None:
    ledger = IdempotencyLedger(store.engine, clock=clock)
    for user in ("nurse.lee", "dr.li", "dr.osei"):
        ledger.claim(user, "k-5", "a" * 64)
        ledger.complete(user, "k-5", 200, ANSWER)
    clock.advance(KEY_LIFETIME + PURGE_EVERY)
    ledger.claim("nurse.lee", "k-6", "a" * 64)
    with store.engine.connect() as connection:
        kept = connection.execute(select(idempotency_keys.c.user_id, idempotency_keys.c.idempotency_key)).all()
        assert connection.execute(select(func.count()).select_from(idempotency_keys)).scalar_one() == 1
    assert [tuple(row) for row in kept] == [("nurse.lee", "k-6")]


def test_a_claim_left_in_flight_by_a_process_that_died_is_taken_over_after_its_lease(
    store: EventStore, clock: FixedClock
) -> None:
    ledger = IdempotencyLedger(store.engine, clock=clock)
    assert ledger.claim("nurse.lee", "k-3", "a" * 64).outcome is ClaimOutcome.CLAIMED
    clock.advance(IN_FLIGHT_LEASE / 2)
    assert ledger.claim("nurse.lee", "k-3", "a" * 64).outcome is ClaimOutcome.IN_FLIGHT
    clock.advance(IN_FLIGHT_LEASE)
    assert ledger.claim("nurse.lee", "k-3", "a" * 64).outcome is ClaimOutcome.CLAIMED
    assert ledger.claim("nurse.lee", "k-3", "a" * 64).outcome is ClaimOutcome.IN_FLIGHT


def test_of_many_threads_claiming_one_key_at_once_exactly_one_wins(store: EventStore, clock: FixedClock) -> None:
    ledger = IdempotencyLedger(store.engine, clock=clock)
    start = threading.Barrier(6)
    outcomes: list[ClaimOutcome] = []

    def claim() -> None:
        start.wait()
        outcomes.append(ledger.claim("nurse.lee", "k-4", "a" * 64).outcome)

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted([ClaimOutcome.CLAIMED] + [ClaimOutcome.IN_FLIGHT] * 5)
