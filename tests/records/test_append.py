"""Appending to the trial record and reading it back: idempotent, never overwritten, never with a hole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from domain.record_limits import REASON_MAX_LENGTH
from records import (
    GENESIS_HASH,
    ConflictingEventError,
    EventStore,
    RecordedEvent,
    SequenceGapError,
)
from records.schema import trial_events
from tests.records.conftest import OTHER_STUDY, RECORDED_AT, STUDY, FixedClock, make_event, make_events


def row_count(store: EventStore) -> int:
    with store.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(trial_events)) or 0


def test_events_read_back_as_appended(store: EventStore) -> None:
    events = [
        *make_events(3),
        make_event(
            4,
            payload={"drug": "fludarabine", "dose_mg": 12.5, "units": "mg/m²", "nested": {"b": 1, "a": [2]}},
        ),
    ]
    result = store.append(events)

    assert [key.sequence for key in result.recorded] == [1, 2, 3, 4]
    assert result.already_recorded == ()
    assert store.events_for(STUDY) == events
    assert store.events_for(STUDY, after_sequence=2) == events[2:]
    assert store.study_ids() == [STUDY]
    assert store.last_sequence(STUDY) == 4
    assert store.last_sequence(OTHER_STUDY) == 0
    assert store.events_for(OTHER_STUDY) == []


def test_each_stored_event_is_chained_to_the_one_before(store: EventStore) -> None:
    result = store.append(make_events(3))
    stored = store.stored_events_for(STUDY)

    assert stored[0].previous_hash == GENESIS_HASH
    assert [s.previous_hash for s in stored[1:]] == [s.hash for s in stored[:-1]]
    assert [s.hash for s in stored] == [key.hash for key in result.recorded]
    assert all(s.recorded_at == RECORDED_AT for s in stored)
    head = store.chain_head(STUDY)
    assert head is not None
    assert (head.sequence, head.hash) == (3, stored[-1].hash)
    assert store.chain_head(OTHER_STUDY) is None


def test_appending_the_same_events_again_changes_nothing(store: EventStore, clock: FixedClock) -> None:
    first = store.append(make_events(3))
    clock.advance(timedelta(hours=5))  # a retry much later must not re-stamp anything

    again = store.append(make_events(3))

    assert again.recorded == ()
    assert again.already_recorded == first.recorded
    assert row_count(store) == 3
    assert all(s.recorded_at == RECORDED_AT for s in store.stored_events_for(STUDY))


def test_a_retried_batch_overlapping_the_record_appends_only_the_new_events(store: EventStore) -> None:
    store.append(make_events(2))

    result = store.append([make_event(2), make_event(3), make_event(4)])

    assert [key.sequence for key in result.already_recorded] == [2]
    assert [key.sequence for key in result.recorded] == [3, 4]
    assert store.verify().ok


def test_events_of_a_batch_are_taken_in_sequence_order_whatever_order_they_come_in(store: EventStore) -> None:
    result = store.append([make_event(3), make_event(1), make_event(2), make_event(1, OTHER_STUDY)])

    assert [(key.study_id, key.sequence) for key in result.recorded] == [
        (STUDY, 1),
        (STUDY, 2),
        (STUDY, 3),
        (OTHER_STUDY, 1),
    ]
    assert store.study_ids() == [STUDY, OTHER_STUDY]
    assert store.verify().ok


def test_an_identical_event_twice_in_one_batch_is_recorded_once(store: EventStore) -> None:
    result = store.append([make_event(1), make_event(1), make_event(2)])

    assert [key.sequence for key in result.recorded] == [1, 2]
    assert row_count(store) == 2


@pytest.mark.parametrize(
    ("field", "other_value"),
    [
        ("event_type", "SomethingElse"),
        ("occurred_at", datetime(2025, 3, 2, 8, 32, 0, 123457, tzinfo=UTC)),  # one microsecond later
        ("actor_user_id", "dr.osei"),
        ("actor_role", "physician"),
        ("protocol_version", "1.1"),
        ("payload", {"step": 1, "notes": "tolerated well", "values": [1, 2.5, None, False]}),
    ],
)
def test_a_different_event_under_a_recorded_sequence_is_refused_and_nothing_is_written(
    store: EventStore, field: str, other_value: Any
) -> None:
    store.append(make_events(2))
    before = store.stored_events_for(STUDY)

    with pytest.raises(ConflictingEventError) as refused:
        # A valid new event rides in the same batch: it must not be written either.
        store.append([make_event(3), make_event(1, **{field: other_value})])

    assert refused.value.study_id == STUDY
    assert refused.value.sequence == 1
    assert "event 1 of TF-001" in str(refused.value)
    assert ("the payload differs" if field == "payload" else f"{field} is ") in str(refused.value)
    assert len(refused.value.differences) == 1
    assert store.stored_events_for(STUDY) == before


REASON = "Dose reduced to 80 %: grade 3 neutropenia, decided with the PI"


@pytest.mark.parametrize(
    "reason",
    [
        None,
        REASON,
        "Réduction de dose décidée avec l'investigateur principal — 用量减少 — 👩‍⚕️ 🧪",
        "e\u0301 (combining accent) and ﬁ ligature: kept exactly as typed",
        "Two lines:\nfirst the finding,\r\nthen the decision\t(tab kept)",
        "  leading and trailing spaces kept  ",
        "x" * REASON_MAX_LENGTH,
        "€" * REASON_MAX_LENGTH,  # the limit counts characters, not bytes
    ],
)
def test_the_reason_reads_back_exactly_as_given(store: EventStore, reason: str | None) -> None:
    event = make_event(1, reason=reason)
    store.append([event, make_event(2)])

    stored = store.stored_events_for(STUDY)

    assert stored[0].event.reason == reason
    assert stored[0].event == event
    assert stored[1].event.reason is None  # no reason given: None, not inherited from the event before
    assert store.events_for(STUDY) == [event, make_event(2)]
    assert store.verify().ok
    with store.engine.connect() as connection:
        assert connection.scalar(select(trial_events.c.reason).where(trial_events.c.sequence == 1)) == reason


@pytest.mark.parametrize("blank", ["", " ", "\n\t "])
def test_a_blank_reason_is_no_reason(store: EventStore, blank: str) -> None:
    assert make_event(1, reason=blank).reason is None
    store.append([make_event(1)])

    result = store.append([make_event(1, reason=blank)])  # a retry from a form left empty

    assert [key.sequence for key in result.already_recorded] == [1]
    assert store.events_for(STUDY)[0].reason is None


def test_an_identical_reason_offered_again_is_already_recorded(store: EventStore) -> None:
    store.append([make_event(1, reason=REASON)])
    result = store.append([make_event(1, reason=REASON), make_event(2, reason=REASON)])

    assert [key.sequence for key in result.already_recorded] == [1]
    assert [key.sequence for key in result.recorded] == [2]


@pytest.mark.parametrize(
    ("recorded_reason", "offered_reason", "said"),
    [
        (REASON, "Dose reduced to 80 %: grade 3 neutropenia", "the reason differs"),
        (REASON, REASON + " ", "the reason differs"),
        (REASON, None, "the reason differs: the record has one, none is given now"),
        (None, REASON, "the reason differs: the record has none, one is given now"),
    ],
)
def test_a_different_reason_under_a_recorded_sequence_is_refused_and_nothing_is_written(
    store: EventStore, recorded_reason: str | None, offered_reason: str | None, said: str
) -> None:
    store.append([make_event(1, reason=recorded_reason)])
    before = store.stored_events_for(STUDY)

    with pytest.raises(ConflictingEventError) as refused:
        store.append([make_event(2), make_event(1, reason=offered_reason)])

    assert (refused.value.study_id, refused.value.sequence) == (STUDY, 1)
    assert refused.value.differences == [said]
    assert "event 1 of TF-001 is already recorded with different content" in str(refused.value)
    assert "neutropenia" not in str(refused.value)  # the words themselves stay out of errors and logs
    assert store.stored_events_for(STUDY) == before


def test_two_reasons_for_one_sequence_in_one_batch_are_refused(store: EventStore) -> None:
    with pytest.raises(ConflictingEventError, match="event 1 of TF-001") as refused:
        store.append([make_event(1, reason=REASON), make_event(1, reason="another reason")])
    assert refused.value.differences == ["reason differs", "both in the same batch"]
    assert row_count(store) == 0


def test_the_same_instant_in_another_time_zone_is_the_same_event(store: EventStore) -> None:
    event = make_event(1)
    store.append([event])
    elsewhere = event.occurred_at.astimezone(timezone(timedelta(hours=-5)))

    result = store.append([make_event(1, occurred_at=elsewhere)])

    assert [key.sequence for key in result.already_recorded] == [1]


def test_two_different_events_with_one_sequence_in_one_batch_are_refused(store: EventStore) -> None:
    with pytest.raises(ConflictingEventError, match="event 1 of TF-001"):
        store.append([make_event(1), make_event(1, event_type="Other")])
    assert row_count(store) == 0


@pytest.mark.parametrize(
    ("already", "batch", "refused_sequence", "last_recorded"),
    [
        (0, [2], 2, 0),  # a first event that is not 1
        (3, [5], 5, 3),
        (3, [4, 6], 6, 4),  # 4 would fit, but the batch is all or nothing
        (1, [2, 3, 5], 5, 3),
    ],
)
def test_an_event_that_would_leave_a_hole_is_refused_and_nothing_is_written(
    store: EventStore, already: int, batch: list[int], refused_sequence: int, last_recorded: int
) -> None:
    if already:
        store.append(make_events(already))

    with pytest.raises(SequenceGapError) as refused:
        store.append([make_event(sequence) for sequence in batch])

    assert (refused.value.study_id, refused.value.sequence) == (STUDY, refused_sequence)
    assert refused.value.last_recorded == last_recorded
    assert f"event {refused_sequence} of {STUDY} cannot be recorded" in str(refused.value)
    assert store.last_sequence(STUDY) == already


def test_a_gap_for_one_patient_refuses_the_other_patients_events_in_the_batch(store: EventStore) -> None:
    with pytest.raises(SequenceGapError):
        store.append([make_event(1, OTHER_STUDY), make_event(2, STUDY)])
    assert store.study_ids() == []


def test_an_empty_batch_is_a_no_op(store: EventStore) -> None:
    result = store.append([])
    assert (result.recorded, result.already_recorded) == ((), ())


@pytest.mark.parametrize(
    "changes",
    [
        {"sequence": 0},
        {"occurred_at": datetime(2025, 3, 1, 8, 30)},  # no time zone
        {"study_id": "Jane Doe 2011-04-02"},  # never a name or a birth date
        {"payload": {"temperature": float("nan")}},
        {"event_type": ""},
        {"actor_user_id": "nurse lee"},
        {"reason": "x" * (REASON_MAX_LENGTH + 1)},
        {"reason": "dose held\x00"},  # NUL: PostgreSQL cannot store it
        {"reason": "dose\x1bheld"},  # an invisible control character
        {"reason": "dose held \ud83d"},  # half of an emoji: not text (pydantic refuses it)
    ],
)
def test_the_envelope_refuses_what_the_record_cannot_keep(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RecordedEvent(**{**make_event(1).model_dump(), **changes})


def test_timestamps_come_back_in_utc_to_the_microsecond(store: EventStore, clock: FixedClock) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    pacific = timezone(timedelta(hours=-8))
    clock.now = datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=pacific)  # the store's clock, not UTC either
    event = make_event(1, occurred_at=datetime(2025, 1, 1, 0, 0, 0, 1, tzinfo=india))

    store.append([event])
    stored = store.stored_events_for(STUDY)[0]

    assert stored.event.occurred_at == datetime(2024, 12, 31, 18, 30, 0, 1, tzinfo=UTC)
    assert stored.event.occurred_at.utcoffset() == timedelta(0)
    assert stored.recorded_at == datetime(2025, 7, 1, 7, 59, 59, 999999, tzinfo=UTC)
    assert stored.recorded_at.utcoffset() == timedelta(0)
    assert store.verify().ok


def test_timestamps_do_not_depend_on_the_postgresql_sessions_time_zone(postgres_store: EventStore) -> None:
    store = postgres_store  # SQLite has no session time zone
    store.append(make_events(2))
    options = f"{store.engine.url.query.get('options', '')} -c timezone=Asia/Kolkata".strip()
    writer_elsewhere = EventStore(store.engine.url.update_query_dict({"options": options}))
    try:
        with writer_elsewhere.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW timezone").scalar() == "Asia/Kolkata"
        writer_elsewhere.append([make_event(3)])
        assert writer_elsewhere.events_for(STUDY) == make_events(3)
        assert writer_elsewhere.verify().ok
        assert store.verify().ok  # and read back in UTC, the hashes still match
    finally:
        writer_elsewhere.close()
