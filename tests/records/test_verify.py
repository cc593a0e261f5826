"""Tampering with the stored record, as an intruder with database rights would, and verify() catching it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from records import ChainHead, EventStore, ProblemKind, VerificationReport
from records.hashing import event_hash
from records.schema import trial_events
from tests.records.conftest import (
    OTHER_STUDY,
    RECORDED_AT,
    STUDY,
    as_stored,
    guards_lifted,
    make_event,
    make_events,
)

SAME_PATIENT = f"study_id = '{STUDY}'"


@pytest.fixture
def recorded(store: EventStore) -> EventStore:
    """Four events of one patient and two of another."""
    store.append([*make_events(4), *make_events(2, OTHER_STUDY)])
    return store


def flagged(report: VerificationReport, study_id: str = STUDY) -> dict[int, set[ProblemKind]]:
    """Sequence -> the kinds of problem reported for it."""
    found: dict[int, set[ProblemKind]] = {}
    for problem in report.problems:
        if problem.study_id == study_id:
            found.setdefault(problem.sequence, set()).add(problem.kind)
    return found


def test_an_untouched_record_verifies_clean(recorded: EventStore) -> None:
    report = recorded.verify()

    assert report.ok
    assert (report.checked_studies, report.checked_events) == (2, 6)
    assert "intact: 6 events of 2 patients" in report.describe()
    assert recorded.verify(STUDY).checked_events == 4


def test_an_empty_record_verifies_clean(store: EventStore) -> None:
    report = store.verify()
    assert report.ok
    assert (report.checked_studies, report.checked_events) == (0, 0)


def test_the_database_itself_refuses_to_change_or_delete_a_recorded_event(recorded: EventStore) -> None:
    for statement in (
        f"UPDATE trial_events SET payload = '{{}}' WHERE {SAME_PATIENT} AND sequence = 2",
        f"DELETE FROM trial_events WHERE {SAME_PATIENT} AND sequence = 4",
        *(["TRUNCATE trial_events"] if recorded.dialect == "postgresql" else []),
    ):
        with pytest.raises(DBAPIError, match="append-only"), recorded.engine.begin() as connection:
            connection.execute(text(statement))
    assert recorded.verify().ok
    assert recorded.last_sequence(STUDY) == 4


def test_an_edited_payload_is_detected_at_its_sequence(recorded: EventStore) -> None:
    with guards_lifted(recorded) as connection:
        connection.execute(
            text(f"UPDATE trial_events SET payload = :payload WHERE {SAME_PATIENT} AND sequence = 2"),
            {"payload": '{"notes":"tolerated well","step":2,"values":[1,2.5,null,false]}'},
        )

    report = recorded.verify()

    assert flagged(report) == {2: {ProblemKind.ALTERED}}
    assert flagged(report, OTHER_STUDY) == {}
    assert "event 2 of TF-001 was changed after it was recorded" in report.describe()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("event_type", "StepSkipped"),
        ("occurred_at", datetime(2020, 1, 1, tzinfo=UTC)),
        ("recorded_at", datetime(2030, 1, 1, tzinfo=UTC)),
        ("actor_user_id", "someone.else"),
        ("actor_role", "investigator"),
        ("protocol_version", "9.9"),
        ("payload", "{}"),
        ("reason", "added after the fact"),
    ],
)
def test_an_edit_of_any_field_is_detected_at_its_sequence(recorded: EventStore, column: str, value: object) -> None:
    if isinstance(value, datetime):
        value = as_stored(recorded, value)
    with guards_lifted(recorded) as connection:
        connection.execute(
            text(f"UPDATE trial_events SET {column} = :value WHERE {SAME_PATIENT} AND sequence = 3"),
            {"value": value},
        )

    assert flagged(recorded.verify()) == {3: {ProblemKind.ALTERED}}


REASON = "Creatinine repeated: the first sample was haemolysed"


@pytest.mark.parametrize(
    ("sequence", "new_reason"),
    [
        (2, "Creatinine repeated: the first sample was haemolysed."),  # one character added
        (2, "Physician's decision"),  # replaced
        (2, None),  # erased
        (2, ""),  # blanked
        (3, "Weight re-measured"),  # a reason slipped in where none was given
    ],
)
def test_an_edited_reason_is_detected_naming_its_sequence(
    store: EventStore, sequence: int, new_reason: str | None
) -> None:
    store.append([make_event(1), make_event(2, reason=REASON), make_event(3)])
    assert store.verify().ok

    with guards_lifted(store) as connection:
        connection.execute(
            text(f"UPDATE trial_events SET reason = :reason WHERE {SAME_PATIENT} AND sequence = :sequence"),
            {"reason": new_reason, "sequence": sequence},
        )

    report = store.verify()

    assert flagged(report) == {sequence: {ProblemKind.ALTERED}}
    assert f"event {sequence} of TF-001 was changed after it was recorded" in report.describe()


def test_a_deleted_event_in_the_middle_is_detected(recorded: EventStore) -> None:
    with guards_lifted(recorded) as connection:
        connection.execute(text(f"DELETE FROM trial_events WHERE {SAME_PATIENT} AND sequence = 2"))

    report = recorded.verify()

    assert flagged(report) == {2: {ProblemKind.MISSING}, 3: {ProblemKind.BROKEN_LINK}}
    assert "event 2 is missing from the record of TF-001" in report.describe()
    assert "event 3 of TF-001 is not linked to its predecessor" in report.describe()


def test_several_deleted_events_are_named_as_a_range(recorded: EventStore) -> None:
    with guards_lifted(recorded) as connection:
        connection.execute(text(f"DELETE FROM trial_events WHERE {SAME_PATIENT} AND sequence IN (1, 2, 3)"))

    report = recorded.verify()

    assert flagged(report) == {1: {ProblemKind.MISSING}, 4: {ProblemKind.BROKEN_LINK}}
    assert "events 1 to 3 are missing from the record of TF-001" in report.describe()


def test_two_swapped_events_are_detected(recorded: EventStore) -> None:
    with guards_lifted(recorded) as connection:
        for old, new in ((2, 1000), (3, 2), (1000, 3)):
            connection.execute(
                text(f"UPDATE trial_events SET sequence = :new WHERE {SAME_PATIENT} AND sequence = :old"),
                {"old": old, "new": new},
            )

    found = flagged(recorded.verify())

    assert set(found) == {2, 3, 4}
    assert {ProblemKind.ALTERED, ProblemKind.BROKEN_LINK} <= found[2]
    assert {ProblemKind.ALTERED, ProblemKind.BROKEN_LINK, ProblemKind.REORDERED} <= found[3]
    assert found[4] == {ProblemKind.BROKEN_LINK}


def test_a_changed_hash_is_detected_at_its_sequence_and_the_next(recorded: EventStore) -> None:
    with guards_lifted(recorded) as connection:
        connection.execute(
            text(f"UPDATE trial_events SET hash = :forged WHERE {SAME_PATIENT} AND sequence = 2"),
            {"forged": "f" * 64},
        )

    assert flagged(recorded.verify()) == {2: {ProblemKind.ALTERED}, 3: {ProblemKind.BROKEN_LINK}}


def test_an_event_moved_to_another_patient_is_detected_in_both_records(recorded: EventStore) -> None:
    with guards_lifted(recorded) as connection:
        connection.execute(
            text(f"UPDATE trial_events SET study_id = :other WHERE {SAME_PATIENT} AND sequence = 4"),
            {"other": "TF-003"},
        )

    report = recorded.verify()

    assert flagged(report, "TF-003") == {
        1: {ProblemKind.MISSING},
        4: {ProblemKind.ALTERED, ProblemKind.BROKEN_LINK},
    }


def test_a_forged_event_inserted_in_the_middle_is_detected_even_with_a_well_computed_hash(
    recorded: EventStore,
) -> None:
    """The intruder knows the hash recipe: renumbers events 3 and 4, slips a sealed forgery in as 3."""
    genuine = recorded.stored_events_for(STUDY)
    forged = make_event(3, event_type="ConsentWithdrawn", payload={})
    forged_values = {**forged.columns(), "recorded_at": RECORDED_AT, "previous_hash": genuine[1].hash}
    forged_hash = event_hash(forged_values)
    with guards_lifted(recorded) as connection:
        for old in (4, 3):
            connection.execute(
                text(f"UPDATE trial_events SET sequence = :new WHERE {SAME_PATIENT} AND sequence = :old"),
                {"old": old, "new": old + 1},
            )
        connection.execute(insert(trial_events).values(**forged_values, hash=forged_hash))

    found = flagged(recorded.verify())

    assert 3 not in found  # the forgery itself is well sealed ...
    assert found[4] == {
        ProblemKind.ALTERED,
        ProblemKind.BROKEN_LINK,
        ProblemKind.REORDERED,
    }  # ... what follows
    assert found[5] == {ProblemKind.ALTERED}  # renumbered, so no longer matching its seal


def test_events_cut_from_the_end_are_detected_against_a_published_head(recorded: EventStore) -> None:
    published = recorded.chain_head(STUDY)
    assert published is not None
    with guards_lifted(recorded) as connection:
        connection.execute(text(f"DELETE FROM trial_events WHERE {SAME_PATIENT} AND sequence >= 3"))

    report = recorded.verify(known_heads=[published])

    assert flagged(report) == {4: {ProblemKind.TRUNCATED}}
    assert "the record of TF-001 ends at event 2, but a published head holds event 4" in report.describe()


def test_a_whole_patient_removed_is_detected_against_a_published_head(recorded: EventStore) -> None:
    published = recorded.chain_head(OTHER_STUDY)
    assert published is not None
    with guards_lifted(recorded) as connection:
        connection.execute(text("DELETE FROM trial_events WHERE study_id = :study"), {"study": OTHER_STUDY})

    report = recorded.verify(known_heads=[published])

    assert flagged(report, OTHER_STUDY) == {2: {ProblemKind.TRUNCATED}}
    assert "the record of TF-002 holds no event" in report.describe()


def test_a_published_head_that_no_longer_matches_is_detected(recorded: EventStore) -> None:
    stale = ChainHead(study_id=STUDY, sequence=2, hash="0" * 64)
    assert flagged(recorded.verify(known_heads=[stale])) == {2: {ProblemKind.ALTERED}}
    assert recorded.verify(STUDY, known_heads=[recorded.chain_head(STUDY)]).ok  # type: ignore[list-item]


def test_events_cut_from_the_end_are_detected_against_the_patient_summary(recorded: EventStore) -> None:
    recorded.rebuild_projections(lambda study_id, events: {"events": len(events)})
    with guards_lifted(recorded) as connection:
        connection.execute(text(f"DELETE FROM trial_events WHERE {SAME_PATIENT} AND sequence = 4"))

    report = recorded.verify()

    assert flagged(report) == {4: {ProblemKind.TRUNCATED}}
    assert "the summary of TF-001 was built from events up to 4, but the record ends at event 3" in report.describe()


def test_verifying_one_patient_reports_only_that_patient(recorded: EventStore) -> None:
    with guards_lifted(recorded) as connection:
        connection.execute(text("UPDATE trial_events SET payload = '{}' WHERE sequence = 1"))

    assert set(flagged(recorded.verify(OTHER_STUDY), STUDY)) == set()
    assert flagged(recorded.verify(OTHER_STUDY), OTHER_STUDY) == {1: {ProblemKind.ALTERED}}
    assert recorded.verify(OTHER_STUDY).checked_studies == 1
