"""Trial-record append throughput: the store alone, and the journey's append activity (append + projections).

Events are a patient's real path to infusion, decided by the domain, one batch per staff command as the
workflow appends them; patients are written by a thread pool as wide as the worker's activity pool.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio.testing import ActivityEnvironment

from activities import projections
from activities.journey_activities import AppendEventsInput, JourneyActivities
from activities.projections import project_patient
from bench.journey_steps import enrollment_for, infusion_moment, path, study_id
from bench.load import Phase
from bench.worker_process import ACTIVITY_THREADS
from domain.journey.events import Event
from domain.protocol import CURRENT_PROTOCOL
from records import EventStore
from records.event_rows import to_row
from simulation.journey_steps import DecidedJourney

PREFILL_PREFIX, PLAIN_PREFIX, ACTIVITY_PREFIX = "FILL", "PLAIN", "ACT"

Batches = list[tuple[Event, ...]]  # one patient's events, one tuple per command, in order
Append = Callable[[tuple[Event, ...]], object]


def path_batches(patient: str) -> Batches:
    """The events of `patient`'s enrollment and path to infusion, grouped as the workflow appends them."""
    infused_at = infusion_moment()
    journey = DecidedJourney(patient, datetime.now(UTC), CURRENT_PROTOCOL)
    first = tuple(journey.do(enrollment_for(patient, infused_at)))
    return [first, *(tuple(events) for events in journey.walk(path(patient, infused_at), entered_late=True))]


def for_patient(template: Batches, patient: str) -> Batches:
    """The template patient's batches under another study id (the store chains and hashes each patient anew)."""
    return [tuple(e.model_copy(update={"study_id": patient}) for e in batch) for batch in template]


@dataclass
class AppendResult:
    phase: Phase
    events: int = 0
    patients_in_record: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def events_per_second(self) -> float | None:
        return self.events / self.phase.seconds if self.phase.seconds > 0 and self.events else None


def _append_patients(patients: Sequence[Batches], append: Append, phase: Phase, threads: int = ACTIVITY_THREADS) -> int:
    """Each patient's batches in order on one thread, patients side by side; returns the events appended."""

    def one_patient(batches: Batches) -> int:
        done = 0
        for batch in batches:
            began = time.perf_counter()
            try:
                append(batch)
            except Exception as error:
                phase.count(error)
                return done
            phase.latencies_ms.append((time.perf_counter() - began) * 1000)
            done += len(batch)
        return done

    phase.started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="append") as pool:
        appended = sum(pool.map(one_patient, patients))
    phase.ended = time.perf_counter()
    return appended


def store_append(store: EventStore, template: Batches, patients: int) -> AppendResult:
    """`EventStore.append` alone, for `patients` new patients."""
    result = AppendResult(Phase("record append"))
    work = [for_patient(template, study_id(n, PLAIN_PREFIX)) for n in range(1, patients + 1)]
    result.events = _append_patients(work, lambda batch: store.append([to_row(e) for e in batch]), result.phase)
    result.patients_in_record = patients
    return result


def rebuild_every_projection(store: EventStore) -> None:
    """Every patient's summary (and, where the store still keeps one, the cohort's) from the record."""
    parameters = inspect.signature(store.rebuild_projections).parameters
    if "project_cohort" in parameters:  # the stored cohort summary, before migration 0004 dropped it
        store.rebuild_projections(project_patient, projections.project_cohort)  # type: ignore[call-arg]
    else:
        store.rebuild_projections(project_patient)


def activity_append(store: EventStore, template: Batches, patients_already: int, patients: int) -> AppendResult:
    """The journey's `append_events` activity (append, then fold the patient's summary) for `patients` new patients,
    with `patients_already` in the record first: the projections' cost follows the record's size."""
    for_prefill = [for_patient(template, study_id(n, PREFILL_PREFIX)) for n in range(1, patients_already + 1)]
    prefill = Phase("prefill")
    whole: list[Batches] = [
        [tuple(e for batch in batches for e in batch)] for batches in for_prefill
    ]  # one append each
    _append_patients(whole, lambda batch: store.append([to_row(e) for e in batch]), prefill)
    activities = JourneyActivities(store)
    if patients_already:
        rebuild_every_projection(store)
    result = AppendResult(Phase("activity append"))
    result.phase.errors.update(prefill.errors)
    work = [for_patient(template, study_id(n, ACTIVITY_PREFIX)) for n in range(1, patients + 1)]
    # In an activity context of its own each time, as the worker would run it (the activity may ask for its info).
    result.events = _append_patients(
        work,
        lambda batch: ActivityEnvironment().run(activities.append_events, AppendEventsInput(events=batch)),
        result.phase,
    )
    result.patients_in_record = patients_already + patients
    return result
