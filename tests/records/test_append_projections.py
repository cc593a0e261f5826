"""The append activity keeps each patient's summary equal to a fold of their whole record, while folding only the
new events when it can: after another worker's appends, a restart, or a retry of what the record already has."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities import projections
from activities.journey_activities import AppendEventsInput, JourneyActivities
from activities.projections import project_patient
from domain.journey.events import Event
from records import EventStore, RecordedEvent
from tests.domain.journey_driver import JourneyDriver


def a_year_after_infusion(study_id: str) -> list[Event]:
    driver = JourneyDriver(study_id)
    driver.to_follow_up()
    driver.run_timers_until(driver.now + timedelta(days=365))
    return driver.events


def append(activities: JourneyActivities, events: list[Event]) -> None:
    ActivityEnvironment().run(activities.append_events, AppendEventsInput(events=tuple(events)))


def assert_summary_is_the_whole_records(store: EventStore, study_id: str) -> None:
    recorded = store.events_for(study_id)
    summary = store.patient_summary(study_id)
    assert summary is not None
    assert summary.updated_through_sequence == recorded[-1].sequence
    assert summary.summary == project_patient(study_id, recorded)


def record_reads(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the study id of each whole-record read the store is asked for (`monkeypatch.undo()` ends it)."""
    read_back: list[str] = []
    whole_record = store.events_for

    def counted(study_id: str, after_sequence: int = 0) -> list[RecordedEvent]:
        read_back.append(study_id)
        return whole_record(study_id, after_sequence)

    monkeypatch.setattr(store, "events_for", counted)
    return read_back


def test_summaries_follow_the_record_through_other_workers_restarts_and_retries(store: EventStore) -> None:
    events = a_year_after_infusion("TF-501")
    assert len(events) > 40
    batches = [events[i : i + 3] for i in range(0, len(events), 3)]
    worker, other_worker = JourneyActivities(store), JourneyActivities(store)

    for number, batch in enumerate(batches):
        if number % 5 == 3:
            append(other_worker, batch)  # the first worker's folded state is now behind the record
        elif number % 7 == 6:
            worker = JourneyActivities(store)  # a restarted worker remembers nothing
            append(worker, batch)
        else:
            append(worker, batch)
        if number % 4 == 2:
            append(worker, batches[number - 1])  # a retry of events the record already holds
        assert_summary_is_the_whole_records(store, "TF-501")


def test_a_late_writer_never_puts_an_older_summary_back(store: EventStore) -> None:
    events = a_year_after_infusion("TF-502")
    append(JourneyActivities(store), events)
    newest = store.patient_summary("TF-502")
    assert newest is not None

    older = project_patient("TF-502", store.events_for("TF-502")[:10])
    assert not store.save_patient_summary("TF-502", older, through_sequence=10)

    assert store.patient_summary("TF-502") == newest


def test_an_append_that_follows_on_from_the_last_folds_only_its_own_events(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = a_year_after_infusion("TF-503")
    worker = JourneyActivities(store)
    append(worker, events[:3])
    read_back = record_reads(store, monkeypatch)
    for start in range(3, 15, 3):
        append(worker, events[start : start + 3])
    assert read_back == []  # the record was not read again: each append folded its own events only
    monkeypatch.undo()
    assert_summary_is_the_whole_records(store, "TF-503")


def test_a_worker_keeps_the_last_patients_it_appended_and_folds_a_forgotten_one_again_from_the_record(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projections, "FOLDED_PATIENTS_KEPT", 2)
    patients = {study_id: a_year_after_infusion(study_id) for study_id in ("TF-511", "TF-512", "TF-513")}
    worker = JourneyActivities(store)
    for events in patients.values():
        append(worker, events[:5])  # TF-511 is now the least recently appended of three: forgotten
    read_back = record_reads(store, monkeypatch)
    append(worker, patients["TF-513"][5:8])
    append(worker, patients["TF-512"][5:8])
    append(worker, patients["TF-511"][5:8])

    assert read_back == ["TF-511"]  # only the forgotten patient was folded again from the record
    monkeypatch.undo()
    for study_id in patients:
        assert_summary_is_the_whole_records(store, study_id)
