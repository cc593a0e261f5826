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
from records import EventStore
from records.event_rows import to_event
from records.patient_projection import project_patient, summary_of

__all__ = ["FOLDED_PATIENTS_KEPT", "FoldedPatients", "project_cohort", "project_patient", "summary_of"]

# More than the trial's patients: a single centre enrolls tens a year. Each state is a few tens of KiB.
FOLDED_PATIENTS_KEPT = 1_000


class FoldedPatients:
    """Each patient's state as folded through the last events this worker appended, so that the next append folds
    its own events only: a patient fifteen years in has a thousand events, and re-reading them all at every step
    made each append slower than the last. The state is used only when the new events follow on from it (the
    same sequence numbers, in the record already); otherwise (another worker appended, or a restart) the patient
    is folded again from the record. The least recently appended patients are forgotten first."""

    def __init__(self, capacity: int = FOLDED_PATIENTS_KEPT) -> None:
        self._capacity = capacity
        self._states: OrderedDict[str, JourneyState] = OrderedDict()
        self._lock = threading.Lock()  # activities run on a thread pool

    def summary_after_append(self, store: EventStore, events: Sequence[Event]) -> tuple[dict[str, Any], int]:
        """The patient's summary now that the record holds `events`, and the last sequence it is folded through."""
        study_id = events[0].study_id
        with self._lock:
            known = self._states.pop(study_id, None)
        if known is not None and known.last_sequence + 1 == events[0].sequence:
            state, last = fold(known, events), events[-1]
        else:
            recorded = [to_event(e) for e in store.events_for(study_id)]
            state, last = fold(initial_state(study_id), recorded), recorded[-1]
        with self._lock:
            self._states[study_id] = state
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)
        return summary_of(state, last.occurred_at), last.sequence


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
