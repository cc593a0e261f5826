"""Screening against every inclusion and exclusion criterion of the protocol in force.

`assess_eligibility` names every failed criterion, in plain words with the measured value and the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from dateutil.relativedelta import relativedelta
from pydantic import ConfigDict, Field, model_validator

from domain.body_measurements import MAX_RECORDABLE_HEIGHT_CM, MAX_RECORDABLE_WEIGHT_KG
from domain.entered_content import added_later
from domain.free_text import RegimenName
from domain.protocol import EligibilityRules, FrozenModel

# Lansky and Karnofsky both run from 0 to 100 in steps of 10.
MAX_PERFORMANCE_SCORE = 100
PERFORMANCE_SCORE_STEP = 10


class PerformanceScale(StrEnum):
    LANSKY = "lansky"
    KARNOFSKY = "karnofsky"


class CriterionKind(StrEnum):
    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"


class ScreeningData(FrozenModel):
    """What the research coordinator records at screening."""

    # The date of birth is PHI: keep it out of reprs and validation errors, which end up in logs.
    model_config = ConfigDict(hide_input_in_errors=True)

    screening_date: date
    date_of_birth: date = Field(repr=False)  # used only to compute the age
    regimen: RegimenName
    risk_group: Literal["low", "intermediate", "high"]
    # The induction criteria: blank only in screenings stored before they were asked for (a blank never passes).
    b_all_diagnosis_confirmed: bool | None = added_later(None)
    end_of_induction_marrow_blasts_percent: float | None = added_later(None, ge=0, le=100)
    induction_day46_mrd_percent: float = Field(ge=0, le=100)
    cd19_expressed: bool
    cd22_expressed: bool
    # Lansky or Karnofsky: the child's age decides which scale this score is on.
    performance_score: int = Field(ge=0, le=MAX_PERFORMANCE_SCORE, multiple_of=PERFORMANCE_SCORE_STEP)
    height_cm: float = Field(gt=0, le=MAX_RECORDABLE_HEIGHT_CM)
    weight_kg: float = Field(gt=0, le=MAX_RECORDABLE_WEIGHT_KG)
    serum_creatinine_mg_dl: float = Field(gt=0)
    lvef_percent: float | None = Field(default=None, ge=0, le=100)
    shortening_fraction_percent: float | None = Field(default=None, ge=0, le=100)
    spo2_room_air_percent: float = Field(ge=0, le=100)
    bilirubin_x_uln: float = Field(ge=0)
    alt_x_uln: float = Field(ge=0)
    ast_x_uln: float = Field(ge=0)
    csf_wbc_per_ul: float = Field(ge=0)
    csf_blasts_present: bool
    clinical_cns_signs: bool
    prior_allogeneic_hsct: bool
    active_gvhd: bool
    uncontrolled_infection: bool
    active_hbv: bool
    active_hcv: bool
    hiv_positive: bool
    prior_car_t: bool
    pregnant: bool
    # Amendment 1.1: when blinatumomab or inotuzumab ozogamicin was last given ("never" if never); blank in
    # screenings under 1.0, which did not ask (a screening under 1.1 must give it: RECENT_THERAPY_FIELD).
    blinatumomab_or_inotuzumab_last_given: date | Literal["never"] | None = added_later(None)

    @model_validator(mode="after")
    def _consistent(self) -> ScreeningData:
        problems = []
        if self.date_of_birth >= self.screening_date:
            problems.append("the date of birth must be before the screening date")
        if self.active_gvhd and not self.prior_allogeneic_hsct:
            problems.append("active GVHD is recorded but a prior allogeneic HSCT is not")
        if self.lvef_percent is None and self.shortening_fraction_percent is None:
            problems.append("record the LVEF or the shortening fraction: at least one is needed")
        last_given = self.blinatumomab_or_inotuzumab_last_given
        if isinstance(last_given, date) and last_given > self.screening_date:
            problems.append("blinatumomab or inotuzumab ozogamicin cannot be last given after the screening date")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class NewScreening(ScreeningData):
    """A screening entered now: the induction criteria's values are required, as every other value is."""

    b_all_diagnosis_confirmed: bool
    end_of_induction_marrow_blasts_percent: float = Field(ge=0, le=100)


