"""Doses: body surface area, the lymphodepletion plan with its renal suggestion, and the CAR-T cell dose.

Arithmetic on prescribed amounts is decimal: a dose or a boundary worked out by hand is the one computed here.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import Field, model_validator

from domain.protocol import CellDoseRules, FrozenModel, LymphodepletingDrug, LymphodepletionRegimen

# Mosteller: BSA (m²) = sqrt(height cm x weight kg / 3600). A constant of the formula, not of the protocol.
_MOSTELLER_DIVISOR = 3600.0


def mosteller_bsa_m2(height_cm: float, weight_kg: float) -> float:
    """Body surface area in m², unrounded."""
    _require_positive("height (cm)", height_cm)
    _require_positive("weight (kg)", weight_kg)
    return math.sqrt(height_cm * weight_kg / _MOSTELLER_DIVISOR)


def round_dose_mg(dose_mg: float, step_mg: float) -> float:
    """Half up to the drug's step, in decimal: 25.65 mg to a 0.1 mg step is 25.7 mg."""
    _require_positive("the rounding step (mg)", step_mg)
    if not (math.isfinite(dose_mg) and dose_mg >= 0):
        raise ValueError(f"a dose must be a finite number of mg, zero or more, not {dose_mg!r}")
    return float(_round_half_up(_decimal(dose_mg), _decimal(step_mg)))


class RenalAdjustmentSuggestion(FrozenModel):
    """A fludarabine reduction the physician must accept or decline; it is never applied silently."""

    crcl_ml_min_173m2: float
    reduction_fraction: float = Field(gt=0, lt=1)
    reason: str


def fludarabine_renal_adjustment(
    crcl_ml_min_173m2: float, regimen: LymphodepletionRegimen
) -> RenalAdjustmentSuggestion | None:
    """The most severe renal tier the creatinine clearance falls in, or None when the full dose stands."""
    _require_positive("creatinine clearance (mL/min/1.73 m²)", crcl_ml_min_173m2)
    matching = [tier for tier in regimen.fludarabine_renal_tiers if tier.applies_to(crcl_ml_min_173m2)]
    if not matching:
        return None
    tier = max(matching, key=lambda t: t.reduction_fraction)
    relation = "at or below" if tier.upper_inclusive else "below"
    return RenalAdjustmentSuggestion(
        crcl_ml_min_173m2=crcl_ml_min_173m2,
        reduction_fraction=tier.reduction_fraction,
        reason=(
            f"creatinine clearance {_number(crcl_ml_min_173m2)} mL/min/1.73 m² is {relation} "
            f"{_number(tier.crcl_upper)}, so the fludarabine label suggests reducing the dose by "
            f"{_number(float(_decimal(tier.reduction_fraction) * 100))} %"
        ),
    )


def daily_dose_mg(drug: LymphodepletingDrug, bsa_m2: float, reduction_fraction: float = 0.0) -> float:
    """mg/m²/day x BSA, less the reduction, rounded half up to the drug's step."""
    _require_positive("body surface area (m²)", bsa_m2)
    if not 0 <= reduction_fraction < 1:
        raise ValueError(f"a dose reduction is a fraction from 0 up to (not including) 1, not {reduction_fraction!r}")
    dose = _decimal(drug.mg_per_m2_per_day) * _decimal(bsa_m2) * (1 - _decimal(reduction_fraction))
    return round_dose_mg(float(dose), drug.rounding_mg)


class LymphodepletionPlan(FrozenModel):
    """The FC prescription proposed for one patient; a renal suggestion awaits the physician's decision."""

    height_cm: float
    weight_kg: float
    bsa_m2: float  # recorded to regimen.bsa_rounding_m2; every dose below is computed from this value
    fludarabine_daily_mg: float  # the full dose
    fludarabine_days: int
    cyclophosphamide_daily_mg: float
    cyclophosphamide_days: int
    renal_suggestion: RenalAdjustmentSuggestion | None
    fludarabine_adjusted_daily_mg: float | None  # what accepting the suggestion would give

    @model_validator(mode="after")
    def _adjusted_dose_only_with_a_suggestion(self) -> LymphodepletionPlan:
        if (self.renal_suggestion is None) != (self.fludarabine_adjusted_daily_mg is None):
            raise ValueError("an adjusted fludarabine dose goes with a renal suggestion, and only with one")
        return self


def plan_lymphodepletion(
    height_cm: float, weight_kg: float, crcl_ml_min_173m2: float | None, regimen: LymphodepletionRegimen
) -> LymphodepletionPlan:
    """The protocol's example: 120 cm, 22 kg -> 0.856 m² -> fludarabine 25.7 mg, cyclophosphamide 428 mg.

    Without a creatinine clearance no renal check is made: no suggestion, and normal function is not implied.
    """
    exact_bsa = _decimal(mosteller_bsa_m2(height_cm, weight_kg))
    bsa = float(_round_half_up(exact_bsa, _decimal(regimen.bsa_rounding_m2)))
    suggestion = None if crcl_ml_min_173m2 is None else fludarabine_renal_adjustment(crcl_ml_min_173m2, regimen)
    return LymphodepletionPlan(
        height_cm=height_cm,
        weight_kg=weight_kg,
        bsa_m2=bsa,
        fludarabine_daily_mg=daily_dose_mg(regimen.fludarabine, bsa),
        fludarabine_days=regimen.fludarabine.days,
        cyclophosphamide_daily_mg=daily_dose_mg(regimen.cyclophosphamide, bsa),
        cyclophosphamide_days=regimen.cyclophosphamide.days,
        renal_suggestion=suggestion,
        fludarabine_adjusted_daily_mg=(
            daily_dose_mg(regimen.fludarabine, bsa, suggestion.reduction_fraction) if suggestion else None
        ),
    )


