"""The worklist's buckets: overdue, due today (or undated), coming within a week; a role sees its own items, a
supervisor every role's."""

from __future__ import annotations

from datetime import date, timedelta

from domain.journey.status_view import DueItem, PatientStatus
from domain.roles import Role
from web.worklist import COMING_DAYS, WorkItem, worklist_of

TODAY = date(2026, 12, 6)


def status(study_id: str, *items: DueItem) -> PatientStatus:
    # Only what the worklist reads: the study id and the due items.
    return PatientStatus.model_construct(study_id=study_id, due=items)


def item(code: str, role: Role, due_on: date | None = None, overdue: bool = False) -> DueItem:
    return DueItem(code=code, what=f"do {code}", responsible=role, due_on=due_on, overdue=overdue)


STATUSES = [
    status(
        "WL-002",
        item("LATE", Role.NURSE, TODAY - timedelta(days=1), overdue=True),
        item("NOW", Role.NURSE),
        item("TODAY", Role.NURSE, TODAY),
        item("SOON", Role.NURSE, TODAY + timedelta(days=COMING_DAYS)),
        item("LATER", Role.NURSE, TODAY + timedelta(days=COMING_DAYS + 1)),
        item("NOT-MINE", Role.PHARMACY, TODAY),
    ),
    status("WL-001", item("TODAY", Role.NURSE, TODAY)),
]


def codes(bucket: list[WorkItem]) -> list[tuple[str, str]]:
    return [(work.study_id, work.item.code) for work in bucket]


def test_each_item_of_the_role_is_in_one_bucket_and_later_ones_wait() -> None:
    found = worklist_of(STATUSES, Role.NURSE, TODAY)
    assert codes(found.overdue) == [("WL-002", "LATE")]
    assert codes(found.due_today) == [("WL-001", "TODAY"), ("WL-002", "NOW"), ("WL-002", "TODAY")]
    assert codes(found.coming) == [("WL-002", "SOON")]
    assert found.due_today[0].link == "/patient/WL-001#due-TODAY"


def test_another_role_sees_only_its_own_and_a_supervisor_sees_every_roles() -> None:
    pharmacy = worklist_of(STATUSES, Role.PHARMACY, TODAY)
    assert codes(pharmacy.due_today) == [("WL-002", "NOT-MINE")] and not pharmacy.overdue and not pharmacy.coming
    assert worklist_of(STATUSES, Role.PHYSICIAN, TODAY).empty
    supervisor = worklist_of(STATUSES, Role.SUPERVISOR, TODAY)
    assert len(supervisor.due_today) == 4 and len(supervisor.overdue) == 1


def test_an_item_links_to_its_form_for_a_role_that_may_record_it_else_to_its_place_on_the_patients_page() -> None:
    statuses = [status("WL-003", item("D7", Role.RESEARCH_COORDINATOR, TODAY), item("LD-FLU-1", Role.PHARMACY, TODAY))]
    coordinator = worklist_of(statuses, Role.RESEARCH_COORDINATOR, TODAY)
    assert [w.link for w in coordinator.due_today] == ["/patient/WL-003/steps/record_visit?visit_code=D7"]
    pharmacy = worklist_of(statuses, Role.PHARMACY, TODAY)
    assert [w.link for w in pharmacy.due_today] == [
        "/patient/WL-003/steps/record_lymphodepletion_dose?drug=fludarabine&day_number=1"
    ]
    supervisor = worklist_of(statuses, Role.SUPERVISOR, TODAY)  # reads every item, records none
    assert [w.link for w in supervisor.due_today] == ["/patient/WL-003#due-D7", "/patient/WL-003#due-LD-FLU-1"]
