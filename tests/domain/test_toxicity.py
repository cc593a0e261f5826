"""ASTCT 2019 CRS and ICANS grading, CTCAE adverse events and the expedited-report triggers."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.amendment import amend
from domain.protocol import PROTOCOL_V1, CrsCriteria
from domain.toxicity import (
    AdverseEvent,
    CerebralEdema,
    Consciousness,
    CrsFindings,
    FeverMaskingDose,
    FeverMaskingDrug,
    IcansFindings,
    MotorFinding,
    OxygenSupport,
    Seizure,
    ToxicityGrading,
    ctcae_grade_problems,
    expedited_report_reasons,
    grade_crs,
    grade_icans,
    icans_findings_problems,
    icans_scale_for_age,
)
from tests.domain.examples import crs_findings, icans_findings

CRS = PROTOCOL_V1.crs
ICANS = PROTOCOL_V1.icans
SAFETY = PROTOCOL_V1.safety

O2 = OxygenSupport


def crs(**overrides: Any) -> CrsFindings:
    """A child with fever 38.5 °C and nothing else, unless told otherwise."""
    return crs_findings(**{"max_temperature_c": 38.5, **overrides})


def icans(**overrides: Any) -> IcansFindings:
    """No neurological finding; the score is given by each test."""
    return icans_findings(**{"capd_score": None, **overrides})


def hypotension(pressors: int = 0, vasopressin: bool = False) -> dict[str, Any]:
    return {"hypotension": True, "vasopressors_excluding_vasopressin": pressors, "vasopressin": vasopressin}


def oxygen(device: OxygenSupport, flow: float | None = None) -> dict[str, Any]:
    return {"oxygen": device, "oxygen_flow_l_per_min": flow}


# A dose recorded in the protocol's window before the assessment: the fever is masked (tests of the window itself
# are in test_grading_safety_review.py).
MASKING_DOSE = FeverMaskingDose(
    drug=FeverMaskingDrug.TOCILIZUMAB, dose_mg=8.0, given_at=datetime(2026, 3, 9, 3, 0, tzinfo=UTC), sequence=40
)


def reasons_text(grading: ToxicityGrading) -> str:
    return " | ".join(grading.reasons)


# ================================================================ CRS worked examples

CRS_EXAMPLES: list[tuple[str, dict[str, Any], int, str]] = [
    # fever
    ("37.9 °C is no fever: no CRS", {"max_temperature_c": 37.9}, 0, "no CRS: no fever"),
    ("38.0 °C is fever: grade 1", {"max_temperature_c": 38.0}, 1, "fever 38.0 °C"),
    ("fever only", {"max_temperature_c": 40.2}, 1, "without hypotension or hypoxia"),
    (
        "hypotension without fever is not CRS",
        {"max_temperature_c": 37.9, **hypotension(pressors=2)},
        0,
        "look for another cause",
    ),
    (
        "oxygen without fever is not CRS",
        {"max_temperature_c": 36.8, **oxygen(O2.BIPAP)},
        0,
        "no CRS: no fever",
    ),
    # the hypotension path
    ("hypotension, no vasopressor: grade 2", hypotension(), 2, "hypotension not needing vasopressors"),
    ("one vasopressor: grade 3", hypotension(pressors=1), 3, "one vasopressor"),
    ("vasopressin alone counts as one vasopressor", hypotension(vasopressin=True), 3, "vasopressin alone"),
    ("one vasopressor with vasopressin: grade 3", hypotension(1, vasopressin=True), 3, "with vasopressin"),
    ("two vasopressors: grade 4", hypotension(pressors=2), 4, "2 vasopressors"),
    ("two vasopressors with vasopressin: grade 4", hypotension(2, vasopressin=True), 4, "not counted"),
    ("three vasopressors: grade 4", hypotension(pressors=3), 4, "3 vasopressors"),
    # the hypoxia path
    (
        "1 L/min nasal cannula: low-flow, grade 2",
        oxygen(O2.NASAL_CANNULA, 1.0),
        2,
        "low-flow oxygen 1.0 L/min",
    ),
    ("6.0 L/min is still low-flow: grade 2", oxygen(O2.NASAL_CANNULA, 6.0), 2, "at most 6.0 L/min"),
    ("6.1 L/min is high-flow: grade 3", oxygen(O2.NASAL_CANNULA, 6.1), 3, "above 6.0 L/min"),
    ("6.0000001 L/min is high-flow", oxygen(O2.NASAL_CANNULA, 6.0000001), 3, "6.0000001 L/min"),
    ("blow-by: grade 2", oxygen(O2.BLOW_BY, 2.0), 2, "low-flow oxygen 2.0 L/min by blow-by"),
    ("blow-by above 6 L/min is high-flow: grade 3", oxygen(O2.BLOW_BY, 8.0), 3, "high-flow oxygen 8.0 L/min"),
    (
        "high-flow nasal cannula: grade 3",
        oxygen(O2.HIGH_FLOW_NASAL_CANNULA, 20.0),
        3,
        "high-flow nasal cannula",
    ),
    ("facemask: grade 3", oxygen(O2.FACEMASK), 3, "facemask"),
    ("non-rebreather: grade 3", oxygen(O2.NON_REBREATHER, 15.0), 3, "non-rebreather"),
    ("Venturi mask: grade 3", oxygen(O2.VENTURI_MASK), 3, "Venturi"),
    ("CPAP: grade 4", oxygen(O2.CPAP), 4, "positive-pressure support (CPAP)"),
    ("BiPAP: grade 4", oxygen(O2.BIPAP), 4, "positive-pressure support (BiPAP)"),
    ("ventilation: grade 4", oxygen(O2.MECHANICAL_VENTILATION), 4, "mechanical ventilation"),
    # the worse of the two
    ("hypotension 2, BiPAP 4: grade 4", {**hypotension(), **oxygen(O2.BIPAP)}, 4, "BiPAP"),
    (
        "two pressors 4, low-flow 2: grade 4",
        {**hypotension(2), **oxygen(O2.NASAL_CANNULA, 2.0)},
        4,
        "vasopressors",
    ),
    ("hypotension 2, low-flow 2: grade 2", {**hypotension(), **oxygen(O2.BLOW_BY, 3.0)}, 2, "blow-by"),
    # fever masked by tocilizumab or steroids
    (
        "masked fever with hypotension: graded",
        {"max_temperature_c": 36.9, "masked": True, **hypotension()},
        2,
        "fever masked by tocilizumab 8 mg given 2026-03-09T03:00:00+00:00 (entry 40)",
    ),
    (
        "masked fever with one vasopressor: grade 3",
        {"max_temperature_c": 37.2, "masked": True, **hypotension(1)},
        3,
        "one vasopressor",
    ),
    (
        "masked fever on CPAP: grade 4",
        {"max_temperature_c": 37.0, "masked": True, **oxygen(O2.CPAP)},
        4,
        "CPAP",
    ),
    (
        "masked fever, nothing else: no CRS",
        {"max_temperature_c": 37.0, "masked": True},
        0,
        "no CRS: neither hypotension nor hypoxia",
    ),
    (
        "fever despite treatment is still fever: grade 1",
        {"max_temperature_c": 38.4, "masked": True},
        1,
        "fever 38.4 °C",
    ),
]


@pytest.mark.parametrize(
    ("findings", "grade", "reason"),
    [pytest.param(f, g, r, id=name) for name, f, g, r in CRS_EXAMPLES],
)
def test_crs_worked_examples(findings: dict[str, Any], grade: int, reason: str) -> None:
    values = dict(findings)
    masked_by = MASKING_DOSE if values.pop("masked", False) else None
    grading = grade_crs(crs(**values), CRS, masked_by)
    assert grading.grade == grade
    assert reason in reasons_text(grading)


def test_the_no_fever_reason_starts_with_no_crs() -> None:
    assert grade_crs(crs(max_temperature_c=37.9), CRS).reasons == (
        "no CRS: no fever (highest 37.9 °C, CRS needs at least 38.0 °C)",
    )


def test_a_temperature_just_below_fever_is_never_shown_rounded_up() -> None:
    grading = grade_crs(crs(max_temperature_c=37.95), CRS)
    assert grading.grade == 0
    assert "highest 37.95 °C" in grading.reasons[0]


def test_crs_reasons_name_every_finding_that_sets_the_grade_and_not_the_milder_ones() -> None:
    both = grade_crs(crs(**hypotension(1), **oxygen(O2.FACEMASK)), CRS)
    assert both.grade == 3
    assert both.reasons == (
        "fever 38.5 °C (at least 38.0 °C)",
        "hypotension needing one vasopressor: grade 3",
        "oxygen by facemask: grade 3",
    )
    worst = grade_crs(crs(**hypotension(), **oxygen(O2.MECHANICAL_VENTILATION)), CRS)
    assert worst.reasons == (
        "fever 38.5 °C (at least 38.0 °C)",
        "positive-pressure support (mechanical ventilation): grade 4",
    )


def test_crs_thresholds_come_from_the_protocol() -> None:
    amended = amend(PROTOCOL_V1, "9.9", crs={"fever_min_celsius": 38.3, "low_flow_oxygen_max_l_per_min": 4.0}).crs
    assert grade_crs(crs(max_temperature_c=38.2), amended).grade == 0
    assert grade_crs(crs(max_temperature_c=38.3), amended).grade == 1
    assert grade_crs(crs(**oxygen(O2.NASAL_CANNULA, 4.0)), amended).grade == 2
    assert grade_crs(crs(**oxygen(O2.NASAL_CANNULA, 4.1)), amended).grade == 3
    assert "above 4.0 L/min" in reasons_text(grade_crs(crs(**oxygen(O2.NASAL_CANNULA, 4.1)), amended))


@pytest.mark.parametrize(
    ("findings", "message"),
    [
        pytest.param({"vasopressors_excluding_vasopressin": 1}, "vasopressors are recorded but hypotension is not"),
        pytest.param({"vasopressin": True}, "vasopressin is recorded but hypotension is not"),
        pytest.param(oxygen(O2.NASAL_CANNULA), "nasal cannula needs its flow rate"),
        pytest.param(oxygen(O2.NASAL_CANNULA, 0.0), "greater than 0"),
        pytest.param(oxygen(O2.NASAL_CANNULA, -1.0), "greater than 0"),
        pytest.param(oxygen(O2.NONE, 2.0), "an oxygen flow rate is recorded but no oxygen support is"),
        pytest.param(oxygen(O2.NASAL_CANNULA, 100.1), "less than or equal to 100"),
        pytest.param({"max_temperature_c": 29.9}, "greater than or equal to 30"),
        pytest.param({"max_temperature_c": 45.1}, "less than or equal to 45"),
        pytest.param({"max_temperature_c": float("nan")}, "finite number"),
        pytest.param({"max_temperature_c": float("inf")}, "finite number"),
        pytest.param({**hypotension(), "vasopressors_excluding_vasopressin": -1}, "greater than or equal to 0"),
        pytest.param({**hypotension(), "vasopressors_excluding_vasopressin": 11}, "less than or equal to 10"),
        pytest.param({"oxygen": "ecmo"}, "Input should be"),
    ],
)
def test_inconsistent_or_impossible_crs_findings_are_refused(findings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        crs(**findings)


def test_crs_findings_at_the_recordable_limits_are_accepted() -> None:
    assert grade_crs(crs(max_temperature_c=30.0), CRS).grade == 0
    assert grade_crs(crs(max_temperature_c=45.0), CRS).grade == 1
    assert grade_crs(crs(**hypotension(10)), CRS).grade == 4
    assert grade_crs(crs(**oxygen(O2.NASAL_CANNULA, 100.0)), CRS).grade == 3


def test_both_problems_of_one_crs_entry_are_named_together() -> None:
    with pytest.raises(ValidationError) as error:
        crs(vasopressors_excluding_vasopressin=1, vasopressin=True, oxygen=O2.NASAL_CANNULA)
    text = str(error.value)
    assert "vasopressors are recorded" in text
    assert "vasopressin is recorded" in text
    assert "nasal cannula needs its flow rate" in text


# ================================================================ ICANS worked examples

ICE_AGE = 14
CAPD_AGE = 9

ICANS_EXAMPLES: list[tuple[str, int, dict[str, Any], int, str]] = [
    # ICE, age >= 12
    ("ICE 10 is normal", ICE_AGE, {"ice_score": 10}, 0, "no ICANS: ICE score 10/10: normal"),
    ("ICE 9: grade 1", ICE_AGE, {"ice_score": 9}, 1, "ICE score 9/10 (7–9): grade 1"),
    ("ICE 7: grade 1", ICE_AGE, {"ice_score": 7}, 1, "ICE score 7/10"),
    ("ICE 6: grade 2", ICE_AGE, {"ice_score": 6}, 2, "ICE score 6/10 (3–6): grade 2"),
    ("ICE 3: grade 2", ICE_AGE, {"ice_score": 3}, 2, "ICE score 3/10"),
    ("ICE 2: grade 3", ICE_AGE, {"ice_score": 2}, 3, "ICE score 2/10 (0–2): grade 3"),
    ("ICE 0 awake: grade 3", ICE_AGE, {"ice_score": 0}, 3, "ICE score 0/10"),
    (
        "ICE 0 and unarousable: grade 4",
        ICE_AGE,
        {"ice_score": 0, "consciousness": Consciousness.UNAROUSABLE},
        4,
        "unarousable",
    ),
    (
        "awake but unable to perform the ICE (global aphasia): the ICE scores 0, grade 3",
        ICE_AGE,
        {"unable_to_perform_assessment": True},
        3,
        "unable to perform the ICE (e.g. global aphasia): scored 0/10: grade 3",
    ),
    (
        "unable to perform the ICE, awakens to voice: grade 3",
        ICE_AGE,
        {"unable_to_perform_assessment": True, "consciousness": Consciousness.AWAKENS_TO_VOICE},
        3,
        "unable to perform the ICE",
    ),
    # CAPD, age < 12
    ("CAPD 0 is normal", CAPD_AGE, {"capd_score": 0}, 0, "no ICANS: CAPD score 0: normal"),
    ("CAPD 1: grade 1", CAPD_AGE, {"capd_score": 1}, 1, "CAPD score 1 (1–8): grade 1"),
    ("CAPD 8: grade 1", CAPD_AGE, {"capd_score": 8}, 1, "CAPD score 8"),
    ("CAPD 9: grade 3", CAPD_AGE, {"capd_score": 9}, 3, "CAPD score 9 (9 or more): grade 3"),
    ("CAPD 32: grade 3", CAPD_AGE, {"capd_score": 32}, 3, "CAPD score 32"),
    ("unable to perform the CAPD: grade 4", CAPD_AGE, {"unable_to_perform_assessment": True}, 4, "unable"),
    (
        "CAPD 5 and awakens to voice: consciousness makes it grade 2",
        CAPD_AGE,
        {"capd_score": 5, "consciousness": Consciousness.AWAKENS_TO_VOICE},
        2,
        "awakens only to voice",
    ),
    # each domain alone, with a normal score
    *[
        (f"{name}, ICE normal", ICE_AGE, {"ice_score": 10, **finding}, grade, words)
        for name, finding, grade, words in list[tuple[str, dict[str, Any], int, str]](
            [
                (
                    "awakens spontaneously",
                    {"consciousness": Consciousness.AWAKENS_SPONTANEOUSLY},
                    1,
                    "spontaneously",
                ),
                ("awakens to voice", {"consciousness": Consciousness.AWAKENS_TO_VOICE}, 2, "only to voice"),
                ("awakens to touch", {"consciousness": Consciousness.AWAKENS_TO_TOUCH}, 3, "only to touch"),
                ("unarousable", {"consciousness": Consciousness.UNAROUSABLE}, 4, "vigorous or repetitive"),
                ("seizure resolving rapidly", {"seizure": Seizure.RESOLVING_RAPIDLY}, 3, "resolved rapidly"),
                ("prolonged seizure", {"seizure": Seizure.PROLONGED_OR_REPETITIVE}, 4, "over 5 minutes"),
                ("deep focal weakness", {"motor": MotorFinding.DEEP_FOCAL_WEAKNESS}, 4, "hemiparesis"),
                ("focal edema", {"cerebral_edema": CerebralEdema.FOCAL}, 3, "focal edema"),
                ("diffuse edema", {"cerebral_edema": CerebralEdema.DIFFUSE}, 4, "Cushing's triad"),
            ]
        )
    ],
    (
        "a domain alone counts for CAPD too",
        CAPD_AGE,
        {"capd_score": 0, "seizure": Seizure.RESOLVING_RAPIDLY},
        3,
        "seizure",
    ),
    # the worst of them
    (
        "ICE 5 (2), focal edema (3), awakens spontaneously (1): grade 3",
        ICE_AGE,
        {
            "ice_score": 5,
            "cerebral_edema": CerebralEdema.FOCAL,
            "consciousness": Consciousness.AWAKENS_SPONTANEOUSLY,
        },
        3,
        "focal edema",
    ),
    (
        "CAPD 12 (3) and deep focal weakness (4): grade 4",
        CAPD_AGE,
        {"capd_score": 12, "motor": MotorFinding.DEEP_FOCAL_WEAKNESS},
        4,
        "hemiparesis",
    ),
]


@pytest.mark.parametrize(
    ("age", "findings", "grade", "reason"),
    [pytest.param(a, f, g, r, id=name) for name, a, f, g, r in ICANS_EXAMPLES],
)
def test_icans_worked_examples(age: int, findings: dict[str, Any], grade: int, reason: str) -> None:
    assert icans_findings_problems(icans(**findings), age, ICANS) == []
    grading = grade_icans(icans(**findings), age, ICANS)
    assert grading.grade == grade
    assert reason in reasons_text(grading)


def test_icans_reasons_name_every_domain_at_the_worst_grade_and_only_those() -> None:
    grading = grade_icans(
        icans(ice_score=5, seizure=Seizure.RESOLVING_RAPIDLY, cerebral_edema=CerebralEdema.FOCAL),
        ICE_AGE,
        ICANS,
    )
    assert grading.grade == 3
    assert grading.reasons == (
        "seizure that resolved rapidly, or non-convulsive seizure resolved by treatment: grade 3",
        "focal edema on neuroimaging: grade 3",
    )


@pytest.mark.parametrize(
    ("age", "scale"),
    [(1, "CAPD"), (9, "CAPD"), (11, "CAPD"), (12, "ICE"), (13, "ICE"), (17, "ICE")],
)
def test_the_icans_scale_follows_age(age: int, scale: str) -> None:
    assert icans_scale_for_age(age, ICANS) == scale


def test_age_11_and_12_boundary_refuses_the_wrong_scale_and_grades_the_right_one() -> None:
    assert icans_findings_problems(icans(ice_score=8), 11, ICANS) == ["patient is 11: score the CAPD, not the ICE"]
    assert icans_findings_problems(icans(capd_score=3), 11, ICANS) == []
    assert icans_findings_problems(icans(capd_score=3), 12, ICANS) == ["patient is 12: score the ICE, not the CAPD"]
    assert icans_findings_problems(icans(ice_score=8), 12, ICANS) == []
    assert grade_icans(icans(capd_score=3), 11, ICANS).grade == 1
    assert grade_icans(icans(ice_score=8), 12, ICANS).grade == 1


def test_the_protocols_example_message_for_a_nine_year_old() -> None:
    assert icans_findings_problems(icans(ice_score=9), 9, ICANS) == ["patient is 9: score the CAPD, not the ICE"]


@pytest.mark.parametrize(("age", "scale", "top"), [(9, "CAPD", 32), (14, "ICE", 10)])
def test_a_score_or_unable_to_perform_must_be_recorded(age: int, scale: str, top: int) -> None:
    assert icans_findings_problems(icans(), age, ICANS) == [
        f"patient is {age}: record the {scale} score (0–{top}) or that the patient was unable to perform it"
    ]
    with pytest.raises(ValueError, match="record the"):
        grade_icans(icans(), age, ICANS)


def test_grading_findings_with_the_wrong_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="score the CAPD, not the ICE"):
        grade_icans(icans(ice_score=10), 9, ICANS)
    with pytest.raises(ValueError, match="score the ICE, not the CAPD"):
        grade_icans(icans(capd_score=0), 14, ICANS)


def test_a_negative_age_is_a_problem() -> None:
    assert icans_findings_problems(icans(capd_score=0), -1, ICANS) == ["age -1 is not an age"]


@pytest.mark.parametrize(
    ("findings", "message"),
    [
        pytest.param({"ice_score": 9, "capd_score": 2}, "both an ICE and a CAPD score are recorded"),
        pytest.param({"ice_score": 9, "unable_to_perform_assessment": True}, "unable to perform the assessment"),
        pytest.param({"capd_score": 0, "unable_to_perform_assessment": True}, "unable to perform the assessment"),
        pytest.param({"ice_score": 11}, "less than or equal to 10"),
        pytest.param({"ice_score": -1}, "greater than or equal to 0"),
        pytest.param({"capd_score": 33}, "less than or equal to 32"),
        pytest.param({"capd_score": 0, "consciousness": "drowsy"}, "Input should be"),
    ],
)
def test_inconsistent_or_impossible_icans_findings_are_refused(findings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        icans(**findings)


def test_icans_thresholds_come_from_the_protocol() -> None:
    amended = amend(
        PROTOCOL_V1,
        "9.9",
        icans={
            "ice_from_age_years": 10,
            "ice_grade1_min": 8,
            "capd_grade3_min": 10,
            "prolonged_seizure_minutes": 3,
            "ice_max": 9,
        },
    ).icans
    assert icans_scale_for_age(10, amended) == "ICE"
    assert icans_scale_for_age(9, amended) == "CAPD"
    assert grade_icans(icans(ice_score=7), 10, amended).grade == 2
    assert grade_icans(icans(ice_score=8), 10, amended).grade == 1
    assert grade_icans(icans(ice_score=9), 10, amended).grade == 0
    assert icans_findings_problems(icans(ice_score=10), 10, amended) == [
        "the ICE score runs from 0 to 9: 10 is out of range"
    ]
    assert grade_icans(icans(capd_score=9), 9, amended).grade == 1
    assert grade_icans(icans(capd_score=10), 9, amended).grade == 3
    seizure = grade_icans(icans(capd_score=0, seizure=Seizure.PROLONGED_OR_REPETITIVE), 9, amended)
    assert "over 3 minutes" in reasons_text(seizure)


# ================================================================ adverse events


def adverse_event(**overrides: Any) -> AdverseEvent:
    values: dict[str, Any] = {
        "term": "febrile neutropenia",
        "ctcae_grade": 3,
        "serious": False,
        "related_to_car_t": "possible",
        "onset_date": date(2026, 2, 1),
    }
    values.update(overrides)
    return AdverseEvent(**values)


def test_an_adverse_event_term_is_stripped() -> None:
    assert adverse_event(term="  hypokalemia \n").term == "hypokalemia"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"term": ""}, "at least 1 character"),
        pytest.param({"term": "   "}, "at least 1 character"),
        pytest.param({"term": "x" * 201}, "at most 200 characters"),
        pytest.param({"ctcae_grade": 0}, "greater than or equal to 1"),
        pytest.param({"ctcae_grade": 6}, "less than or equal to 5"),
        pytest.param({"related_to_car_t": "maybe"}, "Input should be"),
    ],
)
def test_impossible_adverse_events_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        adverse_event(**overrides)


def test_adverse_event_limits_are_accepted() -> None:
    assert len(adverse_event(term="x" * 200).term) == 200
    assert adverse_event(ctcae_grade=1).ctcae_grade == 1
    assert adverse_event(ctcae_grade=5, serious=True).ctcae_grade == 5


@pytest.mark.parametrize("grade", [1, 2, 3, 4, 5])
def test_ctcae_grades_1_to_5_are_grades(grade: int) -> None:
    assert ctcae_grade_problems(grade, SAFETY) == []


@pytest.mark.parametrize(
    ("grade", "problem"),
    [
        (0, "CTCAE grade 0 means no adverse event: grades run from 1 to 5 (CTCAE v5.0)"),
        (6, "CTCAE grades run from 1 to 5 (CTCAE v5.0): 6 is not a grade"),
        (-1, "CTCAE grades run from 1 to 5 (CTCAE v5.0): -1 is not a grade"),
    ],
)
def test_other_numbers_are_not_ctcae_grades(grade: int, problem: str) -> None:
    assert ctcae_grade_problems(grade, SAFETY) == [problem]


# ================================================================ expedited reports


@pytest.mark.parametrize(
    ("findings", "expected"),
    [
        pytest.param({}, (), id="nothing"),
        pytest.param({"crs_grade": 0}, (), id="CRS 0"),
        pytest.param({"crs_grade": 2}, (), id="CRS 2"),
        pytest.param({"crs_grade": 3}, ("CRS grade 3 (grade 3 or higher): report within 24 hours",), id="CRS 3"),
        pytest.param({"crs_grade": 4}, ("CRS grade 4 (grade 3 or higher): report within 24 hours",), id="CRS 4"),
        pytest.param({"icans_grade": 2}, (), id="ICANS 2"),
        pytest.param({"icans_grade": 3}, ("ICANS grade 3 (grade 3 or higher): report within 24 hours",), id="ICANS 3"),
        pytest.param({"adverse_event": adverse_event(ctcae_grade=4)}, (), id="grade 4 AE, not serious"),
        pytest.param(
            {"adverse_event": adverse_event(ctcae_grade=1, serious=True, term="fall")},
            ("serious adverse event: fall (CTCAE grade 1): report within 24 hours",),
            id="serious grade 1 AE",
        ),
        pytest.param(
            {"adverse_event": adverse_event(ctcae_grade=5, serious=True, term="cerebral edema")},
            ("death: cerebral edema (CTCAE grade 5) is a serious adverse event: report within 24 hours",),
            id="grade 5 AE",
        ),
        pytest.param(
            {"adverse_event": adverse_event(ctcae_grade=5, serious=False, term="sepsis")},
            ("death: sepsis (CTCAE grade 5) is a serious adverse event: report within 24 hours",),
            id="grade 5 AE not ticked serious",
        ),
    ],
)
def test_expedited_report_triggers(findings: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert expedited_report_reasons(**findings, safety=SAFETY) == expected


def test_every_trigger_is_named_together() -> None:
    reasons = expedited_report_reasons(
        crs_grade=3, icans_grade=4, adverse_event=adverse_event(serious=True), safety=SAFETY
    )
    assert len(reasons) == 3
    assert [r.split(" ")[0] for r in reasons] == ["CRS", "ICANS", "serious"]


def test_expedited_thresholds_come_from_the_protocol() -> None:
    amended = amend(PROTOCOL_V1, "9.9", safety={"expedited_min_crs_grade": 2, "expedited_report_hours": 12}).safety
    assert expedited_report_reasons(crs_grade=2, safety=amended) == (
        "CRS grade 2 (grade 2 or higher): report within 12 hours",
    )
    assert expedited_report_reasons(icans_grade=2, safety=amended) == ()


@pytest.mark.parametrize("findings", [{"crs_grade": 5}, {"crs_grade": -1}, {"icans_grade": 7}])
def test_a_grade_outside_the_astct_scale_is_a_programming_error(findings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="is not an ASTCT grade"):
        expedited_report_reasons(**findings, safety=SAFETY)


def test_graded_toxicities_feed_the_expedited_report() -> None:
    crs_grade = grade_crs(crs(**hypotension(vasopressin=True)), CRS).grade
    icans_grade = grade_icans(icans(capd_score=8), CAPD_AGE, ICANS).grade
    assert expedited_report_reasons(crs_grade=crs_grade, safety=SAFETY) != ()
    assert expedited_report_reasons(icans_grade=icans_grade, safety=SAFETY) == ()


# ================================================================ properties

# Oxygen support, mildest first. The devices graded by their rate (blow-by, nasal and high-flow cannula) are as bad
# as their rate: moving between them, more flow is more support.
OXYGEN_LADDER = [
    O2.NONE,
    O2.BLOW_BY,
    O2.NASAL_CANNULA,
    O2.HIGH_FLOW_NASAL_CANNULA,
    O2.VENTURI_MASK,
    O2.FACEMASK,
    O2.NON_REBREATHER,
    O2.CPAP,
    O2.BIPAP,
    O2.MECHANICAL_VENTILATION,
]
CONSCIOUSNESS_LADDER = [
    Consciousness.ALERT,
    Consciousness.AWAKENS_SPONTANEOUSLY,
    Consciousness.AWAKENS_TO_VOICE,
    Consciousness.AWAKENS_TO_TOUCH,
    Consciousness.UNAROUSABLE,
]
SEIZURE_LADDER = [Seizure.NONE, Seizure.RESOLVING_RAPIDLY, Seizure.PROLONGED_OR_REPETITIVE]
MOTOR_LADDER = [MotorFinding.NONE, MotorFinding.DEEP_FOCAL_WEAKNESS]
EDEMA_LADDER = [CerebralEdema.NONE, CerebralEdema.FOCAL, CerebralEdema.DIFFUSE]

# Exhaustive grids: every assessment on the grid, and every single step that makes one finding worse.
# Steps compose, so no step lowering the grade means no worsening lowers it.

CRS_TEMPERATURES = [36.0, 37.9, 38.0, 40.0]
CRS_HYPOTENSION = [(False, 0, False)] + [(True, p, v) for p in range(4) for v in (False, True)]
CRS_OXYGEN = [
    (O2.NONE, None),
    (O2.BLOW_BY, 2.0),
    (O2.NASAL_CANNULA, 2.0),
    (O2.HIGH_FLOW_NASAL_CANNULA, 6.0),
    (O2.NASAL_CANNULA, 6.1),
    (O2.HIGH_FLOW_NASAL_CANNULA, 15.0),
    *[(device, None) for device in OXYGEN_LADDER[4:]],
]


def crs_grid_findings(t: int, h: tuple[bool, int, bool], o: int) -> CrsFindings:
    device, flow = CRS_OXYGEN[o]
    return crs(
        max_temperature_c=CRS_TEMPERATURES[t],
        **hypotension(h[1], h[2]) if h[0] else {},
        **oxygen(device, flow),
    )


def crs_worse_hypotension(h: tuple[bool, int, bool]) -> list[tuple[bool, int, bool]]:
    present, pressors, vasopressin = h
    if not present:
        return [(True, 0, False)]
    steps = [(True, pressors + 1, vasopressin)] if pressors < 3 else []
    return steps + ([(True, pressors, True)] if not vasopressin else [])


def test_on_the_whole_crs_grid_no_single_worsening_lowers_the_grade() -> None:
    checked = 0
    for masked in (False, True):
        for t in range(len(CRS_TEMPERATURES)):
            for h in CRS_HYPOTENSION:
                for o in range(len(CRS_OXYGEN)):
                    masked_by = MASKING_DOSE if masked else None
                    grade = grade_crs(crs_grid_findings(t, h, o), CRS, masked_by).grade
                    worse = [(t + 1, h, o)] if t + 1 < len(CRS_TEMPERATURES) else []
                    worse += [(t, h2, o) for h2 in crs_worse_hypotension(h)]
                    worse += [(t, h, o + 1)] if o + 1 < len(CRS_OXYGEN) else []
                    for t2, h2, o2 in worse:
                        worse_grade = grade_crs(crs_grid_findings(t2, h2, o2), CRS, masked_by).grade
                        assert worse_grade >= grade, (t, h, o, masked, "->", t2, h2, o2)
                        checked += 1
    assert checked > 2000


@pytest.mark.parametrize(
    ("age", "scores"), [(ICE_AGE, [*range(10, -1, -1), "unable"]), (CAPD_AGE, [*range(33), "unable"])]
)
def test_on_the_whole_icans_grid_no_single_worsening_lowers_the_grade(age: int, scores: list[Any]) -> None:
    """Scores are listed mildest first (ICE falls, CAPD rises to 'unable to perform')."""
    field = "ice_score" if age == ICE_AGE else "capd_score"
    ladders: list[list[Any]] = [CONSCIOUSNESS_LADDER, SEIZURE_LADDER, MOTOR_LADDER, EDEMA_LADDER]
    names = ["consciousness", "seizure", "motor", "cerebral_edema"]

    def grade(position: tuple[int, ...]) -> int:
        score = scores[position[0]]
        findings = icans(
            **({"unable_to_perform_assessment": True} if score == "unable" else {field: score}),
            **{name: ladder[i] for name, ladder, i in zip(names, ladders, position[1:], strict=True)},
        )
        return grade_icans(findings, age, ICANS).grade

    sizes = [len(scores), *(len(ladder) for ladder in ladders)]
    grades = {position: grade(position) for position in itertools.product(*(range(n) for n in sizes))}
    for position, g in grades.items():
        for axis, size in enumerate(sizes):
            if position[axis] + 1 < size:
                step = tuple(i + (k == axis) for k, i in enumerate(position))
                assert grades[step] >= g, (position, "->", step)


temperatures = st.floats(min_value=30.0, max_value=45.0, allow_nan=False)
flows = st.floats(min_value=0.1, max_value=100.0, allow_nan=False)
crs_criteria = st.builds(
    CrsCriteria,
    fever_min_celsius=st.floats(min_value=37.5, max_value=39.5),
    low_flow_oxygen_max_l_per_min=st.floats(min_value=1.0, max_value=15.0),
)


@st.composite
def worsening_crs(draw: st.DrawFn) -> tuple[CrsFindings, CrsFindings, FeverMaskingDose | None]:
    """Two assessments, the second at least as bad in every finding, and the dose masking both (or None)."""
    masked = draw(st.booleans())
    low_t, high_t = sorted(draw(st.lists(temperatures, min_size=2, max_size=2)))

    hypo = draw(st.booleans())
    pressors = draw(st.integers(0, 10)) if hypo else 0
    vasopressin = draw(st.booleans()) if hypo else False
    worse_hypo = hypo or draw(st.booleans())
    worse_pressors = draw(st.integers(pressors, 10)) if worse_hypo else 0
    worse_vasopressin = (vasopressin or draw(st.booleans())) if worse_hypo else False

    rung = draw(st.integers(0, len(OXYGEN_LADDER) - 1))
    worse_rung = draw(st.integers(rung, len(OXYGEN_LADDER) - 1))

    by_rate = {O2.BLOW_BY, O2.NASAL_CANNULA, O2.HIGH_FLOW_NASAL_CANNULA}

    def flow_for(device: OxygenSupport, at_least: float | None) -> float | None:
        if device in by_rate:
            return draw(flows if at_least is None else st.floats(min_value=at_least, max_value=100.0))
        if device is O2.NONE:
            return None
        return draw(st.none() | flows)  # recorded or not, it does not change these devices' grade

    device, worse_device = OXYGEN_LADDER[rung], OXYGEN_LADDER[worse_rung]
    flow = flow_for(device, None)
    worse_flow = flow_for(worse_device, flow if device in by_rate and worse_device in by_rate else None)

    def findings(t: float, h: bool, p: int, v: bool, o: OxygenSupport, f: float | None) -> CrsFindings:
        return CrsFindings(
            max_temperature_c=t,
            hypotension=h,
            vasopressors_excluding_vasopressin=p,
            vasopressin=v,
            oxygen=o,
            oxygen_flow_l_per_min=f,
        )

    return (
        findings(low_t, hypo, pressors, vasopressin, device, flow),
        findings(high_t, worse_hypo, worse_pressors, worse_vasopressin, worse_device, worse_flow),
        MASKING_DOSE if masked else None,
    )


@given(pair=worsening_crs(), criteria=crs_criteria)
def test_crs_grade_never_falls_when_a_finding_worsens(
    pair: tuple[CrsFindings, CrsFindings, FeverMaskingDose | None], criteria: CrsCriteria
) -> None:
    milder, worse, masked_by = pair
    assert grade_crs(worse, criteria, masked_by).grade >= grade_crs(milder, criteria, masked_by).grade


@given(pair=worsening_crs(), criteria=crs_criteria)
def test_crs_grade_is_on_the_scale_and_always_explained(
    pair: tuple[CrsFindings, CrsFindings, FeverMaskingDose | None], criteria: CrsCriteria
) -> None:
    for findings in pair[:2]:
        grading = grade_crs(findings, criteria, pair[2])
        assert 0 <= grading.grade <= 4
        assert grading.reasons
        assert all(reason.strip() for reason in grading.reasons)
        if grading.grade > 0:
            assert all(not reason.startswith("no CRS") for reason in grading.reasons)


@given(pair=worsening_crs(), criteria=crs_criteria)
def test_crs_needs_fever_or_masking_and_then_is_the_worse_of_hypotension_and_hypoxia(
    pair: tuple[CrsFindings, CrsFindings, FeverMaskingDose | None], criteria: CrsCriteria
) -> None:
    findings, masked_by = pair[1], pair[2]
    fever = findings.max_temperature_c >= criteria.fever_min_celsius
    grade = grade_crs(findings, criteria, masked_by).grade
    if not fever and masked_by is None:
        assert grade == 0
        return
    fever_only = findings.model_copy(update={"max_temperature_c": 45.0})
    hypotension_only = fever_only.model_copy(update={"oxygen": O2.NONE, "oxygen_flow_l_per_min": None})
    hypoxia_only = fever_only.model_copy(
        update={"hypotension": False, "vasopressors_excluding_vasopressin": 0, "vasopressin": False}
    )
    organ = max(grade_crs(hypotension_only, criteria).grade, grade_crs(hypoxia_only, criteria).grade)
    # Each "only" copy has fever, so `organ` is at least 1: masked fever alone is no CRS.
    assert grade == (organ if fever or organ > 1 else 0)


@given(pair=worsening_crs())
def test_crs_findings_survive_the_trial_record(pair: tuple[CrsFindings, CrsFindings, FeverMaskingDose | None]) -> None:
    for findings in pair[:2]:
        assert CrsFindings.model_validate_json(findings.model_dump_json()) == findings


@st.composite
def worsening_icans(draw: st.DrawFn) -> tuple[int, IcansFindings, IcansFindings]:
    """A patient's age and two assessments, the second at least as bad in every domain."""
    age = draw(st.integers(1, 17))
    scale = icans_scale_for_age(age, ICANS)

    def worse_on(ladder: list[Any]) -> tuple[Any, Any]:
        i = draw(st.integers(0, len(ladder) - 1))
        return ladder[i], ladder[draw(st.integers(i, len(ladder) - 1))]

    score_field = "ice_score" if scale == "ICE" else "capd_score"
    unable = draw(st.booleans())
    if scale == "ICE":
        # An awake patient unable to perform the ICE scores it 0: the ICE's worst.
        score = None if unable else draw(st.integers(0, ICANS.ice_max))
        worse_unable = unable or draw(st.booleans())
        worse_score = None if worse_unable else draw(st.integers(0, score if score is not None else 0))
    else:
        score = None if unable else draw(st.integers(0, ICANS.capd_max))
        worse_unable = unable or draw(st.booleans())  # unable to perform the CAPD is its worst
        worse_score = None if worse_unable else draw(st.integers(score, ICANS.capd_max))

    consciousness = worse_on(CONSCIOUSNESS_LADDER)
    seizure = worse_on(SEIZURE_LADDER)
    motor = worse_on(MOTOR_LADDER)
    edema = worse_on(EDEMA_LADDER)

    def findings(which: int, s: int | None, u: bool) -> IcansFindings:
        return IcansFindings(
            **{score_field: s},
            unable_to_perform_assessment=u,
            consciousness=consciousness[which],
            seizure=seizure[which],
            motor=motor[which],
            cerebral_edema=edema[which],
        )

    return age, findings(0, score, unable), findings(1, worse_score, worse_unable)