# The screening values a new screening must carry (older stored screenings may lack them).
INDUCTION_FIELDS = ("b_all_diagnosis_confirmed", "end_of_induction_marrow_blasts_percent")


RECENT_THERAPY_FIELD = "blinatumomab_or_inotuzumab_last_given"


def missing_recent_therapy(data: ScreeningData, rules: EligibilityRules) -> list[str]:
    """The recent-therapy value a screening under a protocol with that exclusion leaves blank, as a problem."""
    if not rules.recent_therapy_exclusion_drugs or data.blinatumomab_or_inotuzumab_last_given is not None:
        return []
    return [f'screening.{RECENT_THERAPY_FIELD} is required (the date last given, or "never")']


def missing_induction_values(data: ScreeningData) -> list[str]:
    """The induction criteria's values a screening leaves blank, each as a problem to name."""
    return [f"screening.{name} is required" for name in INDUCTION_FIELDS if getattr(data, name) is None]


class FailedCriterion(FrozenModel):
    code: str  # stable snake_case id, e.g. "egfr"
    kind: CriterionKind
    reason: str  # plain words with the measured value and the threshold


class EligibilityResult(FrozenModel):
    eligible: bool
    failed: tuple[FailedCriterion, ...]
    age_years: int
    egfr_ml_min_173m2: float
    performance_scale: PerformanceScale
    cns3: bool

    @model_validator(mode="after")
    def _eligible_means_nothing_failed(self) -> EligibilityResult:
        if self.eligible == bool(self.failed):
            raise ValueError("a patient is eligible exactly when no criterion failed")
        return self


def age_in_completed_years(date_of_birth: date, on: date) -> int:
    """Whole years lived on `on`; a 29 February birthday falls on 28 February in common years."""
    if on < date_of_birth:
        raise ValueError(f"the day {on.isoformat()} is before the date of birth")
    return relativedelta(on, date_of_birth).years


