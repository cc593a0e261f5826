"""Screening: every inclusion and exclusion criterion, both sides of each boundary, every failure named."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.amendment import amend
from domain.eligibility import (
    CriterionKind,
    EligibilityResult,
    PerformanceScale,
    ScreeningData,
    age_in_completed_years,
    assess_eligibility,
    bedside_schwartz_egfr,
    is_cns3,
    performance_scale_for_age,
)
from domain.protocol import PROTOCOL_V1
from tests.domain.examples import screening

RULES = PROTOCOL_V1.eligibility
SCREENED_ON = date(2026, 1, 5)
INCLUSION = CriterionKind.INCLUSION
EXCLUSION = CriterionKind.EXCLUSION


def born_years_before(years: int, days: int = 0) -> date:
    """The date of birth of a child who turns `years` old `days` after the screening date."""
    return date(SCREENED_ON.year - years, SCREENED_ON.month, SCREENED_ON.day + days)


def assess(**overrides: Any) -> EligibilityResult:
    return assess_eligibility(screening(**overrides), RULES)


def failed_codes(**overrides: Any) -> list[str]:
    return [f.code for f in assess(**overrides).failed]


def test_a_fully_eligible_child() -> None:
    result = assess()
    assert result == EligibilityResult(
        eligible=True,
        failed=(),
        age_years=9,
        egfr_ml_min_173m2=123.9,
        performance_scale=PerformanceScale.LANSKY,
        cns3=False,
    )


# ---------------------------------------------------------------- each criterion failing alone

SINGLE_FAILURES: list[tuple[str, dict[str, Any], str, CriterionKind, str]] = [
    (
        "B-ALL not confirmed",
        {"b_all_diagnosis_confirmed": False},
        "b_all_diagnosis",
        INCLUSION,
        "the B-ALL diagnosis is not confirmed; the study requires a confirmed B-ALL diagnosis",
    ),
    (
        "no morphologic CR at the end of induction",
        {"end_of_induction_marrow_blasts_percent": 5.0},
        "morphologic_cr",
        INCLUSION,
        "marrow blasts at the end of induction 5 % are not below 5 %: not in morphologic complete remission",
    ),
    (
        "another regimen",
        {"regimen": "AIEOP-BFM"},
        "regimen",
        INCLUSION,
        "treated on the AIEOP-BFM regimen; the study requires CCCG-ALL",
    ),
    (
        "high risk",
        {"risk_group": "high"},
        "risk_group",
        INCLUSION,
        "high risk; the study requires intermediate risk",
    ),
    (
        "low risk",
        {"risk_group": "low"},
        "risk_group",
        INCLUSION,
        "low risk; the study requires intermediate risk",
    ),
    (
        "MRD negative on day 46",
        {"induction_day46_mrd_percent": 0.0099},
        "mrd_day46",
        INCLUSION,
        "MRD on day 46 of induction 0.0099 % is below the minimum of 0.01 %",
    ),
    (
        "younger than 1 year",
        {"date_of_birth": born_years_before(1, days=1)},
        "age",
        INCLUSION,
        "age 0 years is below the minimum of 1 year",
    ),
    (
        "18 years old",
        {"date_of_birth": born_years_before(18)},
        "age",
        INCLUSION,
        "age 18 years: patients must be younger than 18 years",
    ),
    (
        "neither CD19 nor CD22",
        {"cd19_expressed": False, "cd22_expressed": False},
        "cd19_or_cd22",
        INCLUSION,
        "neither CD19 nor CD22 is expressed on the blasts",
    ),
    (
        "Lansky 40 at 9",
        {"performance_score": 40},
        "performance",
        INCLUSION,
        "Lansky score 40 is below the minimum of 50 (the Lansky scale applies below age 16)",
    ),
    (
        "Karnofsky 40 at 16",
        {"performance_score": 40, "date_of_birth": born_years_before(16)},
        "performance",
        INCLUSION,
        "Karnofsky score 40 is below the minimum of 50 (the Karnofsky scale applies from age 16)",
    ),
    (
        "eGFR 52.2",
        {"serum_creatinine_mg_dl": 0.95},
        "egfr",
        INCLUSION,
        "eGFR 52.2 mL/min/1.73 m² is below the minimum of 60",
    ),
    (
        "LVEF and shortening fraction both low",
        {"lvef_percent": 45.0, "shortening_fraction_percent": 25.0},
        "cardiac_function",
        INCLUSION,
        "LVEF 45 % is below 50 % and shortening fraction 25 % is below 28 %",
    ),
    (
        "LVEF low, no shortening fraction",
        {"lvef_percent": 49.9, "shortening_fraction_percent": None},
        "cardiac_function",
        INCLUSION,
        "LVEF 49.9 % is below 50 % (shortening fraction not recorded)",
    ),
    (
        "shortening fraction low, no LVEF",
        {"lvef_percent": None, "shortening_fraction_percent": 27.9},
        "cardiac_function",
        INCLUSION,
        "shortening fraction 27.9 % is below 28 % (LVEF not recorded)",
    ),
    (
        "SpO2 92",
        {"spo2_room_air_percent": 92.0},
        "spo2",
        INCLUSION,
        "SpO₂ 92 % on room air is not above 92 %",
    ),
    (
        "bilirubin 3.5 x ULN",
        {"bilirubin_x_uln": 3.5},
        "bilirubin",
        INCLUSION,
        "bilirubin 3.5 x ULN is above the maximum of 3 x ULN",
    ),
    ("ALT 5.1 x ULN", {"alt_x_uln": 5.1}, "alt", INCLUSION, "ALT 5.1 x ULN is above the maximum of 5 x ULN"),
    ("AST 6 x ULN", {"ast_x_uln": 6.0}, "ast", INCLUSION, "AST 6 x ULN is above the maximum of 5 x ULN"),
    (
        "CNS3 by CSF",
        {"csf_wbc_per_ul": 5.0, "csf_blasts_present": True},
        "cns3",
        EXCLUSION,
        "CNS3 disease: CSF WBC 5/µL (at least 5/µL) with blasts",
    ),
    (
        "CNS3 by clinical signs",
        {"clinical_cns_signs": True},
        "cns3",
        EXCLUSION,
        "CNS3 disease: clinical signs of CNS leukemia",
    ),
    (
        "active GVHD after HSCT",
        {"prior_allogeneic_hsct": True, "active_gvhd": True},
        "active_gvhd",
        EXCLUSION,
        "active GVHD after a prior allogeneic HSCT",
    ),
    (
        "uncontrolled infection",
        {"uncontrolled_infection": True},
        "uncontrolled_infection",
        EXCLUSION,
        "uncontrolled infection",
    ),
    ("active HBV", {"active_hbv": True}, "active_hbv", EXCLUSION, "active hepatitis B (HBV) infection"),
    ("active HCV", {"active_hcv": True}, "active_hcv", EXCLUSION, "active hepatitis C (HCV) infection"),
    ("HIV", {"hiv_positive": True}, "hiv", EXCLUSION, "HIV positive"),
    ("prior CAR-T", {"prior_car_t": True}, "prior_car_t", EXCLUSION, "prior CAR-T therapy"),
    ("pregnancy", {"pregnant": True}, "pregnancy", EXCLUSION, "pregnant"),
]


@pytest.mark.parametrize(
    ("overrides", "code", "kind", "reason"),
    [pytest.param(o, c, k, r, id=name) for name, o, c, k, r in SINGLE_FAILURES],
)
def test_each_criterion_failing_alone_is_named_alone(
    overrides: dict[str, Any], code: str, kind: CriterionKind, reason: str
) -> None:
    result = assess(**overrides)
    assert not result.eligible
    assert [(f.code, f.kind, f.reason) for f in result.failed] == [(code, kind, reason)]


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"cd19_expressed": False}, id="CD22 alone suffices"),
        pytest.param({"cd22_expressed": False}, id="CD19 alone suffices"),
        pytest.param({"lvef_percent": 40.0, "shortening_fraction_percent": 28.0}, id="SF suffices"),
        pytest.param({"lvef_percent": 50.0, "shortening_fraction_percent": 20.0}, id="LVEF suffices"),
        pytest.param({"lvef_percent": None}, id="SF alone recorded"),
        pytest.param({"shortening_fraction_percent": None}, id="LVEF alone recorded"),
        pytest.param({"prior_allogeneic_hsct": True}, id="HSCT without active GVHD"),
        pytest.param({"csf_wbc_per_ul": 40.0}, id="CSF WBC high without blasts"),
        pytest.param({"csf_wbc_per_ul": 4.9, "csf_blasts_present": True}, id="blasts with CSF WBC below 5"),
    ],
)
def test_what_is_not_a_failure(overrides: dict[str, Any]) -> None:
    assert failed_codes(**overrides) == []


def test_a_child_failing_several_criteria_gets_all_of_them() -> None:
    result = assess(
        risk_group="high",
        induction_day46_mrd_percent=0.0,
        serum_creatinine_mg_dl=1.0,
        spo2_room_air_percent=90.0,
        alt_x_uln=8.0,
        ast_x_uln=8.0,
        clinical_cns_signs=True,
        active_hcv=True,
        hiv_positive=True,
        pregnant=True,
    )
    assert not result.eligible
    assert [(f.code, f.kind) for f in result.failed] == [
        ("risk_group", INCLUSION),
        ("mrd_day46", INCLUSION),
        ("egfr", INCLUSION),
        ("spo2", INCLUSION),
        ("alt", INCLUSION),
        ("ast", INCLUSION),
        ("cns3", EXCLUSION),
        ("active_hcv", EXCLUSION),
        ("hiv", EXCLUSION),
        ("pregnancy", EXCLUSION),
    ]
    assert result.cns3


def test_the_induction_criteria_come_first_and_together() -> None:
    """Finding 9: a diagnosis not confirmed and no morphologic CR after induction are each named."""
    result = assess(b_all_diagnosis_confirmed=False, end_of_induction_marrow_blasts_percent=12.0, risk_group="high")
    assert [f.code for f in result.failed] == ["b_all_diagnosis", "morphologic_cr", "risk_group"]


@pytest.mark.parametrize(("blasts", "in_cr"), [(0.0, True), (4.99, True), (5.0, False), (30.0, False)])
def test_morphologic_cr_is_below_five_percent_marrow_blasts(blasts: float, in_cr: bool) -> None:
    assert ("morphologic_cr" not in failed_codes(end_of_induction_marrow_blasts_percent=blasts)) is in_cr


def test_a_blank_induction_value_is_not_a_pass() -> None:
    """A screening stored before these criteria has no value; judged now, a blank fails, never passes."""
    result = assess(b_all_diagnosis_confirmed=None, end_of_induction_marrow_blasts_percent=None)
    assert [(f.code, f.reason) for f in result.failed] == [
        ("b_all_diagnosis", "the B-ALL diagnosis is not recorded as confirmed"),
        ("morphologic_cr", "the marrow blasts at the end of induction are not recorded"),
    ]


def test_the_amended_protocol_moves_the_remission_threshold() -> None:
    amended = PROTOCOL_V1.eligibility.model_copy(update={"max_end_of_induction_marrow_blasts_percent_exclusive": 1.0})
    data = screening(end_of_induction_marrow_blasts_percent=1.0)
    assert [f.code for f in assess_eligibility(data, amended).failed] == ["morphologic_cr"]


def test_cns3_by_csf_and_clinical_signs_is_one_criterion_with_both_reasons() -> None:
    result = assess(csf_wbc_per_ul=12.0, csf_blasts_present=True, clinical_cns_signs=True)
    assert [f.reason for f in result.failed] == [
        "CNS3 disease: CSF WBC 12/µL (at least 5/µL) with blasts and clinical signs of CNS leukemia"
    ]


# ---------------------------------------------------------------- boundaries, both sides


@pytest.mark.parametrize(
    ("overrides", "failed"),
    [
        pytest.param({"induction_day46_mrd_percent": 0.01}, [], id="MRD exactly 0.01 passes"),
        pytest.param({"induction_day46_mrd_percent": 0.0099}, ["mrd_day46"], id="MRD 0.0099 fails"),
        pytest.param({"date_of_birth": born_years_before(1, days=1)}, ["age"], id="day before 1st birthday"),
        pytest.param({"date_of_birth": born_years_before(1)}, [], id="on 1st birthday"),
        pytest.param({"date_of_birth": born_years_before(18, days=1)}, [], id="day before 18th birthday"),
        pytest.param({"date_of_birth": born_years_before(18)}, ["age"], id="on 18th birthday"),
        pytest.param({"serum_creatinine_mg_dl": 0.826}, [], id="eGFR exactly 60 passes"),
        pytest.param({"height_cm": 180.0, "serum_creatinine_mg_dl": 1.239}, [], id="eGFR 60 despite float error"),
        pytest.param({"serum_creatinine_mg_dl": 0.827}, ["egfr"], id="eGFR 59.93 fails"),
        pytest.param({"spo2_room_air_percent": 92.0}, ["spo2"], id="SpO2 92 fails"),
        pytest.param({"spo2_room_air_percent": 92.1}, [], id="SpO2 92.1 passes"),
        pytest.param({"bilirubin_x_uln": 3.0}, [], id="bilirubin 3 x ULN passes"),
        pytest.param({"bilirubin_x_uln": 3.01}, ["bilirubin"], id="bilirubin 3.01 x ULN fails"),
        pytest.param({"alt_x_uln": 5.0}, [], id="ALT 5 x ULN passes"),
        pytest.param({"alt_x_uln": 5.01}, ["alt"], id="ALT 5.01 x ULN fails"),
        pytest.param({"ast_x_uln": 5.0}, [], id="AST 5 x ULN passes"),
        pytest.param({"ast_x_uln": 5.01}, ["ast"], id="AST 5.01 x ULN fails"),
        pytest.param({"lvef_percent": 50.0, "shortening_fraction_percent": None}, [], id="LVEF 50 passes"),
        pytest.param(
            {"lvef_percent": 49.9, "shortening_fraction_percent": None},
            ["cardiac_function"],
            id="LVEF 49.9 fails",
        ),
        pytest.param({"lvef_percent": None, "shortening_fraction_percent": 28.0}, [], id="SF 28 passes"),
        pytest.param(
            {"lvef_percent": None, "shortening_fraction_percent": 27.9},
            ["cardiac_function"],
            id="SF 27.9 fails",
        ),
        pytest.param({"performance_score": 50}, [], id="Lansky 50 passes"),
        pytest.param({"performance_score": 40}, ["performance"], id="Lansky 40 fails"),
        pytest.param({"csf_wbc_per_ul": 4.9, "csf_blasts_present": True}, [], id="CSF WBC 4.9 with blasts"),
        pytest.param({"csf_wbc_per_ul": 5.0, "csf_blasts_present": True}, ["cns3"], id="CSF WBC 5 with blasts"),
    ],
)
def test_boundaries(overrides: dict[str, Any], failed: list[str]) -> None:
    assert failed_codes(**overrides) == failed


def test_an_egfr_just_below_60_is_never_shown_as_60() -> None:
    result = assess(height_cm=121.0, serum_creatinine_mg_dl=0.83301)  # eGFR 59.991...
    assert [f.reason for f in result.failed] == ["eGFR 59.99 mL/min/1.73 m² is below the minimum of 60"]


@pytest.mark.parametrize(
    ("age", "scale"),
    [
        (1, PerformanceScale.LANSKY),
        (15, PerformanceScale.LANSKY),
        (16, PerformanceScale.KARNOFSKY),
        (17, PerformanceScale.KARNOFSKY),
    ],
)
def test_performance_scale_by_age(age: int, scale: PerformanceScale) -> None:
    assert performance_scale_for_age(age, RULES) is scale


@pytest.mark.parametrize(
    ("date_of_birth", "scale"),
    [
        pytest.param(born_years_before(16, days=1), PerformanceScale.LANSKY, id="15 years, a day before 16"),
        pytest.param(born_years_before(16), PerformanceScale.KARNOFSKY, id="on the 16th birthday"),
    ],
)
def test_the_scale_of_the_score_follows_the_age_at_screening(date_of_birth: date, scale: PerformanceScale) -> None:
    result = assess(date_of_birth=date_of_birth, performance_score=40)
    assert result.performance_scale is scale
    assert result.failed[0].reason.startswith(f"{scale.value.capitalize()} score 40 ")


# ---------------------------------------------------------------- the calculations


@pytest.mark.parametrize(
    ("height_cm", "creatinine", "egfr"),
    [
        (120.0, 0.5, 99.12),  # 0.413 x 120 / 0.5
        (100.0, 0.413, 100.0),
        (150.0, 1.0, 61.95),
        (120.0, 0.826, 60.0),
        (180.0, 1.239, 60.0),  # binary floating point would give 59.999999999999986
        (120.0, 0.95, 52.16842105263158),
    ],
)
def test_bedside_schwartz(height_cm: float, creatinine: float, egfr: float) -> None:
    assert bedside_schwartz_egfr(height_cm, creatinine, RULES) == egfr


@pytest.mark.parametrize(("height_cm", "creatinine"), [(0.0, 0.5), (120.0, 0.0), (float("nan"), 0.5), (120.0, -1.0)])
def test_bedside_schwartz_refuses_impossible_values(height_cm: float, creatinine: float) -> None:
    with pytest.raises(ValueError, match="must be a positive number"):
        bedside_schwartz_egfr(height_cm, creatinine, RULES)


@pytest.mark.parametrize(
    ("date_of_birth", "on", "age"),
    [
        (date(2016, 3, 10), date(2026, 1, 5), 9),
        (date(2016, 3, 10), date(2026, 3, 9), 9),
        (date(2016, 3, 10), date(2026, 3, 10), 10),
        (date(2025, 1, 5), date(2026, 1, 4), 0),
        (date(2025, 1, 5), date(2026, 1, 5), 1),
        (date(2016, 2, 29), date(2017, 2, 27), 0),
        (date(2016, 2, 29), date(2017, 2, 28), 1),  # a leap-day birthday falls on 28 February
        (date(2016, 2, 29), date(2020, 2, 29), 4),
    ],
)
def test_age_in_completed_years(date_of_birth: date, on: date, age: int) -> None:
    assert age_in_completed_years(date_of_birth, on) == age


def test_age_before_birth_is_refused() -> None:
    with pytest.raises(ValueError, match="before the date of birth"):
        age_in_completed_years(date(2020, 1, 2), date(2020, 1, 1))


@pytest.mark.parametrize(
    ("wbc", "blasts", "clinical", "cns3"),
    [
        (0.0, False, False, False),
        (4.9, True, False, False),
        (5.0, True, False, True),
        (5.0, False, False, False),
        (100.0, False, False, False),
        (0.0, False, True, True),
        (0.0, True, True, True),
    ],
)
def test_is_cns3(wbc: float, blasts: bool, clinical: bool, cns3: bool) -> None:
    assert is_cns3(wbc, blasts, clinical, RULES) is cns3


def test_an_amended_protocol_moves_the_thresholds() -> None:
    amended = amend(
        PROTOCOL_V1,
        "9.9",
        eligibility={"min_egfr_ml_min_173m2": 50.0, "max_age_years_exclusive": 21, "mrd_induction_day": 33},
    ).eligibility
    data = screening(serum_creatinine_mg_dl=0.95, date_of_birth=born_years_before(19), induction_day46_mrd_percent=0)
    assert [f.code for f in assess_eligibility(data, RULES).failed] == ["mrd_day46", "age", "egfr"]
    result = assess_eligibility(data, amended)
    assert [(f.code, f.reason) for f in result.failed] == [
        ("mrd_day33", "MRD on day 33 of induction 0 % is below the minimum of 0.01 %")
    ]


# ---------------------------------------------------------------- what can be recorded


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"date_of_birth": SCREENED_ON}, "the date of birth must be before the screening date"),
        ({"active_gvhd": True}, "active GVHD is recorded but a prior allogeneic HSCT is not"),
        (
            {"lvef_percent": None, "shortening_fraction_percent": None},
            "record the LVEF or the shortening fraction: at least one is needed",
        ),
        ({"height_cm": float("nan")}, "finite number"),
        ({"serum_creatinine_mg_dl": float("inf")}, "finite number"),
        ({"induction_day46_mrd_percent": float("nan")}, "finite number"),
        ({"serum_creatinine_mg_dl": 0.0}, "greater than 0"),
        ({"height_cm": 251.0}, "less than or equal to 250"),
        ({"performance_score": 55}, "multiple of 10"),
        ({"performance_score": 110}, "less than or equal to 100"),
        ({"spo2_room_air_percent": 100.5}, "less than or equal to 100"),
        ({"alt_x_uln": -1.0}, "greater than or equal to 0"),
        ({"risk_group": "standard"}, "'low', 'intermediate' or 'high'"),
    ],
)
def test_impossible_screening_data_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        screening(**overrides)


def test_the_date_of_birth_stays_out_of_reprs_and_errors() -> None:
    born = date(2016, 3, 10)
    assert "2016" not in repr(screening(date_of_birth=born))
    with pytest.raises(ValidationError) as refused:
        screening(date_of_birth=born, active_gvhd=True)
    assert "2016" not in str(refused.value)


def test_a_result_cannot_say_eligible_with_failures() -> None:
    failure = assess(pregnant=True).failed
    with pytest.raises(ValidationError, match="eligible exactly when no criterion failed"):
        EligibilityResult(
            eligible=True,
            failed=failure,
            age_years=9,
            egfr_ml_min_173m2=99.0,
            performance_scale=PerformanceScale.LANSKY,
            cns3=False,
        )


# ---------------------------------------------------------------- properties


def _percent() -> st.SearchStrategy[float]:
    return st.floats(0, 100)


@st.composite
def screenings(draw: st.DrawFn) -> ScreeningData:
    """Any recordable screening, the thresholds drawn often."""
    prior_hsct = draw(st.booleans())
    lvef = draw(st.none() | st.sampled_from([49.9, 50.0]) | _percent())
    fraction = draw(st.none() | st.sampled_from([27.9, 28.0]) | _percent())
    assume(lvef is not None or fraction is not None)
    return screening(
        date_of_birth=draw(st.dates(date(2005, 1, 1), date(2026, 1, 4))),
        regimen=draw(st.sampled_from(["CCCG-ALL", "AIEOP-BFM"])),
        risk_group=draw(st.sampled_from(["low", "intermediate", "high"])),
        b_all_diagnosis_confirmed=draw(st.booleans()),
        end_of_induction_marrow_blasts_percent=draw(st.sampled_from([4.99, 5.0]) | _percent()),
        induction_day46_mrd_percent=draw(st.sampled_from([0.0, 0.0099, 0.01]) | _percent()),
        cd19_expressed=draw(st.booleans()),
        cd22_expressed=draw(st.booleans()),
        performance_score=draw(st.integers(0, 10)) * 10,
        height_cm=draw(st.floats(45, 200)),
        weight_kg=draw(st.floats(3, 150)),
        serum_creatinine_mg_dl=draw(st.sampled_from([0.826, 0.827]) | st.floats(0.1, 5)),
        lvef_percent=lvef,
        shortening_fraction_percent=fraction,
        spo2_room_air_percent=draw(st.sampled_from([92.0, 92.1]) | st.floats(70, 100)),
        bilirubin_x_uln=draw(st.sampled_from([3.0, 3.01]) | st.floats(0, 10)),
        alt_x_uln=draw(st.sampled_from([5.0, 5.01]) | st.floats(0, 20)),
        ast_x_uln=draw(st.sampled_from([5.0, 5.01]) | st.floats(0, 20)),
        csf_wbc_per_ul=draw(st.sampled_from([4.9, 5.0]) | st.floats(0, 50)),
        csf_blasts_present=draw(st.booleans()),
        clinical_cns_signs=draw(st.booleans()),
        prior_allogeneic_hsct=prior_hsct,
        active_gvhd=prior_hsct and draw(st.booleans()),
        uncontrolled_infection=draw(st.booleans()),
        active_hbv=draw(st.booleans()),
        active_hcv=draw(st.booleans()),
        hiv_positive=draw(st.booleans()),
        prior_car_t=draw(st.booleans()),
        pregnant=draw(st.booleans()),
    )


@given(screenings())
def test_eligible_exactly_when_nothing_failed_and_each_failure_once(data: ScreeningData) -> None:
    result = assess_eligibility(data, RULES)
    assert result.eligible is (not result.failed)
    codes = [f.code for f in result.failed]
    assert len(codes) == len(set(codes))
    assert all(f.reason for f in result.failed)
    kinds = [f.kind for f in result.failed]
    assert kinds == sorted(kinds, key=[INCLUSION, EXCLUSION].index)  # inclusions first
    assert ("cns3" in codes) is result.cns3


# Each measured value and the direction that makes the child less eligible, with the field's recordable limit.
WORSENING: dict[str, tuple[int, float]] = {
    "end_of_induction_marrow_blasts_percent": (+1, 100.0),
    "induction_day46_mrd_percent": (-1, 0.0),
    "performance_score": (-1, 0.0),
    "serum_creatinine_mg_dl": (+1, 100.0),
    "lvef_percent": (-1, 0.0),
    "shortening_fraction_percent": (-1, 0.0),
    "spo2_room_air_percent": (-1, 0.0),
    "bilirubin_x_uln": (+1, 1000.0),
    "alt_x_uln": (+1, 1000.0),
    "ast_x_uln": (+1, 1000.0),
    "csf_wbc_per_ul": (+1, 1000.0),
}
EXCLUSION_FLAGS = (
    "csf_blasts_present",
    "clinical_cns_signs",
    "uncontrolled_infection",
    "active_hbv",
    "active_hcv",
    "hiv_positive",
    "prior_car_t",
    "pregnant",
)


@given(screenings(), st.sampled_from(sorted(WORSENING)), st.integers(1, 10), st.floats(0, 1))
def test_a_worse_value_never_removes_a_failure(
    data: ScreeningData, field: str, steps: int, fraction_of_the_way: float
) -> None:
    value = getattr(data, field)
    assume(value is not None)
    direction, limit = WORSENING[field]
    if field == "performance_score":
        worse: float = max(0, value - 10 * steps)
    else:
        worse = value + (limit - value) * fraction_of_the_way
        assume(worse * direction >= value * direction)
    before = {f.code for f in assess_eligibility(data, RULES).failed}
    after = {f.code for f in assess_eligibility(data.model_copy(update={field: worse}), RULES).failed}
    assert before <= after


@given(screenings(), st.sampled_from(EXCLUSION_FLAGS))
def test_a_finding_added_never_removes_a_failure(data: ScreeningData, flag: str) -> None:
    before = {f.code for f in assess_eligibility(data, RULES).failed}
    after = {f.code for f in assess_eligibility(data.model_copy(update={flag: True}), RULES).failed}
    assert before <= after
