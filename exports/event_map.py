"""The one table every export reads: for each kind of event in the record, the step that records it (the ODM form),
the study event it belongs to, and the SDTM domains it becomes rows of. A new kind of event is one entry here;
tests/exports/test_event_map.py fails while a kind has none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from domain.journey import events as ev
from exports import sdtm_rows as rows
from exports.sdtm_rows import RowsOf

# Study events that are treatment phases (the visits are added from the protocol's calendar: exports/odm_metadata.py).
SCREENING: Final = "SCREENING"
CONSENT: Final = "CONSENT"
COLLECTION: Final = "COLLECTION"  # apheresis, manufacturing, the cells' chain of custody
LYMPHODEPLETION: Final = "LYMPHODEPLETION"
INFUSION: Final = "INFUSION"
SAFETY: Final = "SAFETY"  # toxicity and safety reports, whenever they happen
RESPONSE: Final = "RESPONSE"  # disease assessments, relapse, chemotherapy resumed
DISPOSITION: Final = "DISPOSITION"  # the patient's exit or completion, the follow-up eras

# Name, and whether ODM's StudyEventDef calls it Scheduled (the protocol fixes when) or Common (any time).
PHASE_EVENTS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        SCREENING: ("Screening and eligibility", "Scheduled"),
        CONSENT: ("Consent", "Scheduled"),
        COLLECTION: ("Collection and manufacturing", "Scheduled"),
        LYMPHODEPLETION: ("Lymphodepletion", "Scheduled"),
        INFUSION: ("CAR-T infusion", "Scheduled"),
        SAFETY: ("Safety (CRS, ICANS, adverse events)", "Common"),
        RESPONSE: ("Response and relapse", "Common"),
        DISPOSITION: ("Disposition", "Common"),
    }
)

# SDTM domains (exports/sdtm.py builds each one's rows).
DM, DS, EX, AE, RS, SV = "DM", "DS", "EX", "AE", "RS", "SV"

StudyEventOf = Callable[[ev.EventPayload], str]


@dataclass(frozen=True)
class EventExport:
    """How one kind of event leaves the record."""

    step: str  # the command kind (domain/journey/command_registry.py) whose form holds it
    study_event: str | StudyEventOf  # a phase above, or (for visits) the visit's code from the payload
    # Its rows in each SDTM domain it feeds (DM is one row per subject, read from the subject's facts: exports/sdtm.py);
    # empty for a fact SDTM has no dataset for (ODM keeps every one).
    sdtm: Mapping[str, RowsOf] = field(default_factory=dict)

    def study_event_of(self, payload: ev.EventPayload) -> str:
        return self.study_event if isinstance(self.study_event, str) else self.study_event(payload)


def _visit_code(payload: ev.EventPayload) -> str:
    code = getattr(payload, "visit_code", None)
    if not isinstance(code, str):
        raise TypeError(f"{payload.type} names no visit")
    return code


EVENT_EXPORTS: Final[Mapping[str, EventExport]] = MappingProxyType(
    {
        "patient_enrolled": EventExport("enroll_patient", SCREENING),
        "eligibility_assessed": EventExport("enroll_patient", SCREENING),
        "screen_failed": EventExport("enroll_patient", SCREENING, {DS: rows.ds_screen_failure}),
        "eligibility_confirmed": EventExport("confirm_eligibility", SCREENING),
        "consent_signed": EventExport("record_consent", CONSENT, {DS: rows.ds_consent}),
        "apheresis_collected": EventExport("record_apheresis", COLLECTION),
        "product_released": EventExport("record_product_release", COLLECTION),
        "manufacturing_failed": EventExport("record_manufacturing_failure", COLLECTION),
        "custody_hand_off_recorded": EventExport("record_custody_hand_off", COLLECTION),
        "temperature_excursion_decided": EventExport("decide_temperature_excursion", COLLECTION),
        "late_infusion_after_thaw_approved": EventExport("approve_late_infusion_after_thaw", INFUSION),
        "slot_booked": EventExport("record_slot_booking", COLLECTION),
        "lymphodepletion_prescribed": EventExport("prescribe_lymphodepletion", LYMPHODEPLETION),
        "lymphodepletion_dose_given": EventExport(
            "record_lymphodepletion_dose", LYMPHODEPLETION, {EX: rows.ex_lymphodepletion}
        ),
        "lymphodepletion_completed": EventExport("record_lymphodepletion_dose", LYMPHODEPLETION),
        "out_of_spec_product_decided": EventExport("decide_out_of_spec_product", INFUSION),
        "infusion_window_deviation_approved": EventExport("approve_infusion_outside_window", INFUSION),
        "infusion_window_expired": EventExport("expire_infusion_window", INFUSION),
        "cells_infused": EventExport("record_infusion", INFUSION, {EX: rows.ex_infusion}),
        "infusion_not_given": EventExport("record_infusion_not_given", INFUSION, {DS: rows.ds_infusion_not_given}),
        "crs_assessed": EventExport("assess_crs", SAFETY, {AE: rows.ae_crs}),
        "icans_assessed": EventExport("assess_icans", SAFETY, {AE: rows.ae_icans}),
        "adverse_event_recorded": EventExport("record_adverse_event", SAFETY, {AE: rows.ae_other}),
        "expedited_report_opened": EventExport("confirm_expedited_report", SAFETY),
        "expedited_report_submitted": EventExport("confirm_expedited_report", SAFETY),
        "expedited_report_overdue": EventExport("mark_expedited_report_overdue", SAFETY),
        "disease_assessed": EventExport("record_disease_assessment", RESPONSE, {RS: rows.rs_disease}),
        "relapse_diagnosed": EventExport("record_disease_assessment", RESPONSE),
        "chemotherapy_resumed": EventExport("record_chemotherapy_resumed", RESPONSE),
        "visit_completed": EventExport("record_visit", _visit_code, {SV: rows.sv_visit}),
        "visit_reminder_issued": EventExport("send_visit_reminder", _visit_code),
        "visit_missed": EventExport("mark_visit_missed", _visit_code),
        "follow_up_era_started": EventExport("start_follow_up_era", DISPOSITION),
        "consent_withdrawn": EventExport("withdraw_consent", DISPOSITION, {DS: rows.ds_withdrawn}),
        "patient_died": EventExport("record_death", DISPOSITION, {DS: rows.ds_death}),
        "lost_to_follow_up": EventExport("record_lost_to_follow_up", DISPOSITION, {DS: rows.ds_lost}),
        "taken_off_study": EventExport("take_off_study", DISPOSITION, {DS: rows.ds_off_study}),
        "journey_completed": EventExport("complete_journey", DISPOSITION, {DS: rows.ds_completed}),
        "trial_stopped": EventExport("trial_stopped", DISPOSITION, {DS: rows.ds_trial_stopped}),
        "slot_not_booked": EventExport("record_slot_unavailable", COLLECTION),
        "infusion_late_after_thaw": EventExport("flag_late_infusion_after_thaw", INFUSION),
        "dlt_window_completed": EventExport("complete_dlt_window", SAFETY),
        "fever_masking_dose_given": EventExport("record_fever_masking_dose", SAFETY),
        "daily_monitoring_started": EventExport("record_infusion", SAFETY),
        "daily_assessments_due": EventExport("check_daily_monitoring", SAFETY),
        "daily_assessment_missed": EventExport("check_daily_monitoring", SAFETY),
        "molecular_recurrence_confirmed": EventExport("record_disease_assessment", RESPONSE),
        "reconsent_recorded": EventExport("record_reconsent", CONSENT),
        "protocol_version_changed": EventExport("move_to_protocol_version", CONSENT),
    }
)


def export_of(event_type: str) -> EventExport:
    """The table's entry for `event_type`; a clear error naming the table when a new kind has none yet."""
    try:
        return EVENT_EXPORTS[event_type]
    except KeyError:
        raise LookupError(
            f"no export mapping for the event kind {event_type!r}: add it to exports/event_map.py"
        ) from None
