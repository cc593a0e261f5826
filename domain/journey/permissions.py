"""Which study role may issue which command. Supervisors read; only the workflow itself issues timer commands."""

from __future__ import annotations

from domain.roles import Role

_CLINICIANS = frozenset({Role.PHYSICIAN, Role.INVESTIGATOR})
_BEDSIDE = frozenset({Role.NURSE, Role.PHYSICIAN, Role.INVESTIGATOR})

ALLOWED_ROLES: dict[str, frozenset[Role]] = {
    "enroll_patient": frozenset({Role.RESEARCH_COORDINATOR}),
    "confirm_eligibility": frozenset({Role.INVESTIGATOR}),
    "record_consent": frozenset({Role.INVESTIGATOR}),
    "record_apheresis": frozenset({Role.APHERESIS_UNIT}),
    "record_product_release": frozenset({Role.CELL_LAB}),
    "record_manufacturing_failure": frozenset({Role.CELL_LAB}),
    "prescribe_lymphodepletion": _CLINICIANS,
    "record_lymphodepletion_dose": frozenset({Role.PHARMACY, Role.NURSE}),
    "decide_out_of_spec_product": frozenset({Role.INVESTIGATOR}),
    "approve_infusion_outside_window": frozenset({Role.INVESTIGATOR}),
    "record_infusion": _CLINICIANS,
    "record_infusion_not_given": frozenset({Role.INVESTIGATOR}),
    "assess_crs": _BEDSIDE,
    "assess_icans": _BEDSIDE,
    "record_adverse_event": _BEDSIDE,
    "confirm_expedited_report": frozenset({Role.INVESTIGATOR}),
    "record_disease_assessment": frozenset({Role.LABORATORY, Role.PHYSICIAN, Role.INVESTIGATOR}),
    "record_chemotherapy_resumed": _CLINICIANS,
    "record_visit": frozenset({Role.RESEARCH_COORDINATOR}),
    "withdraw_consent": frozenset({Role.INVESTIGATOR}),
    "record_death": _CLINICIANS,
    "record_lost_to_follow_up": frozenset({Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR}),
    "take_off_study": frozenset({Role.INVESTIGATOR}),
    "expire_infusion_window": frozenset({Role.SYSTEM}),
    "mark_expedited_report_overdue": frozenset({Role.SYSTEM}),
    "send_visit_reminder": frozenset({Role.SYSTEM}),
    "mark_visit_missed": frozenset({Role.SYSTEM}),
    "start_follow_up_era": frozenset({Role.SYSTEM}),
    "complete_journey": frozenset({Role.SYSTEM}),
}

_ROLE_WORDS = {
    Role.RESEARCH_COORDINATOR: "a research coordinator",
    Role.INVESTIGATOR: "an investigator",
    Role.APHERESIS_UNIT: "the apheresis unit",
    Role.CELL_LAB: "the cell lab",
    Role.LABORATORY: "the laboratory",
    Role.PHARMACY: "pharmacy",
    Role.NURSE: "a nurse",
    Role.PHYSICIAN: "a physician",
    Role.SUPERVISOR: "a supervisor",
    Role.SYSTEM: "the system's own timers",
}


def role_problem(command_kind: str, role: Role) -> str | None:
    """Why `role` may not issue `command_kind`, or None when it may."""
    allowed = ALLOWED_ROLES[command_kind]
    if role in allowed:
        return None
    who = " or ".join(sorted(_ROLE_WORDS[r] for r in allowed))
    action = command_kind.replace("_", " ")
    if role is Role.SUPERVISOR:
        return f"supervisors can read the record but not {action}; this must be done by {who}"
    return f"{_ROLE_WORDS[role]} cannot {action}; this must be done by {who}"