def bedside_schwartz_egfr(height_cm: float, serum_creatinine_mg_dl: float, rules: EligibilityRules) -> float:
    """eGFR (mL/min/1.73 m²) = k x height / creatinine, in decimal so that a value of exactly 60 stays 60."""
    for name, value in (("height", height_cm), ("serum creatinine", serum_creatinine_mg_dl)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, not {value!r}")
    return float(_decimal(rules.schwartz_k) * _decimal(height_cm) / _decimal(serum_creatinine_mg_dl))


def performance_scale_for_age(age_years: int, rules: EligibilityRules) -> PerformanceScale:
    if age_years < rules.karnofsky_from_age_years:
        return PerformanceScale.LANSKY
    return PerformanceScale.KARNOFSKY


def is_cns3(csf_wbc_per_ul: float, csf_blasts_present: bool, clinical_cns_signs: bool, rules: EligibilityRules) -> bool:
    """CNS3: CSF WBC at or above the protocol's count with blasts, or clinical signs of CNS leukemia."""
    return (csf_wbc_per_ul >= rules.cns3_min_csf_wbc_per_ul and csf_blasts_present) or clinical_cns_signs


def assess_eligibility(
    data: ScreeningData, rules: EligibilityRules, *, induction_criteria: bool = True
) -> EligibilityResult:
    """Every criterion is checked; the result names each one that failed, never just the first.

    `induction_criteria=False` only replays screenings decided before the diagnosis and end-of-induction remission
    were criteria (their journeys' histories must replay as they ran)."""
    age = age_in_completed_years(data.date_of_birth, data.screening_date)
    egfr = bedside_schwartz_egfr(data.height_cm, data.serum_creatinine_mg_dl, rules)
    scale = performance_scale_for_age(age, rules)
    cns3 = is_cns3(data.csf_wbc_per_ul, data.csf_blasts_present, data.clinical_cns_signs, rules)
    checks = (
        (CriterionKind.INCLUSION, _failed_inclusions(data, rules, age, egfr, scale, induction_criteria)),
        (CriterionKind.EXCLUSION, _met_exclusions(data, rules, cns3)),
    )
    failed = tuple(
        FailedCriterion(code=code, kind=kind, reason=reason) for kind, found in checks for code, reason in found
    )
    return EligibilityResult(
        eligible=not failed,
        failed=failed,
        age_years=age,
        egfr_ml_min_173m2=egfr,
        performance_scale=scale,
        cns3=cns3,
    )


def _failed_induction_criteria(data: ScreeningData, rules: EligibilityRules) -> Iterator[tuple[str, str]]:
    """A confirmed diagnosis, and morphologic complete remission at the end of induction."""
    if data.b_all_diagnosis_confirmed is None:
        yield "b_all_diagnosis", f"the {rules.diagnosis} diagnosis is not recorded as confirmed"
    elif not data.b_all_diagnosis_confirmed:
        yield (
            "b_all_diagnosis",
            f"the {rules.diagnosis} diagnosis is not confirmed; the study requires a confirmed {rules.diagnosis} "
            "diagnosis",
        )
    blasts = data.end_of_induction_marrow_blasts_percent
    below = rules.max_end_of_induction_marrow_blasts_percent_exclusive
    if blasts is None:
        yield "morphologic_cr", "the marrow blasts at the end of induction are not recorded"
    elif blasts >= below:
        yield (
            "morphologic_cr",
            f"marrow blasts at the end of induction {_number(blasts)} % are not below {_number(below)} %: "
            "not in morphologic complete remission",
        )


def _failed_inclusions(
    data: ScreeningData, rules: EligibilityRules, age: int, egfr: float, scale: PerformanceScale, induction: bool
) -> Iterator[tuple[str, str]]:
    """(code, reason) of each inclusion criterion the patient does not meet."""
    if induction:
        yield from _failed_induction_criteria(data, rules)
    if data.regimen != rules.regimen:
        yield "regimen", f"treated on the {data.regimen} regimen; the study requires {rules.regimen}"
    if data.risk_group != rules.risk_group:
        yield "risk_group", f"{data.risk_group} risk; the study requires {rules.risk_group} risk"
    if data.induction_day46_mrd_percent < rules.mrd_positive_min_percent:
        yield (
            f"mrd_day{rules.mrd_induction_day}",
            f"MRD on day {rules.mrd_induction_day} of induction "
            f"{_number(data.induction_day46_mrd_percent)} % is below the minimum of "
            f"{_number(rules.mrd_positive_min_percent)} %",
        )
    if age < rules.min_age_years:
        yield "age", f"age {_years(age)} is below the minimum of {_years(rules.min_age_years)}"
    if age >= rules.max_age_years_exclusive:
        yield (
            "age",
            f"age {_years(age)}: patients must be younger than {_years(rules.max_age_years_exclusive)}",
        )
    if not (data.cd19_expressed or data.cd22_expressed):
        yield "cd19_or_cd22", "neither CD19 nor CD22 is expressed on the blasts"
    if data.performance_score < rules.min_performance_score:
        scale_words = (
            f"the Lansky scale applies below age {rules.karnofsky_from_age_years}"
            if scale is PerformanceScale.LANSKY
            else f"the Karnofsky scale applies from age {rules.karnofsky_from_age_years}"
        )
        yield (
            "performance",
            f"{scale.value.capitalize()} score {data.performance_score} is below the minimum of "
            f"{rules.min_performance_score} ({scale_words})",
        )
    if egfr < rules.min_egfr_ml_min_173m2:
        yield (
            "egfr",
            f"eGFR {_below(egfr, rules.min_egfr_ml_min_173m2)} mL/min/1.73 m² is below the minimum of "
            f"{_number(rules.min_egfr_ml_min_173m2)}",
        )
    cardiac = _cardiac_failure(data, rules)
    if cardiac is not None:
        yield "cardiac_function", cardiac
    if data.spo2_room_air_percent <= rules.min_spo2_room_air_percent_exclusive:
        yield (
            "spo2",
            f"SpO₂ {_number(data.spo2_room_air_percent)} % on room air is not above "
            f"{_number(rules.min_spo2_room_air_percent_exclusive)} %",
        )
    for code, label, value, maximum in (
        ("bilirubin", "bilirubin", data.bilirubin_x_uln, rules.max_bilirubin_x_uln),
        ("alt", "ALT", data.alt_x_uln, rules.max_alt_x_uln),
        ("ast", "AST", data.ast_x_uln, rules.max_ast_x_uln),
    ):
        if value > maximum:
            yield code, f"{label} {_number(value)} x ULN is above the maximum of {_number(maximum)} x ULN"


def _cardiac_failure(data: ScreeningData, rules: EligibilityRules) -> str | None:
    """LVEF or shortening fraction: either one at its minimum suffices. None when the heart passes."""
    recorded = (
        ("LVEF", data.lvef_percent, rules.min_lvef_percent),
        ("shortening fraction", data.shortening_fraction_percent, rules.min_shortening_fraction_percent),
    )
    measured = [(label, value, minimum) for label, value, minimum in recorded if value is not None]
    if any(value >= minimum for _, value, minimum in measured):
        return None
    words = " and ".join(
        f"{label} {_number(value)} % is below {_number(minimum)} %" for label, value, minimum in measured
    )
    absent = [label for label, value, _ in recorded if value is None]
    return words + (f" ({absent[0]} not recorded)" if absent else "")


def _met_exclusions(data: ScreeningData, rules: EligibilityRules, cns3: bool) -> Iterator[tuple[str, str]]:
    """(code, reason) of each exclusion criterion the patient meets."""
    if cns3:
        signs = []
        if data.csf_wbc_per_ul >= rules.cns3_min_csf_wbc_per_ul and data.csf_blasts_present:
            wbc, minimum = _number(data.csf_wbc_per_ul), _number(rules.cns3_min_csf_wbc_per_ul)
            signs.append(f"CSF WBC {wbc}/µL (at least {minimum}/µL) with blasts")
        if data.clinical_cns_signs:
            signs.append("clinical signs of CNS leukemia")
        yield "cns3", "CNS3 disease: " + " and ".join(signs)
    if data.prior_allogeneic_hsct and data.active_gvhd:
        yield "active_gvhd", "active GVHD after a prior allogeneic HSCT"
    if data.uncontrolled_infection:
        yield "uncontrolled_infection", "uncontrolled infection"
    if data.active_hbv:
        yield "active_hbv", "active hepatitis B (HBV) infection"
    if data.active_hcv:
        yield "active_hcv", "active hepatitis C (HCV) infection"
    if data.hiv_positive:
        yield "hiv", "HIV positive"
    if data.prior_car_t:
        yield "prior_car_t", "prior CAR-T therapy"
    if data.pregnant:
        yield "pregnancy", "pregnant"
    yield from _recent_therapy(data, rules)


def _recent_therapy(data: ScreeningData, rules: EligibilityRules) -> Iterator[tuple[str, str]]:
    """Amendment 1.1: blinatumomab or inotuzumab ozogamicin within the protocol's days before screening."""
    last_given = data.blinatumomab_or_inotuzumab_last_given
    if not rules.recent_therapy_exclusion_drugs or not isinstance(last_given, date):
        return
    days = (data.screening_date - last_given).days
    if 0 <= days <= rules.recent_therapy_exclusion_days:
        drugs = " or ".join(rules.recent_therapy_exclusion_drugs)
        yield (
            "recent_blinatumomab_or_inotuzumab",
            f"{drugs} given {_days(days)} before screening (within {rules.recent_therapy_exclusion_days} days)",
        )


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def _decimal(value: float) -> Decimal:
    """The decimal a person typed: 0.413, not the nearest binary fraction."""
    return Decimal(repr(value))


def _number(value: float) -> str:
    """A value as typed, without a trailing ".0" or an exponent: 60, 0.0099, 92.1."""
    return format(_decimal(value).normalize(), "f")


def _below(value: float, threshold: float) -> str:
    """A computed value, to one decimal unless that would round it up to the threshold it is below."""
    for decimals in range(1, 16):
        shown = round(value, decimals)
        if shown < threshold:
            return _number(shown)
    return _number(value)


def _years(years: int) -> str:
    return f"{years} year" if years == 1 else f"{years} years"
