"""Which recorded facts a correction supersedes through the generic rules (domain/journey/handlers/corrections.py):
by event type, the command kind that made the entry and that corrects it. CRS, ICANS, adverse events, disease
assessments and visits are corrected by their own handlers and are not listed here."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

CORRECTED_BY: Mapping[str, str] = MappingProxyType(
    {
        "patient_enrolled": "correct_screening",
        "consent_signed": "record_consent",
        "apheresis_collected": "record_apheresis",
        "product_released": "record_product_release",
        "manufacturing_failed": "record_manufacturing_failure",
        "custody_hand_off_recorded": "record_custody_hand_off",
        "lymphodepletion_prescribed": "prescribe_lymphodepletion",
        "lymphodepletion_dose_given": "record_lymphodepletion_dose",
        "cells_infused": "record_infusion",
        "infusion_not_given": "record_infusion_not_given",
        "chemotherapy_resumed": "record_chemotherapy_resumed",
        "consent_withdrawn": "withdraw_consent",
        "patient_died": "record_death",
        "lost_to_follow_up": "record_lost_to_follow_up",
        "taken_off_study": "take_off_study",
    }
)

# The command kinds corrected by the generic rules.
GENERIC_CORRECTIONS = frozenset(CORRECTED_BY.values())

# Entries a re-manufacture sets aside with their product: no longer current, so no longer corrected.
SET_ASIDE_BY_REMANUFACTURE = frozenset(
    {"record_product_release", "prescribe_lymphodepletion", "record_lymphodepletion_dose"}
)