@given(case=worsening_icans())
def test_icans_grade_never_falls_when_a_domain_worsens(
    case: tuple[int, IcansFindings, IcansFindings],
) -> None:
    age, milder, worse = case
    assert grade_icans(worse, age, ICANS).grade >= grade_icans(milder, age, ICANS).grade


@given(case=worsening_icans())
def test_icans_grade_is_on_the_scale_and_always_explained(
    case: tuple[int, IcansFindings, IcansFindings],
) -> None:
    age, *assessments = case
    for findings in assessments:
        assert icans_findings_problems(findings, age, ICANS) == []
        grading = grade_icans(findings, age, ICANS)
        assert 0 <= grading.grade <= 4
        assert grading.reasons
        assert all(reason.strip() for reason in grading.reasons)
        assert any(f": grade {grading.grade}" in reason for reason in grading.reasons) == (grading.grade > 0)


@given(case=worsening_icans())
def test_icans_is_the_worst_of_its_domains(case: tuple[int, IcansFindings, IcansFindings]) -> None:
    age, _, findings = case
    normal_score: dict[str, Any] = (
        {"ice_score": ICANS.ice_max, "capd_score": None}
        if icans_scale_for_age(age, ICANS) == "ICE"
        else {"ice_score": None, "capd_score": 0}
    )
    nothing = findings.model_copy(
        update={
            **normal_score,
            "unable_to_perform_assessment": False,
            "consciousness": Consciousness.ALERT,
            "seizure": Seizure.NONE,
            "motor": MotorFinding.NONE,
            "cerebral_edema": CerebralEdema.NONE,
        }
    )
    score_domain = {
        "ice_score": findings.ice_score,
        "capd_score": findings.capd_score,
        "unable_to_perform_assessment": findings.unable_to_perform_assessment,
    }
    domains: list[dict[str, Any]] = [
        score_domain,
        {"consciousness": findings.consciousness},
        {"seizure": findings.seizure},
        {"motor": findings.motor},
        {"cerebral_edema": findings.cerebral_edema},
    ]
    alone = [grade_icans(nothing.model_copy(update=domain), age, ICANS).grade for domain in domains]
    assert grade_icans(findings, age, ICANS).grade == max(alone)


@given(case=worsening_icans())
def test_icans_findings_survive_the_trial_record(case: tuple[int, IcansFindings, IcansFindings]) -> None:
    for findings in case[1:]:
        assert isinstance(findings, IcansFindings)
        assert IcansFindings.model_validate_json(findings.model_dump_json()) == findings


@given(pair=worsening_crs(), criteria=crs_criteria)
def test_a_dose_that_masks_the_fever_never_lowers_the_crs_grade(
    pair: tuple[CrsFindings, CrsFindings, FeverMaskingDose | None], criteria: CrsCriteria
) -> None:
    for findings in pair[:2]:
        assert grade_crs(findings, criteria, MASKING_DOSE).grade >= grade_crs(findings, criteria).grade
