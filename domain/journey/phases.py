"""Where a patient stands on the path, and the ways off it."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    NOT_ENROLLED = "not_enrolled"
    SCREENING = "screening"  # eligible by the criteria; the investigator confirms
    CONSENT = "consent"
    APHERESIS = "apheresis"
    MANUFACTURING = "manufacturing"
    LYMPHODEPLETION = "lymphodepletion"
    INFUSION = "infusion"  # lymphodepletion done, the infusion window is running
    TOXICITY_OBSERVATION = "toxicity_observation"  # day 0 to the end of daily CRS/ICANS assessment
    EARLY_FOLLOW_UP = "early_follow_up"  # MRD evaluation, chemotherapy resumption, the first month's visits
    FOLLOW_UP = "follow_up"  # month 2 to year 5
    LONG_TERM_FOLLOW_UP = "long_term_follow_up"  # after year 5, to year 15 (integrating vector)
    SURVIVAL_FOLLOW_UP = "survival_follow_up"  # after relapse: efficacy follow-up has ended
    COMPLETED = "completed"
    OFF_STUDY = "off_study"


# The eras after infusion, in order. The workflow continues-as-new at the start of each.
FOLLOW_UP_ERAS: tuple[Phase, ...] = (
    Phase.TOXICITY_OBSERVATION,
    Phase.EARLY_FOLLOW_UP,
    Phase.FOLLOW_UP,
    Phase.LONG_TERM_FOLLOW_UP,
)

ACTIVE_TREATMENT_PHASES = frozenset({Phase.APHERESIS, Phase.MANUFACTURING, Phase.LYMPHODEPLETION, Phase.INFUSION})
POST_INFUSION_PHASES = frozenset({*FOLLOW_UP_ERAS, Phase.SURVIVAL_FOLLOW_UP})
FINAL_PHASES = frozenset({Phase.COMPLETED, Phase.OFF_STUDY})


class ExitReason(StrEnum):
    SCREEN_FAILURE = "screen_failure"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    MANUFACTURING_FAILURE = "manufacturing_failure"
    INFUSION_NOT_GIVEN = "infusion_not_given"
    DEATH = "death"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"
    INVESTIGATOR_DECISION = "investigator_decision"
    TRIAL_STOPPED = "trial_stopped"  # the DSMB stopped the trial before this patient was infused


# The one spelling of why, in refusals, the record and the trial's status.
TRIAL_STOPPED_WORDS = "the DSMB stopped the trial"
