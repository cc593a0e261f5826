"""Words the pages show for the domain's names (phases, buckets), marked for the message catalog and translated when
a page is rendered (`_(PHASE_WORDS[phase])`)."""

from __future__ import annotations

from typing import Final

from domain.journey.phases import Phase
from domain.roles import Role
from domain.signature import SignatureMeaning


def N_(message: str) -> str:
    return message


# The strip on a patient's page: the way from screening to long-term follow-up.
PHASE_STRIP: Final = (
    Phase.SCREENING,
    Phase.CONSENT,
    Phase.APHERESIS,
    Phase.MANUFACTURING,
    Phase.LYMPHODEPLETION,
    Phase.INFUSION,
    Phase.TOXICITY_OBSERVATION,
    Phase.EARLY_FOLLOW_UP,
    Phase.FOLLOW_UP,
    Phase.LONG_TERM_FOLLOW_UP,
    Phase.COMPLETED,
)

PHASE_WORDS: Final = {
    Phase.NOT_ENROLLED: N_("Not enrolled"),
    Phase.SCREENING: N_("Screening"),
    Phase.CONSENT: N_("Consent"),
    Phase.APHERESIS: N_("Apheresis"),
    Phase.MANUFACTURING: N_("Manufacturing"),
    Phase.LYMPHODEPLETION: N_("Lymphodepletion"),
    Phase.INFUSION: N_("Infusion"),
    Phase.TOXICITY_OBSERVATION: N_("Toxicity observation"),
    Phase.EARLY_FOLLOW_UP: N_("Early follow-up"),
    Phase.FOLLOW_UP: N_("Follow-up"),
    Phase.LONG_TERM_FOLLOW_UP: N_("Long-term follow-up"),
    Phase.SURVIVAL_FOLLOW_UP: N_("Survival follow-up"),
    Phase.COMPLETED: N_("Completed"),
    Phase.OFF_STUDY: N_("Off study"),
}


def phase_steps(current: Phase) -> list[tuple[Phase, str]]:
    """Each phase of the strip with where it stands: done, current or ahead; none off the way (not enrolled, off
    study, survival follow-up: the page names the phase instead)."""
    if current not in PHASE_STRIP:
        return []
    at = PHASE_STRIP.index(current)
    return [(phase, "done" if i < at else "current" if i == at else "ahead") for i, phase in enumerate(PHASE_STRIP)]


ROLE_WORDS: Final = {
    Role.RESEARCH_COORDINATOR: N_("Research coordinator"),
    Role.INVESTIGATOR: N_("Investigator"),
    Role.APHERESIS_UNIT: N_("Apheresis unit"),
    Role.CELL_LAB: N_("Cell lab"),
    Role.LABORATORY: N_("Laboratory"),
    Role.PHARMACY: N_("Pharmacy"),
    Role.NURSE: N_("Nurse"),
    Role.PHYSICIAN: N_("Physician"),
    Role.SUPERVISOR: N_("Supervisor"),
    Role.DSMB: N_("Data and safety monitoring board"),
    Role.SYSTEM: N_("The workflow"),
}

MEANING_WORDS: Final = {
    SignatureMeaning.AUTHOR: N_("author"),
    SignatureMeaning.REVIEW: N_("review"),
    SignatureMeaning.APPROVAL: N_("approval"),
}
