"""The synthetic cohort `trial-demo` drives: who fails screening, who relapses, dies or is lost, the CRS and ICANS
grades, the missed visits, all drawn from a seed; and the report such a cohort must give, counted from the plan.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import Field

from cli.synthetic import eligible_screening_values
from domain.eligibility import ScreeningData
from domain.journey.phases import ExitReason, Phase
from domain.protocol import FrozenModel, TrialProtocol
from domain.response import MarrowAssessment
from domain.statistics import ProportionEstimate, StoppingRuleStatus, estimate_proportion, evaluate_stopping_rule
from domain.toxicity import (
    ASTCT_MAX_GRADE,
    CerebralEdema,
    Consciousness,
    CrsFindings,
    IcansFindings,
    MotorFinding,
    OxygenSupport,
    Seizure,
)

MIN_COHORT = 8  # two screen failures, a relapse, a death, a departure, and three to complete the year
MAX_COHORT = 20  # about 45 s on two cores; the default 10 takes about 20 s
STUDY_ID_PREFIX = "DEMO"
CHILD_AGES_YEARS = (4, 11)  # children under the ICE age: ICANS is graded with the CAPD
PEAK_CRS_DAYS = (1, 3)  # CRS peaks in the first days after infusion
PLANNED_CRS_GRADES = (0, 1, 1, 2)  # drawn for every infused patient but three, with grades 3, 2 and 1


class Outcome(StrEnum):
    SCREEN_FAILURE = "screen_failure"
    CR_AT_ONE_YEAR = "cr_at_one_year"
    NOT_CR_AT_ONE_YEAR = "not_cr_at_one_year"  # counts not recovered at the one-year marrow
    RELAPSE = "relapse"
    DEATH = "death"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"


class PatientPlan(FrozenModel):
    """What the demo means to happen to one child; the demo records exactly this, step by step."""

    study_id: str
    enrolled_on_day: int = Field(ge=0)  # days after the demo's first enrollment
    age_years: int
    height_cm: float
    weight_kg: float
    outcome: Outcome
    failed_criteria: tuple[str, ...] = ()  # screen failures: which ScreeningData fields fail
    manufacturing_failure: bool = False  # the first product fails; cells collected again
    crs_grade: int = Field(default=0, ge=0, le=ASTCT_MAX_GRADE)
    crs_day: int = 1
    icans_grade: int = Field(default=0, ge=0, le=2)
    missed_visits: tuple[str, ...] = ()
    event_month: int | None = None  # the month of the relapse, death or last contact
    death_treatment_related: bool = False

    @property
    def infused(self) -> bool:
        return self.outcome is not Outcome.SCREEN_FAILURE


class CohortPlan(FrozenModel):
    seed: int
    patients: tuple[PatientPlan, ...]


class ExpectedReport(FrozenModel):
    """The report's numbers counted from the plan alone, for the demo's check and its test."""

    patients: int
    screen_failures: int
    by_phase: dict[Phase, int]
    exits_by_reason: dict[ExitReason, int]
    infused: int
    assessed: int
    complete_responses: int
    highest_crs_grade: dict[int, int]
    highest_icans_grade: dict[int, int]
    dose_limiting_toxicities: int
    cr_rate: ProportionEstimate  # the CR rate at one year and its exact CI, from the planned counts
    stopping_rule: StoppingRuleStatus
    event_free_survival_events: int  # relapses and deaths
    overall_survival_events: int  # deaths


# ---------------------------------------------------------------- the plan


def _screen_failures(rules: TrialProtocol) -> dict[str, dict[str, Any]]:
    """Ways a child fails screening, each a change to an eligible child's data, built from the thresholds."""
    e = rules.eligibility
    return {
        "prior_car_t": {"prior_car_t": True},
        "spo2_room_air_percent": {"spo2_room_air_percent": e.min_spo2_room_air_percent_exclusive - 3},
        "performance_score": {"performance_score": e.min_performance_score - 20},
        "cardiac_function": {  # either measure at its minimum suffices: both fall short
            "lvef_percent": e.min_lvef_percent - 10,
            "shortening_fraction_percent": e.min_shortening_fraction_percent - 6,
        },
        "cns_disease": {"csf_wbc_per_ul": e.cns3_min_csf_wbc_per_ul * 2, "csf_blasts_present": True},
        "uncontrolled_infection": {"uncontrolled_infection": True},
    }


