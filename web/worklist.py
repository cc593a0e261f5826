"""Each role's home: what is overdue, due today and coming soon for that role, across the running journeys."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final

from domain.journey.status_view import DueItem, PatientStatus
from domain.roles import Role
from domain.site_time import site_date
from facade import TrialClient
from observability.logging import get_logger
from web.step_links import item_link, may_record

_log = get_logger("web.worklist")

# How far ahead "coming" looks: a week of the site's calendar.
COMING_DAYS: Final = 7
# Roles that read every role's items (they record none themselves).
SEES_EVERY_ROLE: Final = frozenset({Role.SUPERVISOR})


@dataclass(frozen=True)
class WorkItem:
    study_id: str
    item: DueItem
    recordable: bool = False  # the reader's role may record it (a supervisor reads every role's items)

    @property
    def link(self) -> str:
        """One click from the step: its form, with what the item says already filled in (its visit, drug, day);
        for a reader who may not record it, its place on the patient's page."""
        if self.recordable:
            return item_link(self.study_id, self.item)
        return f"/patient/{self.study_id}#due-{self.item.code}"


@dataclass(frozen=True)
class Worklist:
    today: date
    overdue: list[WorkItem] = field(default_factory=list)
    due_today: list[WorkItem] = field(default_factory=list)
    coming: list[WorkItem] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # journeys that could not answer just now
    trial_unanswered: bool = False  # Temporal listed no journey (unreachable, or a kept record's server is gone)

    @property
    def empty(self) -> bool:
        return not (self.overdue or self.due_today or self.coming)


def worklist_of(statuses: Iterable[PatientStatus], role: Role, today: date) -> Worklist:
    """The items of `role` (every role's for supervisors), each in one bucket: overdue, due today (or undated: due
    now), or due within COMING_DAYS; later ones are left for later."""
    found = Worklist(today=today)
    horizon = today + timedelta(days=COMING_DAYS)
    for status in statuses:
        for item in status.due:
            if role not in SEES_EVERY_ROLE and item.responsible is not role:
                continue
            work = WorkItem(status.study_id, item, recordable=may_record(role, item))
            if item.overdue:
                found.overdue.append(work)
            elif item.due_on is None or item.due_on <= today:
                found.due_today.append(work)
            elif item.due_on <= horizon:
                found.coming.append(work)
    for bucket in (found.overdue, found.due_today, found.coming):
        bucket.sort(key=lambda work: (work.item.due_on or today, work.study_id))
    return found


async def current_worklist(trial: TrialClient, role: Role, now: datetime) -> Worklist:
    """The worklist at `now`, from every running journey's status (asked concurrently); a journey that cannot answer
    just now is named, not hidden."""
    try:
        listings = await trial.list_patients()
    except Exception:  # any failure: the page says the running journeys cannot be asked, not an error page
        _log.warning("worklist_without_the_running_trial", exc_info=True)
        return Worklist(today=site_date(now, trial.protocol.schedule), trial_unanswered=True)
    listed = [listing.study_id for listing in listings if listing.running]
    answers = await asyncio.gather(*(trial.status(study_id) for study_id in listed), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, BaseException) and not isinstance(answer, Exception):
            raise answer  # cancelled: not a journey's problem
    found = worklist_of(
        (answer for answer in answers if isinstance(answer, PatientStatus)),
        role,
        site_date(now, trial.protocol.schedule),
    )
    found.unreadable.extend(study_id for study_id, a in zip(listed, answers, strict=True) if isinstance(a, Exception))
    return found