def dose_deviation_fraction(prescribed_mg: float, given_mg: float) -> float:
    """How far the dose given is from the prescribed one, as a fraction of the prescribed: |given - p| / p."""
    _require_positive("the prescribed dose (mg)", prescribed_mg)
    if not (math.isfinite(given_mg) and given_mg >= 0):
        raise ValueError(f"the dose given must be a finite number of mg, zero or more, not {given_mg!r}")
    return abs(given_mg - prescribed_mg) / prescribed_mg


# ---------------------------------------------------------------- CAR-T cell dose


class CellDoseRange(FrozenModel):
    weight_kg: float
    target_cells: float
    min_cells: float
    max_cells: float


def car_t_dose_range(weight_kg: float, rules: CellDoseRules) -> CellDoseRange:
    """Cells per kg of the weight recorded at lymphodepletion: 22 kg -> target 6.6 x 10⁷, 4.4-8.8 x 10⁷."""
    _require_positive("weight (kg)", weight_kg)

    def cells(per_kg: float) -> float:
        return float(_decimal(per_kg) * _decimal(weight_kg))  # decimal: exactly 2 x 10⁶/kg stays in range

    return CellDoseRange(
        weight_kg=weight_kg,
        target_cells=cells(rules.target_cells_per_kg),
        min_cells=cells(rules.min_cells_per_kg),
        max_cells=cells(rules.max_cells_per_kg),
    )


class ProductClassification(StrEnum):
    IN_RANGE = "in_range"
    BELOW_MINIMUM = "below_minimum"
    ABOVE_MAXIMUM = "above_maximum"


class ProductAssessment(FrozenModel):
    classification: ProductClassification
    available_cells: float
    cells_to_infuse: float
    dose_range: CellDoseRange
    explanation: str


def classify_product(total_viable_car_cells: float, weight_kg: float, rules: CellDoseRules) -> ProductAssessment:
    """Where the released product falls against the patient's allowed dose, and how many cells to infuse.

    In range: the target (all cells if fewer). Below: out of specification, the investigator decides. Above: the max.
    """
    if not (math.isfinite(total_viable_car_cells) and total_viable_car_cells > 0):
        raise ValueError(f"total viable CAR+ cells must be a positive number, not {total_viable_car_cells!r}")
    dose = car_t_dose_range(weight_kg, rules)
    available = total_viable_car_cells
    holds = f"the product holds {_cells(available)} viable CAR+ cells"
    for_weight = f"for {_number(weight_kg)} kg"
    if available < dose.min_cells:
        classification = ProductClassification.BELOW_MINIMUM
        to_infuse = available
        explanation = (
            f"{holds}, below the minimum of {_cells(dose.min_cells)} {for_weight}: the product is out of "
            "specification and the investigator must decide whether to infuse it as a protocol deviation "
            "or to re-manufacture"
        )
    elif available > dose.max_cells:
        classification = ProductClassification.ABOVE_MAXIMUM
        to_infuse = dose.max_cells
        explanation = (
            f"{holds}, above the maximum of {_cells(dose.max_cells)} {for_weight}: "
            f"only the allowed maximum, {_cells(to_infuse)}, is infused"
        )
    else:
        classification = ProductClassification.IN_RANGE
        to_infuse = min(available, dose.target_cells)
        within = f"{holds}, within the allowed {_cells(dose.min_cells)} to {_cells(dose.max_cells)} {for_weight}"
        explanation = (
            f"{within}: infuse the target of {_cells(to_infuse)}"
            if available >= dose.target_cells
            else f"{within}: fewer than the target of {_cells(dose.target_cells)}, so all of them are infused"
        )
    return ProductAssessment(
        classification=classification,
        available_cells=available,
        cells_to_infuse=to_infuse,
        dose_range=dose,
        explanation=explanation,
    )


# ---------------------------------------------------------------- helpers


def _require_positive(what: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a positive number, not {value!r}")


def _decimal(value: float) -> Decimal:
    """The decimal a person typed (0.856, not the nearest binary fraction)."""
    return Decimal(repr(value))


def _round_half_up(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def _number(value: float) -> str:
    """60, 29.9, 0.2: as typed, without a trailing ".0" or an exponent."""
    return format(_decimal(value).normalize(), "f")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _cells(count: float) -> str:
    """6.6 x 10⁷ as the protocol writes it."""
    exact = _decimal(count).normalize()
    exponent = exact.adjusted()
    mantissa = format(exact.scaleb(-exponent).normalize(), "f")
    return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"
