"""Supervisors' read models, folded from the trial record's events by the domain: never edited by hand.

A patient's summary is their status as of their last recorded event; the cohort's is counted from the summaries.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any

from domain.journey import JourneyState, fold, initial_state
from domain.journey.events import Event
from records import EventStore, SummaryWrite
from records.event_rows import as_read_back, to_event
from records.patient_projection import project_patient, summary_of

__all__ = ["FOLDED_PATIENTS_KEPT", "FoldedPatients", "project_cohort", "project_patient", "summary_of"]

# The patients whose steps staff are entering now: an append follows on from the last one of the same patient within
# minutes, while a patient waiting days for a visit is folded again from the record then (about 50 ms for fifteen
# years' thousand events, 7 ms for five years' 130). Each state is about 21 KiB at infusion, in every worker beside
# its cached journeys: kept for 1,000 patients a worker, they were two a cached journey in the benchmark
# (docs/performance.md, issue 19).
FOLDED_PATIENTS_KEPT = 128


class FoldedPatients:
    """Each patient's state as folded through the last events this worker appended, so that the next append folds
    its own events only: a patient fifteen years in has a thousand events, and re-reading them all at every step
    made each append slower than the last. The state is used only when the new events follow on from it (the
    same sequence numbers, in the record already); otherwise (another worker appended, or a restart) the patient
    is folded again from the record. The least recently appended patients are forgotten first."""

    def __init__(self, capacity: int | None = None) -> None:
        self._capacity = FOLDED_PATIENTS_KEPT if capacity is None else capacity
        self._states: OrderedDict[str, JourneyState] = OrderedDict()
        self._lock = threading.Lock()  # activities run on a thread pool

    def summary_after(self, store: EventStore, events: Sequence[Event]) -> tuple[JourneyState, SummaryWrite] | None:
        """The patient's state and summary once the record holds `events` (one patient's, in order), folded before
        they are appended so that both are written in one transaction; None when they do not follow on from the
        record (the append refuses them). Nothing is remembered until `remember` (after the append commits)."""
        study_id = events[0].study_id
        events = [as_read_back(e) for e in events]  # folded as a fold of the record would fold them
        with self._lock:
            known = self._states.get(study_id)
        if known is not None and known.last_sequence + 1 == events[0].sequence:
            state, last = fold(known, events), events[-1]
        else:
            recorded = [to_event(e) for e in store.events_for(study_id)]
            state = fold(initial_state(study_id), recorded)
            new = [e for e in events if e.sequence > state.last_sequence]
            if new and new[0].sequence != state.last_sequence + 1:
                return None
            state = fold(state, new)
            last = (recorded + new)[-1]
        summary = SummaryWrite(
            study_id=study_id, summary=summary_of(state, last.occurred_at), through_sequence=last.sequence
        )
        return state, summary

    def remember(self, study_id: str, state: JourneyState) -> None:
        """`state` is what the record now holds for `study_id`: the next append folds only its own events."""
        with self._lock:
            self._states.pop(study_id, None)
            self._states[study_id] = state
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)


def project_cohort(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "patients": len(summaries),
        "by_phase": dict(Counter(s["phase"] for s in summaries)),
        "infused": sum(1 for s in summaries if s["infused_on"] is not None),
        "dose_limiting_toxicities": sum(1 for s in summaries if s["dose_limiting_toxicity"]),
        "primary_endpoint": dict(Counter(s["primary_endpoint"] for s in summaries)),
        "open_expedited_reports": sum(len(s["open_expedited_reports"]) for s in summaries),
        "overdue": sum(1 for s in summaries if s["overdue"]),
    }
