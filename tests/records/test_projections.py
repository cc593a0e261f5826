"""Supervisors' projections: rebuilt from the events, the same every time, replaced whole, never edited."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from records import EventStore, ProjectionError, RecordedEvent
from tests.records.conftest import OTHER_STUDY, STUDY, FixedClock, make_event, make_events

THIRD_STUDY = "TF-003"


def project_patient(study_id: str, events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """A stand-in for the domain's fold: enough to see that the events, in order, are what it was given."""
    return {
        "study_id": study_id,
        "phase": "follow_up" if len(events) >= 3 else "screening",
        "event_count": len(events),
        "sequences": [event.sequence for event in events],
        "last_event": events[-1].event_type,
        "first_occurred_at": events[0].occurred_at.isoformat(),
    }


def project_cohort(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    phases = Counter(summary["phase"] for summary in summaries)
    return {
        "patients": [summary["study_id"] for summary in summaries],
        "by_phase": dict(sorted(phases.items())),
        "events": sum(summary["event_count"] for summary in summaries),
    }


@pytest.fixture
def cohort(store: EventStore) -> EventStore:
    store.append([*make_events(4), *make_events(2, OTHER_STUDY), *make_events(1, THIRD_STUDY)])
    return store


def contents(
    store: EventStore,
) -> tuple[list[tuple[str, str | None, int, dict[str, Any]]], dict[str, Any] | None]:
    """What the projections say, without when they were rebuilt."""
    cohort_row = store.cohort_summary(project_cohort)
    return (
        [(s.study_id, s.phase, s.updated_through_sequence, s.summary) for s in store.patient_summaries()],
        {"patients": cohort_row.patient_count, **cohort_row.summary},
    )


def test_projections_are_built_from_the_events(cohort: EventStore, clock: FixedClock) -> None:
    rebuild = cohort.rebuild_projections(project_patient)

    assert (rebuild.patients_rebuilt, rebuild.events_read) == (3, 7)
    summary = cohort.patient_summary(STUDY)
    assert summary is not None
    assert summary.summary == project_patient(STUDY, cohort.events_for(STUDY))
    assert (summary.phase, summary.updated_through_sequence, summary.rebuilt_at) == (
        "follow_up",
        4,
        clock.now,
    )
    assert cohort.patient_summary("TF-999") is None
    totals = cohort.cohort_summary(project_cohort)
    assert totals is not None
    assert (totals.patient_count, totals.event_count) == (3, 7)
    assert totals.summary == {
        "patients": [STUDY, OTHER_STUDY, THIRD_STUDY],
        "by_phase": {"follow_up": 1, "screening": 2},
        "events": 7,
    }


def test_supervisors_can_list_patients_by_phase(cohort: EventStore) -> None:
    cohort.rebuild_projections(project_patient)

    assert [s.study_id for s in cohort.patient_summaries(phase="screening")] == [OTHER_STUDY, THIRD_STUDY]
    assert [s.study_id for s in cohort.patient_summaries(phase="follow_up")] == [STUDY]
    assert cohort.patient_summaries(phase="long_term_follow_up") == []


def test_rebuilding_again_gives_the_same_projections(cohort: EventStore, clock: FixedClock) -> None:
    cohort.rebuild_projections(project_patient)
    first = contents(cohort)
    clock.advance(timedelta(days=1))

    cohort.rebuild_projections(project_patient)

    assert contents(cohort) == first
    assert all(s.rebuilt_at == clock.now for s in cohort.patient_summaries())


def test_projections_follow_new_events_once_rebuilt(cohort: EventStore) -> None:
    cohort.rebuild_projections(project_patient)
    cohort.append([make_event(3, OTHER_STUDY), make_event(1, "TF-004")])

    assert cohort.patient_summary(OTHER_STUDY).updated_through_sequence == 2  # type: ignore[union-attr]
    cohort.rebuild_projections(project_patient)

    other = cohort.patient_summary(OTHER_STUDY)
    assert other is not None
    assert (other.phase, other.updated_through_sequence, other.summary["sequences"]) == (
        "follow_up",
        3,
        [1, 2, 3],
    )
    assert [s.study_id for s in cohort.patient_summaries()] == [STUDY, OTHER_STUDY, THIRD_STUDY, "TF-004"]
    totals = cohort.cohort_summary(project_cohort)
    assert totals is not None
    assert totals.summary["by_phase"] == {"follow_up": 2, "screening": 2}
    assert totals.event_count == 9


def test_rebuilding_only_the_patients_who_changed_equals_rebuilding_everyone(cohort: EventStore) -> None:
    cohort.rebuild_projections(project_patient)
    cohort.append([make_event(5), make_event(2, THIRD_STUDY)])

    partial = cohort.rebuild_projections(project_patient, study_ids=[STUDY, THIRD_STUDY])
    after_partial = contents(cohort)
    cohort.rebuild_projections(project_patient)

    assert partial.patients_rebuilt == 2
    assert contents(cohort) == after_partial


def test_a_patient_summary_without_a_phase_is_kept_unindexed(cohort: EventStore) -> None:
    cohort.rebuild_projections(lambda study_id, events: {"events": len(events)})

    assert [s.phase for s in cohort.patient_summaries()] == [None, None, None]


def test_an_empty_record_projects_an_empty_cohort(store: EventStore) -> None:
    store.rebuild_projections(project_patient)

    assert store.patient_summaries() == []
    totals = store.cohort_summary(project_cohort)
    assert totals is not None
    assert (totals.patient_count, totals.event_count, totals.summary["patients"]) == (0, 0, [])


@pytest.mark.parametrize(
    ("patient_projector", "message"),
    [
        (lambda study_id, events: ["not", "an", "object"], "patient TF-001"),
        (lambda study_id, events: {"when": object()}, "not plain JSON"),
        (lambda study_id, events: {"score": float("inf")}, "not plain JSON"),
        (lambda study_id, events: {"phase": 3}, "'phase' must be text"),
    ],
)
def test_a_projection_that_is_not_json_leaves_the_previous_projections_in_place(
    cohort: EventStore, patient_projector: Any, message: str
) -> None:
    cohort.rebuild_projections(project_patient)
    before = contents(cohort)
    cohort.append([make_event(5)])

    with pytest.raises(ProjectionError, match=message):
        cohort.rebuild_projections(patient_projector)

    assert contents(cohort) == before


def test_a_cohort_that_is_not_json_is_refused(cohort: EventStore) -> None:
    cohort.rebuild_projections(project_patient)
    with pytest.raises(ProjectionError, match="the cohort"):
        cohort.cohort_summary(lambda summaries: None)  # type: ignore[arg-type,return-value]


def test_a_projector_that_fails_leaves_the_previous_projections_in_place(cohort: EventStore) -> None:
    cohort.rebuild_projections(project_patient)
    before = contents(cohort)

    def broken(study_id: str, events: Sequence[RecordedEvent]) -> dict[str, Any]:
        if study_id == THIRD_STUDY:  # after two patients were already projected
            raise ValueError("fold failed")
        return project_patient(study_id, events)

    with pytest.raises(ValueError, match="fold failed"):
        cohort.rebuild_projections(broken)

    assert contents(cohort) == before


def test_rebuilds_running_together_with_appends_end_consistent(cohort: EventStore) -> None:
    errors: list[BaseException] = []

    def rebuild_repeatedly() -> None:
        try:
            for _ in range(5):
                cohort.rebuild_projections(project_patient)
        except BaseException as error:  # reported to the main thread
            errors.append(error)

    def append_more() -> None:
        try:
            for sequence in range(5, 15):
                cohort.append([make_event(sequence)])
        except BaseException as error:  # reported to the main thread
            errors.append(error)

    threads = [threading.Thread(target=rebuild_repeatedly) for _ in range(3)]
    threads.append(threading.Thread(target=append_more))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    cohort.rebuild_projections(project_patient)
    assert cohort.patient_summary(STUDY).updated_through_sequence == 14  # type: ignore[union-attr]
    totals = cohort.cohort_summary(project_cohort)
    assert totals.summary["events"] == totals.event_count  # summaries and counts from one snapshot
