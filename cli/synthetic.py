"""Synthetic screening data of an eligible child, built from the protocol's thresholds: for `trial-demo` and
`trial example screening`. Invented values only: a date of birth made from an age, never a real child's."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.eligibility import ScreeningData
from domain.protocol import TrialProtocol

DAYS_PAST_BIRTHDAY = 100  # born this long after a birthday: the age in completed years is the one asked for


def eligible_screening_values(
    screened_on: date, age_years: int, height_cm: float, weight_kg: float, protocol: TrialProtocol
) -> dict[str, Any]:
    """The ScreeningData fields of an eligible child of this age and size, screened on `screened_on`."""
    e = protocol.eligibility
    return {
        "screening_date": screened_on,
        "date_of_birth": screened_on - timedelta(days=age_years * 365 + DAYS_PAST_BIRTHDAY),
        "regimen": e.regimen,
        "risk_group": e.risk_group,
        "b_all_diagnosis_confirmed": True,
        "end_of_induction_marrow_blasts_percent": e.max_end_of_induction_marrow_blasts_percent_exclusive / 5,
        "induction_day46_mrd_percent": e.mrd_positive_min_percent * 50,
        "cd19_expressed": True,
        "cd22_expressed": True,
        "performance_score": 90,
        "height_cm": height_cm,
        "weight_kg": weight_kg,
        "serum_creatinine_mg_dl": 0.4,
        "lvef_percent": e.min_lvef_percent + 12,
        "shortening_fraction_percent": e.min_shortening_fraction_percent + 6,
        "spo2_room_air_percent": 98.0,
        "bilirubin_x_uln": 0.5,
        "alt_x_uln": 1.0,
        "ast_x_uln": 1.0,
        "csf_wbc_per_ul": 0.0,
        "csf_blasts_present": False,
        "clinical_cns_signs": False,
        "prior_allogeneic_hsct": False,
        "active_gvhd": False,
        "uncontrolled_infection": False,
        "active_hbv": False,
        "active_hcv": False,
        "hiv_positive": False,
        "prior_car_t": False,
        "pregnant": False,
    }


def eligible_screening(
    screened_on: date, age_years: int, height_cm: float, weight_kg: float, protocol: TrialProtocol
) -> ScreeningData:
    return ScreeningData(**eligible_screening_values(screened_on, age_years, height_cm, weight_kg, protocol))