def plan_cohort(seed: int, size: int, protocol: TrialProtocol) -> CohortPlan:
    """A deterministic cohort of `size` children: the same seed gives the same cohort."""
    if not MIN_COHORT <= size <= MAX_COHORT:
        raise ValueError(f"the demo cohort has {MIN_COHORT} to {MAX_COHORT} patients, not {size}")
    rng = random.Random(seed)
    outcomes = [Outcome.SCREEN_FAILURE] * 2 + [Outcome.RELAPSE, Outcome.DEATH, Outcome.LOST_TO_FOLLOW_UP]
    completers = size - len(outcomes)
    not_cr = rng.randint(1, max(1, completers // 3))
    outcomes += [Outcome.NOT_CR_AT_ONE_YEAR] * not_cr + [Outcome.CR_AT_ONE_YEAR] * (completers - not_cr)
    rng.shuffle(outcomes)

    infused_positions = [i for i, o in enumerate(outcomes) if o is not Outcome.SCREEN_FAILURE]
    grade_3, grade_2, grade_1 = rng.sample(infused_positions, 3)
    with_icans = rng.choice([i for i in infused_positions if i != grade_3])
    recollected = rng.choice([i for i, o in enumerate(outcomes) if o is Outcome.CR_AT_ONE_YEAR])
    # Visits a completer misses: never the marrow, the chemotherapy step or the one-year assessment.
    missable = ("D21", "M2", "M4", "M5", "M9")
    endpoint_visit = f"M{protocol.response.primary_endpoint_months}"

    patients: list[PatientPlan] = []
    day = 0
    for position, outcome in enumerate(outcomes):
        age = rng.randint(*CHILD_AGES_YEARS)
        height = round(80 + 6.5 * age + rng.uniform(-6, 6), 1)
        fields: dict[str, Any] = {
            "study_id": f"{STUDY_ID_PREFIX}-{position + 1:03d}",
            "enrolled_on_day": day,
            "age_years": age,
            "height_cm": height,
            "weight_kg": round(2 * age + 8 + rng.uniform(-2, 3), 1),
            "outcome": outcome,
        }
        day += rng.randint(1, 3)
        if outcome is Outcome.SCREEN_FAILURE:
            fields["failed_criteria"] = tuple(sorted(rng.sample(sorted(_screen_failures(protocol)), rng.randint(1, 2))))
            patients.append(PatientPlan(**fields))
            continue
        planned = {grade_3: 3, grade_2: 2, grade_1: 1}
        fields["crs_grade"] = planned.get(position, rng.choice(PLANNED_CRS_GRADES))
        fields["crs_day"] = rng.randint(*PEAK_CRS_DAYS)
        fields["icans_grade"] = rng.randint(1, 2) if position == with_icans else 0
        fields["manufacturing_failure"] = position == recollected
        if outcome in (Outcome.CR_AT_ONE_YEAR, Outcome.NOT_CR_AT_ONE_YEAR) and rng.random() < 0.5:
            fields["missed_visits"] = (rng.choice(missable),)
        if outcome is Outcome.RELAPSE:
            fields["event_month"] = rng.randint(3, 6)
        elif outcome is Outcome.DEATH:
            fields["event_month"] = rng.randint(2, 5)
            fields["death_treatment_related"] = rng.random() < 0.5
        elif outcome is Outcome.LOST_TO_FOLLOW_UP:
            fields["event_month"] = rng.randint(3, 5)  # last seen at this month's visit
        assert endpoint_visit not in fields.get("missed_visits", ())
        patients.append(PatientPlan(**fields))
    return CohortPlan(seed=seed, patients=tuple(patients))


# ---------------------------------------------------------------- what the report must say


PHASE_AT_THE_END: dict[Outcome, Phase] = {
    Outcome.SCREEN_FAILURE: Phase.OFF_STUDY,
    Outcome.CR_AT_ONE_YEAR: Phase.FOLLOW_UP,
    Outcome.NOT_CR_AT_ONE_YEAR: Phase.FOLLOW_UP,
    Outcome.RELAPSE: Phase.SURVIVAL_FOLLOW_UP,
    Outcome.DEATH: Phase.OFF_STUDY,
    Outcome.LOST_TO_FOLLOW_UP: Phase.OFF_STUDY,
}
EXIT_OF: dict[Outcome, ExitReason] = {
    Outcome.SCREEN_FAILURE: ExitReason.SCREEN_FAILURE,
    Outcome.DEATH: ExitReason.DEATH,
    Outcome.LOST_TO_FOLLOW_UP: ExitReason.LOST_TO_FOLLOW_UP,
}


def _grade_counts(grades: list[int]) -> dict[int, int]:
    counted = Counter(grades)
    return {grade: counted.get(grade, 0) for grade in range(ASTCT_MAX_GRADE + 1)}


def expected_report(plan: CohortPlan, protocol: TrialProtocol) -> ExpectedReport:
    """Every patient reaches their planned end: no one-year outcome is pending when the demo stops."""
    rule = protocol.stopping_rule
    infused = [p for p in plan.patients if p.infused]
    phases = Counter(PHASE_AT_THE_END[p.outcome] for p in plan.patients)
    exits = Counter(EXIT_OF[p.outcome] for p in plan.patients if p.outcome in EXIT_OF)
    complete = sum(1 for p in infused if p.outcome is Outcome.CR_AT_ONE_YEAR)
    dose_limiting = sum(
        1
        for p in infused
        if p.crs_grade >= rule.dlt_min_crs_grade
        or p.icans_grade >= rule.dlt_min_icans_grade
        or (p.outcome is Outcome.DEATH and p.death_treatment_related)
    )
    return ExpectedReport(
        patients=len(plan.patients),
        screen_failures=exits[ExitReason.SCREEN_FAILURE],
        by_phase={phase: phases.get(phase, 0) for phase in Phase if phase is not Phase.NOT_ENROLLED},
        exits_by_reason={reason: exits.get(reason, 0) for reason in ExitReason},
        infused=len(infused),
        assessed=len(infused),
        complete_responses=complete,
        highest_crs_grade=_grade_counts([p.crs_grade for p in infused]),
        highest_icans_grade=_grade_counts([p.icans_grade for p in infused]),
        dose_limiting_toxicities=dose_limiting,
        cr_rate=estimate_proportion(complete, len(infused), protocol.response.confidence_level),
        stopping_rule=evaluate_stopping_rule(dose_limiting, len(infused), rule),
        event_free_survival_events=sum(1 for p in infused if p.outcome in (Outcome.RELAPSE, Outcome.DEATH)),
        overall_survival_events=sum(1 for p in infused if p.outcome is Outcome.DEATH),
    )


# ---------------------------------------------------------------- the clinical data the demo records


def screening_for(patient: PatientPlan, screened_on: date, protocol: TrialProtocol) -> ScreeningData:
    """An eligible child of the planned age and size, changed where the plan says screening fails."""
    values = eligible_screening_values(screened_on, patient.age_years, patient.height_cm, patient.weight_kg, protocol)
    failures = _screen_failures(protocol)
    for criterion in patient.failed_criteria:
        values.update(failures[criterion])
    return ScreeningData(**values)


def crs_findings_for(grade: int, protocol: TrialProtocol) -> CrsFindings:
    """Findings the ASTCT consensus grades at `grade` (0 to 3)."""
    fever = protocol.crs.fever_min_celsius
    return CrsFindings(
        max_temperature_c=36.8 if grade == 0 else fever + 0.5 * grade,
        hypotension=grade >= 2,
        vasopressors_excluding_vasopressin=1 if grade >= 3 else 0,
        vasopressin=False,
        oxygen=OxygenSupport.NONE,
        oxygen_flow_l_per_min=None,
    )


def icans_findings_for(grade: int) -> IcansFindings:
    """A child under the ICE age: CAPD, with depressed consciousness for grade 2."""
    return IcansFindings(
        ice_score=None,
        capd_score=0 if grade == 0 else 4,
        consciousness=Consciousness.AWAKENS_TO_VOICE if grade >= 2 else Consciousness.ALERT,
        seizure=Seizure.NONE,
        motor=MotorFinding.NONE,
        cerebral_edema=CerebralEdema.NONE,
    )


def marrow_for(assessed_on: date, protocol: TrialProtocol, *, response: str) -> MarrowAssessment:
    """`response`: "cr" (MRD-negative CR), "counts_not_recovered" (blasts cleared, platelets low) or "relapse"."""
    r = protocol.response
    blasts = {"cr": 0.5, "counts_not_recovered": 0.5, "relapse": r.relapse_marrow_blasts_alone_percent + 10}
    platelets = r.cr_min_platelets_10e9_per_l * (0.5 if response == "counts_not_recovered" else 1.5)
    return MarrowAssessment(
        assessed_on=assessed_on,
        marrow_blasts_percent=blasts[response],
        circulating_blasts=response == "relapse",
        extramedullary_disease=False,
        neutrophils_10e9_per_l=r.cr_min_neutrophils_10e9_per_l * 1.8,
        platelets_10e9_per_l=platelets,
        mrd_flow_percent=r.mrd_negative_below_percent / 10 if response == "cr" else 2.0,
    )
