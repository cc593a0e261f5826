"""Writers racing for one patient: one unbroken chain, each event written once, lost races retried."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Insert, event

from records import ConcurrentAppendError, ConflictingEventError, EventStore
from tests.records.conftest import STUDY, FixedClock, make_event, make_events


class UnlockedStore(EventStore):
    """A writer that skips the per-patient lock, as an older version or another tool might: only the unique
    constraint stands between it and a forked chain."""

    def _lock_patient(self, connection: Any, study_id: str) -> None:
        pass


@pytest.mark.parametrize("writer_class", [EventStore, UnlockedStore], ids=["locked", "unique-constraint-only"])
def test_concurrent_appends_for_one_patient_keep_one_unbroken_chain(
    store: EventStore, clock: FixedClock, writer_class: type[EventStore]
) -> None:
    """Eight writers push overlapping chunks of the same 30 events, each as if retrying after a timeout."""
    events = make_events(30)
    recorded_by_writer: list[int] = []
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        writer_store = writer_class(store.engine.url, clock=clock)
        recorded = 0
        try:
            while (start := writer_store.last_sequence(STUDY)) < len(events):
                # Chunks start at or before the head seen (which others may already have passed): never a gap.
                chunk = events[max(0, start - rng.randint(0, 3)) : start + rng.randint(1, 5)]
                try:
                    recorded += len(writer_store.append(chunk).recorded)
                except ConcurrentAppendError:
                    continue  # lost every race of this call (possible without the lock): try again, as told
        except BaseException as error:  # reported to the main thread
            errors.append(error)
        finally:
            writer_store.close()
            recorded_by_writer.append(recorded)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert sum(recorded_by_writer) == len(events)  # every event written exactly once
    assert store.events_for(STUDY) == events
    assert store.verify().ok


def lose_races(writer: EventStore, competitor: EventStore, times: int, **changes: Any) -> list[int]:
    """Just before `writer`'s INSERT reaches the database, `competitor` commits the first event it is about
    to insert (with `changes`), `times` times. Returns the sequences raced for. PostgreSQL only: on SQLite,
    BEGIN IMMEDIATE makes the competitor wait for the writer, so this race cannot happen there."""
    raced: list[int] = []

    @event.listens_for(writer.engine, "before_execute")
    def competitor_commits_first(
        _connection: Any, statement: Any, multiparams: Any, params: Any, _options: Any
    ) -> None:
        if isinstance(statement, Insert) and statement.table.name == "trial_events" and len(raced) < times:
            rows = multiparams[0] if multiparams else params
            sequence = (rows[0] if isinstance(rows, list) else rows)["sequence"]
            raced.append(sequence)
            competitor.append([make_event(sequence, **changes)])

    return raced


@pytest.fixture
def writer_and_competitor(postgres_store: EventStore) -> Iterator[tuple[UnlockedStore, EventStore]]:
    writer = UnlockedStore(postgres_store.engine.url, append_attempts=3)
    competitor = EventStore(postgres_store.engine.url)
    yield writer, competitor
    writer.close()
    competitor.close()


def test_a_writer_that_loses_the_race_retries_and_finds_its_event_recorded(
    postgres_store: EventStore, writer_and_competitor: tuple[UnlockedStore, EventStore]
) -> None:
    writer, competitor = writer_and_competitor
    raced = lose_races(writer, competitor, times=1)

    result = writer.append(make_events(2))

    assert raced == [1]
    assert [key.sequence for key in result.already_recorded] == [1]  # the competitor's, identical
    assert [key.sequence for key in result.recorded] == [2]
    assert postgres_store.events_for(STUDY) == make_events(2)
    assert postgres_store.verify().ok


def test_a_writer_that_loses_the_race_to_a_different_event_is_refused(
    postgres_store: EventStore, writer_and_competitor: tuple[UnlockedStore, EventStore]
) -> None:
    writer, competitor = writer_and_competitor
    lose_races(writer, competitor, times=1, payload={"step": "theirs"})

    with pytest.raises(ConflictingEventError, match="event 1 of TF-001"):
        writer.append(make_events(2))

    assert postgres_store.events_for(STUDY) == [make_event(1, payload={"step": "theirs"})]
    assert postgres_store.verify().ok


def test_a_writer_that_keeps_losing_gives_up_after_its_attempts_and_writes_nothing(
    postgres_store: EventStore, writer_and_competitor: tuple[UnlockedStore, EventStore]
) -> None:
    writer, competitor = writer_and_competitor
    raced = lose_races(writer, competitor, times=3)

    with pytest.raises(ConcurrentAppendError, match="TF-001"):
        writer.append(make_events(5))

    assert raced == [1, 2, 3]  # each of the three attempts lost its first new event to the competitor
    assert postgres_store.last_sequence(STUDY) == 3  # the competitor's three, none of the writer's
    assert postgres_store.verify().ok
