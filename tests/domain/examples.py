"""Worked clinical examples the domain tests start from: change one value, keep the rest of a well child."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.eligibility import ScreeningData
from domain.response import MarrowAssessment
from domain.toxicity import (
    CerebralEdema,
    Consciousness,
    CrsFindings,
    IcansFindings,
    MotorFinding,
    OxygenSupport,
    Seizure,
)


def screening(**overrides: Any) -> ScreeningData:
    """An eligible 9-year-old, 120 cm and 22 kg (the protocol's worked dosing example)."""
    values: dict[str, Any] = {
        "screening_date": date(2026, 1, 5),
        "date_of_birth": date(2016, 3, 10),
        "regimen": "CCCG-ALL",
        "risk_group": "intermediate",
        "b_all_diagnosis_confirmed": True,
        "end_of_induction_marrow_blasts_percent": 1.0,
        "induction_day46_mrd_percent": 0.5,
        "cd19_expressed": True,
        "cd22_expressed": True,
        "performance_score": 80,
        "height_cm": 120.0,
        "weight_kg": 22.0,
        "serum_creatinine_mg_dl": 0.4,
        "lvef_percent": 62.0,
        "shortening_fraction_percent": 34.0,
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
    values.update(overrides)
    return ScreeningData(**values)


def crs_findings(**overrides: Any) -> CrsFindings:
    """No fever and nothing else, unless told otherwise."""
    values: dict[str, Any] = {
        "max_temperature_c": 37.0,
        "hypotension": False,
        "vasopressors_excluding_vasopressin": 0,
        "vasopressin": False,
        "oxygen": OxygenSupport.NONE,
        "oxygen_flow_l_per_min": None,
    }
    values.update(overrides)
    return CrsFindings(**values)


def icans_findings(**overrides: Any) -> IcansFindings:
    """A child under 12 with a normal CAPD and no neurological finding, unless told otherwise."""
    values: dict[str, Any] = {
        "ice_score": None,
        "capd_score": 0,
        "consciousness": Consciousness.ALERT,
        "seizure": Seizure.NONE,
        "motor": MotorFinding.NONE,
        "cerebral_edema": CerebralEdema.NONE,
    }
    values.update(overrides)
    return IcansFindings(**values)


def marrow(assessed_on: date = date(2026, 1, 29), **overrides: Any) -> MarrowAssessment:
    """A child in CR with recovered counts and negative MRD, unless told otherwise."""
    values: dict[str, Any] = {
        "assessed_on": assessed_on,
        "marrow_blasts_percent": 0.5,
        "circulating_blasts": False,
        "extramedullary_disease": False,
        "neutrophils_10e9_per_l": 1.8,
        "platelets_10e9_per_l": 150.0,
        "mrd_flow_percent": 0.001,
    }
    values.update(overrides)
    return MarrowAssessment(**values)
