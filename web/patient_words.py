"""Words a patient's page shows for the record's names: each event's type on the timeline and each visit's status,
marked for the message catalog; a name added later shows itself until it has words here."""

from __future__ import annotations

from typing import Final

from web.words import N_

EVENT_WORDS: Final = {
    "patient_enrolled": N_("enrolled"),
    "eligibility_assessed": N_("eligibility assessed"),
    "screen_failed": N_("screen failure"),
    "eligibility_confirmed": N_("eligibility confirmed"),
    "consent_signed": N_("consent signed"),
    "apheresis_collected": N_("cells collected (apheresis)"),
    "product_released": N_("product released"),
    "manufacturing_failed": N_("manufacturing failed"),
    "custody_hand_off_recorded": N_("cells handed off"),
    "temperature_excursion_decided": N_("temperature excursion decided"),
    "late_infusion_after_thaw_approved": N_("late infusion after thawing approved"),
    "slot_booked": N_("manufacturing slot booked"),
    "lymphodepletion_prescribed": N_("lymphodepletion prescribed"),
    "lymphodepletion_dose_given": N_("lymphodepletion dose given"),
    "lymphodepletion_completed": N_("lymphodepletion completed"),
    "out_of_spec_product_decided": N_("out-of-specification product decided"),
    "infusion_window_deviation_approved": N_("infusion outside its window approved"),
    "infusion_window_expired": N_("infusion window expired"),
    "cells_infused": N_("CAR-T cells infused"),
    "infusion_not_given": N_("infusion not given"),
    "crs_assessed": N_("CRS assessed"),
    "icans_assessed": N_("ICANS assessed"),
    "adverse_event_recorded": N_("adverse event recorded"),
    "expedited_report_opened": N_("expedited report opened"),
    "expedited_report_submitted": N_("expedited report submitted"),
    "expedited_report_overdue": N_("expedited report overdue"),
    "disease_assessed": N_("disease assessed"),
    "relapse_diagnosed": N_("relapse diagnosed"),
    "chemotherapy_resumed": N_("chemotherapy resumed"),
    "visit_completed": N_("visit completed"),
    "visit_reminder_issued": N_("visit reminder sent"),
    "visit_missed": N_("visit missed"),
    "follow_up_era_started": N_("follow-up period started"),
    "consent_withdrawn": N_("consent withdrawn"),
    "patient_died": N_("died"),
    "lost_to_follow_up": N_("lost to follow-up"),
    "taken_off_study": N_("taken off study"),
    "journey_completed": N_("study completed"),
    "slot_not_booked": N_("no manufacturing slot found"),
    "infusion_late_after_thaw": N_("infusion late after thawing"),
    "daily_monitoring_started": N_("daily CRS and ICANS checks started"),
    "daily_assessments_due": N_("daily checks due"),
    "daily_assessment_missed": N_("daily check missed"),
    "fever_masking_dose_given": N_("tocilizumab or corticosteroid given"),
    "dlt_window_completed": N_("DLT window completed"),
    "molecular_recurrence_confirmed": N_("molecular recurrence (MRD) confirmed"),
    "trial_stopped": N_("trial stopped"),
    "reconsent_recorded": N_("re-consent recorded"),
    "protocol_version_changed": N_("moved to a new protocol version"),
}

VISIT_STATUS_WORDS: Final = {
    "not_yet_open": N_("not yet open"),
    "open": N_("window open"),
    "closing_soon": N_("window closing soon"),
    "missed": N_("missed"),
    "done_in_window": N_("done in its window"),
    "done_out_of_window": N_("done outside its window"),
}


def event_words(event_type: str) -> str:
    return EVENT_WORDS.get(event_type, event_type.replace("_", " "))


def visit_status_words(status: str) -> str:
    return VISIT_STATUS_WORDS.get(status, status.replace("_", " "))
