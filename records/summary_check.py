"""Patient summaries checked by folding their events again: a summary edited in the database (say, a CRS grade the
events never gave) no longer equals what its events fold to, and is named."""

from __future__ import annotations

from typing import Any

from records.hashing import canonical_json
from records.patient_projection import project_patient as fold_patient
from records.projections import PHASE_KEY, PatientProjector
from records.store import EventStore
from records.verification import ProblemKind, VerificationProblem


def summary_problems(
    store: EventStore, project_patient: PatientProjector = fold_patient, study_id: str | None = None
) -> list[VerificationProblem]:
    """Every patient summary (or `study_id`'s) that is not its events 1..`updated_through_sequence` folded again."""
    summaries = store.patient_summaries()
    problems: list[VerificationProblem] = []
    for summary in summaries:
        if study_id is not None and summary.study_id != study_id:
            continue
        through = summary.updated_through_sequence
        events = [event for event in store.events_for(summary.study_id) if event.sequence <= through]
        if len(events) < through or not events:
            continue  # events missing: the chain's and the truncation check's to name
        folded = comparable(project_patient(summary.study_id, events))
        stored = comparable(summary.summary)
        if canonical_json(folded) != canonical_json(stored) or folded.get(PHASE_KEY) != summary.phase:
            differing = sorted(key for key in {*folded, *stored} if folded.get(key) != stored.get(key))
            if folded.get(PHASE_KEY) != summary.phase and "phase column" not in differing:
                differing.append("phase column")
            problems.append(
                VerificationProblem(
                    study_id=summary.study_id,
                    sequence=through,
                    kind=ProblemKind.SUMMARY_DIFFERS,
                    description=(
                        f"the summary of {summary.study_id} is not what its events 1 to {through} fold to "
                        f"({', '.join(differing)} differ): it was edited in the database"
                    ),
                )
            )
    return problems


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """Items due at the same moment may come in either order (a plan's drugs fold in the order their event was
    decided, or read back with sorted keys): the due items are compared as a set, the next one by its day."""
    due = summary.get("due")
    next_due = summary.get("next_due")
    return {
        **summary,
        "due": sorted(canonical_json(item) for item in due) if isinstance(due, list) else due,
        "next_due": (
            {key: next_due.get(key) for key in ("due_on", "overdue")} if isinstance(next_due, dict) else next_due
        ),
    }
