"""Doses: Mosteller BSA, the FC plan and its renal suggestion, and the CAR-T cell dose against the product."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.amendment import amend
from domain.dosing import (
    CellDoseRange,
    LymphodepletionPlan,
    ProductClassification,
    RenalAdjustmentSuggestion,
    car_t_dose_range,
    classify_product,
    daily_dose_mg,
    dose_deviation_fraction,
    fludarabine_renal_adjustment,
    mosteller_bsa_m2,
    plan_lymphodepletion,
    round_dose_mg,
)
from domain.protocol import PROTOCOL_V1, CellDoseRules, LymphodepletingDrug

REGIMEN = PROTOCOL_V1.lymphodepletion
FLUDARABINE = REGIMEN.fludarabine
CYCLOPHOSPHAMIDE = REGIMEN.cyclophosphamide
CELL_DOSE = PROTOCOL_V1.cell_dose

heights = st.floats(40, 200)
weights = st.floats(2, 150)
bsas = st.floats(0.1, 2.5)


# ---------------------------------------------------------------- BSA and lymphodepletion


@pytest.mark.parametrize(
    ("height_cm", "weight_kg", "bsa"),
    [
        (120.0, 22.0, 0.8563488385776753),  # the protocol's example, 0.856 m²
        (100.0, 36.0, 1.0),
        (180.0, 80.0, 2.0),
        (50.0, 3.5, 0.2204792759220492),
    ],
)
def test_mosteller_bsa(height_cm: float, weight_kg: float, bsa: float) -> None:
    assert mosteller_bsa_m2(height_cm, weight_kg) == pytest.approx(bsa, rel=1e-15)


def test_the_protocols_worked_example() -> None:
    assert plan_lymphodepletion(120, 22, 80, REGIMEN) == LymphodepletionPlan(
        height_cm=120,
        weight_kg=22,
        bsa_m2=0.856,
        fludarabine_daily_mg=25.7,
        fludarabine_days=4,
        cyclophosphamide_daily_mg=428,
        cyclophosphamide_days=2,
        renal_suggestion=None,
        fludarabine_adjusted_daily_mg=None,
    )


@pytest.mark.parametrize(
    ("crcl", "reduction"),
    [
        (120.0, None),
        (80.0, None),
        (70.1, None),
        (70.0, 0.20),
        (50.0, 0.20),
        (30.0, 0.20),
        (29.9, 0.50),
        (5.0, 0.50),
    ],
)
def test_fludarabine_renal_tiers(crcl: float, reduction: float | None) -> None:
    suggestion = fludarabine_renal_adjustment(crcl, REGIMEN)
    assert (suggestion.reduction_fraction if suggestion else None) == reduction


@pytest.mark.parametrize(
    ("crcl", "reason"),
    [
        (
            55.0,
            "creatinine clearance 55 mL/min/1.73 m² is at or below 70, "
            "so the fludarabine label suggests reducing the dose by 20 %",
        ),
        (
            29.9,
            "creatinine clearance 29.9 mL/min/1.73 m² is below 30, "
            "so the fludarabine label suggests reducing the dose by 50 %",
        ),
    ],
)
def test_the_renal_suggestion_says_why(crcl: float, reason: str) -> None:
    assert fludarabine_renal_adjustment(crcl, REGIMEN) == RenalAdjustmentSuggestion(
        crcl_ml_min_173m2=crcl, reduction_fraction=0.2 if crcl >= 30 else 0.5, reason=reason
    )


@pytest.mark.parametrize(
    ("crcl", "adjusted_mg"),
    [
        (55.0, 20.5),  # 0.856 x 30 x 0.8 = 20.544
        (29.9, 12.8),  # 0.856 x 30 x 0.5 = 12.84
    ],
)
def test_a_renal_suggestion_is_offered_never_applied(crcl: float, adjusted_mg: float) -> None:
    plan = plan_lymphodepletion(120, 22, crcl, REGIMEN)
    assert plan.renal_suggestion is not None
    assert plan.fludarabine_daily_mg == 25.7  # the full dose stands until the physician decides
    assert plan.fludarabine_adjusted_daily_mg == adjusted_mg
    assert plan.cyclophosphamide_daily_mg == 428


def test_an_amended_regimen_is_followed() -> None:
    amended = amend(
        PROTOCOL_V1,
        "9.9",
        lymphodepletion={
            "fludarabine": {"name": "fludarabine", "mg_per_m2_per_day": 25, "days": 3, "rounding_mg": 0.5},
            "fludarabine_renal_tiers": [{"crcl_upper": 60, "upper_inclusive": False, "reduction_fraction": 0.25}],
        },
    ).lymphodepletion
    plan = plan_lymphodepletion(120, 22, 65, amended)
    assert (plan.fludarabine_daily_mg, plan.fludarabine_days, plan.renal_suggestion) == (21.5, 3, None)
    plan = plan_lymphodepletion(120, 22, 59, amended)
    assert plan.renal_suggestion is not None
    assert (plan.renal_suggestion.reduction_fraction, plan.fludarabine_adjusted_daily_mg) == (0.25, 16.0)


@pytest.mark.parametrize(
    ("dose_mg", "step_mg", "rounded"),
    [
        (25.68, 0.1, 25.7),
        (25.65, 0.1, 25.7),  # half up
        (25.6499, 0.1, 25.6),
        (428.17, 1.0, 428.0),
        (427.5, 1.0, 428.0),
        (428.5, 1.0, 429.0),  # half up, not to even
        (2.675, 0.01, 2.68),  # round(2.675, 2) is 2.67 in binary floating point
        (1.005, 0.01, 1.01),
        (428.0, 5.0, 430.0),
        (0.04, 0.1, 0.0),
        (0.0, 0.1, 0.0),
    ],
)
def test_round_dose_half_up_to_the_step(dose_mg: float, step_mg: float, rounded: float) -> None:
    assert round_dose_mg(dose_mg, step_mg) == rounded


@pytest.mark.parametrize(
    ("drug", "bsa", "reduction", "dose"),
    [
        (FLUDARABINE, 0.856, 0.0, 25.7),
        (FLUDARABINE, 1.0, 0.0, 30.0),
        (FLUDARABINE, 0.855, 0.0, 25.7),  # 25.65: half up
        (FLUDARABINE, 0.856, 0.2, 20.5),
        (FLUDARABINE, 0.856, 0.5, 12.8),
        (CYCLOPHOSPHAMIDE, 0.856, 0.0, 428.0),
        (CYCLOPHOSPHAMIDE, 0.857, 0.0, 429.0),  # 428.5: half up
        (CYCLOPHOSPHAMIDE, 1.2, 0.0, 600.0),
        (LymphodepletingDrug(name="x", mg_per_m2_per_day=500, days=1, rounding_mg=5), 0.856, 0.0, 430.0),
    ],
)
def test_daily_dose(drug: LymphodepletingDrug, bsa: float, reduction: float, dose: float) -> None:
    assert daily_dose_mg(drug, bsa, reduction) == dose


def test_the_bsa_is_recorded_to_its_step_and_the_doses_follow_it() -> None:
    # 100 cm, 16 kg: BSA 0.66667 m² is recorded 0.667 m², so cyclophosphamide is 333.5 -> 334 mg (not
    # 333.3 -> 333): a pharmacist checking the record by hand finds the same dose.
    plan = plan_lymphodepletion(100.0, 16.0, 80, REGIMEN)
    assert mosteller_bsa_m2(100.0, 16.0) == pytest.approx(2 / 3)
    assert plan.bsa_m2 == 0.667
    assert (plan.fludarabine_daily_mg, plan.cyclophosphamide_daily_mg) == (20.0, 334.0)


@pytest.mark.parametrize(
    ("prescribed", "given_mg", "fraction"),
    [
        (25.7, 25.7, 0.0),
        (100.0, 110.0, 0.1),
        (100.0, 90.0, 0.1),
        (428.0, 0.0, 1.0),
        (20.0, 50.0, 1.5),
    ],
)
def test_dose_deviation_fraction(prescribed: float, given_mg: float, fraction: float) -> None:
    assert dose_deviation_fraction(prescribed, given_mg) == pytest.approx(fraction)


# ---------------------------------------------------------------- refused values


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: mosteller_bsa_m2(0, 22), r"height \(cm\) must be a positive number, not 0"),
        (lambda: mosteller_bsa_m2(-120, 22), r"height \(cm\) must be a positive number, not -120"),
        (lambda: mosteller_bsa_m2(math.nan, 22), r"height \(cm\) must be a positive number, not nan"),
        (lambda: mosteller_bsa_m2(120, 0.0), r"weight \(kg\) must be a positive number, not 0.0"),
        (lambda: mosteller_bsa_m2(120, math.inf), r"weight \(kg\) must be a positive number, not inf"),
        (lambda: plan_lymphodepletion(120, -22, 80, REGIMEN), r"weight \(kg\) must be .* not -22"),
        (lambda: plan_lymphodepletion(120, 22, 0, REGIMEN), r"creatinine clearance .* not 0"),
        (lambda: plan_lymphodepletion(120, 22, math.nan, REGIMEN), r"creatinine clearance .* not nan"),
        (lambda: fludarabine_renal_adjustment(-5, REGIMEN), r"creatinine clearance .* not -5"),
        (lambda: daily_dose_mg(FLUDARABINE, 0), r"body surface area \(m²\) must be a positive number, not 0"),
        (lambda: daily_dose_mg(FLUDARABINE, 1, 1.0), r"a dose reduction is a fraction .* not 1.0"),
        (lambda: daily_dose_mg(FLUDARABINE, 1, -0.2), r"a dose reduction is a fraction .* not -0.2"),
        (lambda: round_dose_mg(25.7, 0), r"the rounding step \(mg\) must be a positive number, not 0"),
        (lambda: round_dose_mg(math.nan, 0.1), r"a dose must be a finite number .* not nan"),
        (lambda: round_dose_mg(-1, 0.1), r"a dose must be a finite number .* not -1"),
        (lambda: dose_deviation_fraction(0, 10), r"the prescribed dose \(mg\) .* not 0"),
        (lambda: dose_deviation_fraction(10, math.nan), r"the dose given must be .*, not nan"),
        (lambda: car_t_dose_range(0, CELL_DOSE), r"weight \(kg\) must be a positive number, not 0"),
        (lambda: classify_product(1e8, math.nan, CELL_DOSE), r"weight \(kg\) must be .* not nan"),
        (lambda: classify_product(0, 22, CELL_DOSE), r"total viable CAR\+ cells .* not 0"),
        (lambda: classify_product(math.inf, 22, CELL_DOSE), r"total viable CAR\+ cells .* not inf"),
    ],
)
def test_impossible_values_are_refused_by_name(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- CAR-T cell dose


def test_the_protocols_cell_dose_example() -> None:
    assert car_t_dose_range(22, CELL_DOSE) == CellDoseRange(
        weight_kg=22, target_cells=6.6e7, min_cells=4.4e7, max_cells=8.8e7
    )


@pytest.mark.parametrize(
    ("weight_kg", "min_cells", "max_cells"),
    [
        (8.3, 1.66e7, 3.32e7),  # binary floating point puts 2e6 x 8.3 a hair above 1.66e7
        (8.2, 1.64e7, 3.28e7),  # and 4e6 x 8.2 a hair below 3.28e7
    ],
)
def test_the_dose_range_is_exact_at_its_ends(weight_kg: float, min_cells: float, max_cells: float) -> None:
    dose = car_t_dose_range(weight_kg, CELL_DOSE)
    assert (dose.min_cells, dose.max_cells) == (min_cells, max_cells)
    assert classify_product(min_cells, weight_kg, CELL_DOSE).classification is ProductClassification.IN_RANGE
    assert classify_product(max_cells, weight_kg, CELL_DOSE).classification is ProductClassification.IN_RANGE


@pytest.mark.parametrize(
    ("available", "classification", "to_infuse"),
    [
        (4.39e7, ProductClassification.BELOW_MINIMUM, 4.39e7),
        (4.4e7, ProductClassification.IN_RANGE, 4.4e7),  # exactly the minimum
        (6.0e7, ProductClassification.IN_RANGE, 6.0e7),  # short of the target: all of it
        (6.6e7, ProductClassification.IN_RANGE, 6.6e7),
        (7.0e7, ProductClassification.IN_RANGE, 6.6e7),  # the target, not more
        (8.8e7, ProductClassification.IN_RANGE, 6.6e7),  # exactly the maximum
        (8.81e7, ProductClassification.ABOVE_MAXIMUM, 8.8e7),  # only the allowed maximum
        (2.0e8, ProductClassification.ABOVE_MAXIMUM, 8.8e7),
    ],
)
def test_product_classification_for_22_kg(
    available: float, classification: ProductClassification, to_infuse: float
) -> None:
    assessment = classify_product(available, 22, CELL_DOSE)
    assert (assessment.classification, assessment.cells_to_infuse) == (classification, to_infuse)
    assert assessment.available_cells == available
    assert assessment.dose_range == car_t_dose_range(22, CELL_DOSE)


@pytest.mark.parametrize(
    ("available", "explanation"),
    [
        (
            4.0e7,
            "the product holds 4 × 10⁷ viable CAR+ cells, below the minimum of 4.4 × 10⁷ for 22 kg: "
            "the product is out of specification and the investigator must decide whether to infuse it "
            "as a protocol deviation or to re-manufacture",
        ),
        (
            6.0e7,
            "the product holds 6 × 10⁷ viable CAR+ cells, within the allowed 4.4 × 10⁷ to 8.8 × 10⁷ "
            "for 22 kg: fewer than the target of 6.6 × 10⁷, so all of them are infused",
        ),
        (
            7.5e7,
            "the product holds 7.5 × 10⁷ viable CAR+ cells, within the allowed 4.4 × 10⁷ to 8.8 × 10⁷ "
            "for 22 kg: infuse the target of 6.6 × 10⁷",
        ),
        (
            1.25e9,
            "the product holds 1.25 × 10⁹ viable CAR+ cells, above the maximum of 8.8 × 10⁷ for 22 kg: "
            "only the allowed maximum, 8.8 × 10⁷, is infused",
        ),
    ],
)
def test_the_explanation_says_what_to_do(available: float, explanation: str) -> None:
    assert classify_product(available, 22, CELL_DOSE).explanation == explanation


def test_amended_cell_dose_rules_are_followed() -> None:
    rules = CellDoseRules(target_cells_per_kg=1e6, min_cells_per_kg=5e5, max_cells_per_kg=1.5e6)
    assert car_t_dose_range(20, rules) == CellDoseRange(weight_kg=20, target_cells=2e7, min_cells=1e7, max_cells=3e7)
    assert classify_product(4.4e7, 20, rules).classification is ProductClassification.ABOVE_MAXIMUM


# ---------------------------------------------------------------- properties


@given(heights, heights, weights, weights)
def test_bsa_is_monotone_in_height_and_weight(h1: float, h2: float, w1: float, w2: float) -> None:
    (h_low, h_high), (w_low, w_high) = sorted((h1, h2)), sorted((w1, w2))
    assert mosteller_bsa_m2(h_low, w_low) <= mosteller_bsa_m2(h_high, w_low) <= mosteller_bsa_m2(h_high, w_high)
    assert mosteller_bsa_m2(h_low, w_low) <= mosteller_bsa_m2(h_low, w_high) <= mosteller_bsa_m2(h_high, w_high)


@given(st.sampled_from([FLUDARABINE, CYCLOPHOSPHAMIDE]), bsas, bsas)
def test_the_dose_is_proportional_to_bsa_within_half_a_step(drug: LymphodepletingDrug, a: float, b: float) -> None:
    for bsa in (a, b):
        assert abs(daily_dose_mg(drug, bsa) - drug.mg_per_m2_per_day * bsa) <= drug.rounding_mg / 2 + 1e-9
    if a <= b:
        assert daily_dose_mg(drug, a) <= daily_dose_mg(drug, b)


@given(st.sampled_from([FLUDARABINE, CYCLOPHOSPHAMIDE]), bsas, st.floats(0, 0.99), st.floats(0, 0.99))
def test_a_reduction_never_increases_the_dose(drug: LymphodepletingDrug, bsa: float, r1: float, r2: float) -> None:
    smaller, larger = sorted((r1, r2))
    assert daily_dose_mg(drug, bsa, larger) <= daily_dose_mg(drug, bsa, smaller) <= daily_dose_mg(drug, bsa)


@given(st.floats(0, 1e4), st.sampled_from([0.01, 0.1, 0.5, 1.0, 5.0]))
def test_a_rounded_dose_is_a_whole_number_of_steps_within_half_a_step(dose: float, step: float) -> None:
    rounded = round_dose_mg(dose, step)
    assert abs(rounded - dose) <= step / 2 + 1e-9
    assert rounded / step == pytest.approx(round(rounded / step), abs=1e-6)


@given(heights, weights, st.floats(1, 200))
def test_the_plan_is_what_its_recorded_bsa_gives(height: float, weight: float, crcl: float) -> None:
    plan = plan_lymphodepletion(height, weight, crcl, REGIMEN)
    assert (
        abs(plan.bsa_m2 - mosteller_bsa_m2(height, weight)) <= PROTOCOL_V1.lymphodepletion.bsa_rounding_m2 / 2 + 1e-12
    )
    assert plan.fludarabine_daily_mg == daily_dose_mg(FLUDARABINE, plan.bsa_m2)
    assert plan.cyclophosphamide_daily_mg == daily_dose_mg(CYCLOPHOSPHAMIDE, plan.bsa_m2)
    suggestion = plan.renal_suggestion
    assert suggestion == fludarabine_renal_adjustment(crcl, REGIMEN)
    if suggestion is not None:
        adjusted = daily_dose_mg(FLUDARABINE, plan.bsa_m2, suggestion.reduction_fraction)
        assert plan.fludarabine_adjusted_daily_mg == adjusted <= plan.fludarabine_daily_mg


@given(st.floats(1, 200), st.floats(1, 200))
def test_a_lower_clearance_is_never_reduced_less(a: float, b: float) -> None:
    def reduction(crcl: float) -> float:
        suggestion = fludarabine_renal_adjustment(crcl, REGIMEN)
        return suggestion.reduction_fraction if suggestion else 0.0

    lower, higher = sorted((a, b))
    assert reduction(lower) >= reduction(higher)


@given(st.floats(1e5, 1e10), weights)
def test_classification_is_consistent_with_the_range(available: float, weight: float) -> None:
    assessment = classify_product(available, weight, CELL_DOSE)
    dose = assessment.dose_range
    expected = (
        ProductClassification.BELOW_MINIMUM
        if available < dose.min_cells
        else ProductClassification.ABOVE_MAXIMUM
        if available > dose.max_cells
        else ProductClassification.IN_RANGE
    )
    assert assessment.classification is expected
    assert dose.min_cells <= dose.target_cells <= dose.max_cells
    assert assessment.cells_to_infuse <= available
    if expected is ProductClassification.BELOW_MINIMUM:
        assert assessment.cells_to_infuse == available
    else:
        assert dose.min_cells <= assessment.cells_to_infuse <= dose.max_cells
    if expected is ProductClassification.IN_RANGE:
        assert assessment.cells_to_infuse == min(available, dose.target_cells)


def test_without_a_creatinine_clearance_no_renal_check_is_made() -> None:
    plan = plan_lymphodepletion(120, 22, None, REGIMEN)
    assert plan.renal_suggestion is None and plan.fludarabine_adjusted_daily_mg is None
    assert (plan.fludarabine_daily_mg, plan.cyclophosphamide_daily_mg) == (25.7, 428.0)
