"""Which step form records a due item, and the values it starts with: a worklist item is one click from its form."""

from __future__ import annotations

from typing import Final, get_args
from urllib.parse import urlencode

from domain.journey.calendar import CHEMO_CODE, MRD_CODE
from domain.journey.command_registry import STAFF_COMMANDS
from domain.journey.commands import Drug
from domain.journey.status_view import DueItem
from domain.roles import Role

# The journey's own items (domain/journey/views.py) by code; anything else is a scheduled visit or a safety report.
_STEP_OF_ITEM: Final = {
    "ELIGIBILITY": "confirm_eligibility",
    "CONSENT": "record_consent",
    "APHERESIS": "record_apheresis",
    "PRODUCT": "record_product_release",
    "LD-PLAN": "prescribe_lymphodepletion",
    "PRODUCT-DECISION": "decide_out_of_spec_product",
    "INFUSION": "record_infusion",
    "LATE-INFUSION": "approve_infusion_outside_window",
    MRD_CODE: "record_disease_assessment",
    CHEMO_CODE: "record_chemotherapy_resumed",
}
_REPORT_PREFIX: Final = "ER-"  # domain/journey/handlers/safety.py report_id_for
_DOSE_PREFIX: Final = "LD-"  # LD-FLU-1: fludarabine, day 1
_DRUGS: Final = {drug[:3].upper(): drug for drug in get_args(Drug)}


def step_of(item: DueItem) -> tuple[str, dict[str, str]]:
    """The step's kind and the form's starting values for `item`."""
    if item.code in _STEP_OF_ITEM:
        return _STEP_OF_ITEM[item.code], {}
    if item.code.startswith(_REPORT_PREFIX):
        return "confirm_expedited_report", {"report_id": item.code}
    parts = item.code.split("-")
    if item.code.startswith(_DOSE_PREFIX) and len(parts) == 3 and parts[1] in _DRUGS and parts[2].isdigit():
        return "record_lymphodepletion_dose", {"drug": _DRUGS[parts[1]], "day_number": parts[2]}
    return "record_visit", {"visit_code": item.code}


def step_link(study_id: str, kind: str, values: dict[str, str] | None = None) -> str:
    query = f"?{urlencode(values)}" if values else ""
    return f"/patient/{study_id}/steps/{kind}{query}"


def item_link(study_id: str, item: DueItem) -> str:
    kind, values = step_of(item)
    return step_link(study_id, kind, values)


# Every step but enrollment (the operators' own page, web/routes/enrollment.py), in the protocol's order.
STEPS: Final = {kind: entry for kind, entry in STAFF_COMMANDS.items() if kind != "enroll_patient"}


def steps_for(role: Role) -> list[str]:
    """The steps `role` may record: what a page offers that person."""
    return [kind for kind, entry in STEPS.items() if role in entry.roles]


def may_record(role: Role, item: DueItem) -> bool:
    return role in STEPS[step_of(item)[0]].roles
