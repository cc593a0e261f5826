"""What makes two assessments the same entry: the same kind, the same moment, the same findings. The journey keeps a
digest of each current assessment so that an exact repeat (a retry after a lost reply, sent without its
Idempotency-Key) is refused as already recorded instead of being counted twice: twice the CRS, twice an adverse
event in the report. A real second assessment differs in its moment or its findings; a change is a correction."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Protocol

from pydantic import BaseModel

from domain.canonical_json import canonical_json
from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.state import (
    DiseaseAssessmentRecord,
    GradedAssessment,
    RecordedAdverseEvent,
    RecordedMaskingDose,
)

Assessed = ev.CrsAssessed | ev.IcansAssessed | ev.AdverseEventRecorded | ev.DiseaseAssessed | ev.FeverMaskingDoseGiven


class _Entry(Protocol):
    @property
    def sequence(self) -> int: ...

    @property
    def superseded_by(self) -> int | None: ...

    @property
    def content(self) -> str: ...


def assessment_content(kind: str, moment: datetime | date, *findings: BaseModel | Iterable[BaseModel]) -> str:
    """A digest of the assessment's kind, moment (an instant in UTC, or a day) and findings, in canonical JSON."""
    when = moment.astimezone(UTC).isoformat() if isinstance(moment, datetime) else moment.isoformat()
    dumped = [
        part.model_dump(mode="json") if isinstance(part, BaseModel) else [p.model_dump(mode="json") for p in part]
        for part in findings
    ]
    return hashlib.sha256(canonical_json({"kind": kind, "moment": when, "findings": dumped}).encode()).hexdigest()


def already_recorded(entries: Iterable[_Entry], content: str) -> int | None:
    """The sequence of the current (not corrected) entry with this content, if any."""
    return next((e.sequence for e in entries if e.superseded_by is None and e.content == content), None)


def content_of(payload: Assessed) -> str:
    """The digest of a recorded assessment: what `already_recorded` compares."""
    match payload:
        case ev.CrsAssessed() | ev.IcansAssessed():
            return assessment_content(payload.type, payload.assessed_at, payload.findings)
        case ev.AdverseEventRecorded():
            return assessment_content(payload.type, payload.adverse_event.onset_date, payload.adverse_event)
        case ev.DiseaseAssessed():
            found: list[BaseModel | Iterable[BaseModel]] = [payload.marrow, payload.other_tests]
            if payload.outside_marrow is not None:  # absent from the digests of entries recorded without it
                found.append(payload.outside_marrow)
            return assessment_content(payload.type, payload.marrow.assessed_on, *found)
        case ev.FeverMaskingDoseGiven():
            # The dose itself, not the entry it may correct.
            return assessment_content(payload.type, payload.given_at, payload.model_copy(update={"supersedes": None}))


def repeat_problem(entries: Iterable[_Entry], payload: Assessed, what: str) -> str | None:
    """Why `payload` may not be recorded again, when a current entry already holds exactly it."""
    sequence = already_recorded(entries, content_of(payload))
    if sequence is None:
        return None
    return (
        f"this {what} is already recorded (entry {sequence}): the same time and findings; to change that entry, "
        f"record a correction of entry {sequence}"
    )


def refuse_exact_repeat(
    ctx: Context,
    correction: cmd.Correction | None,
    entries: tuple[GradedAssessment, ...]
    | tuple[RecordedAdverseEvent, ...]
    | tuple[DiseaseAssessmentRecord, ...]
    | tuple[RecordedMaskingDose, ...],
    payload: Assessed,
    what: str,
) -> None:
    """A new entry (not a correction) identical to a current one is refused: a resend, not a second assessment."""
    if correction is None and (problem := repeat_problem(entries, payload, what)) is not None:
        ctx.refuse(problem)
