"""Words the step forms show: each step's title and each field's label, marked for the message catalog (the
registry's help and the protocol's refusals are the domain's own English sentences, shown as they are)."""

from __future__ import annotations

from typing import Final

from web.words import N_

STEP_WORDS: Final = {
    "enroll_patient": N_("Enroll a screened patient"),
    "confirm_eligibility": N_("Confirm eligibility"),
    "correct_screening": N_("Correct the screening"),
    "record_consent": N_("Record consent"),
    "record_apheresis": N_("Record the apheresis"),
    "record_product_release": N_("Record the product's release"),
    "record_manufacturing_failure": N_("Record a manufacturing failure"),
    "record_custody_hand_off": N_("Record a hand-off of the cells"),
    "decide_temperature_excursion": N_("Decide on a temperature excursion"),
    "approve_late_infusion_after_thaw": N_("Approve a late infusion after thawing"),
    "prescribe_lymphodepletion": N_("Prescribe lymphodepletion"),
    "record_lymphodepletion_dose": N_("Record a lymphodepletion dose"),
    "decide_out_of_spec_product": N_("Decide on an out-of-specification product"),
    "approve_infusion_outside_window": N_("Approve an infusion outside its window"),
    "record_infusion": N_("Record the infusion"),
    "record_infusion_not_given": N_("Record the infusion not given"),
    "assess_crs": N_("Assess CRS"),
    "assess_icans": N_("Assess ICANS"),
    "record_adverse_event": N_("Record an adverse event"),
    "confirm_expedited_report": N_("Confirm an expedited report"),
    "record_disease_assessment": N_("Record a disease assessment"),
    "record_chemotherapy_resumed": N_("Record chemotherapy resumed"),
    "record_visit": N_("Record a visit"),
    "withdraw_consent": N_("Record consent withdrawn"),
    "record_death": N_("Record a death"),
    "record_lost_to_follow_up": N_("Record lost to follow-up"),
    "take_off_study": N_("Take off study"),
    "record_fever_masking_dose": N_("Record a fever-masking dose"),
    "record_reconsent": N_("Record the answer to an amendment"),
}

# The registry's help of each step in the catalog's words (a test keeps each equal to the registry's).
STEP_HELP: Final = {
    "enroll_patient": N_(
        "Enroll a screened patient: eligibility is decided from the screening data, induction results included."
    ),
    "confirm_eligibility": N_("The investigator confirms the screened patient may join the trial."),
    "correct_screening": N_(
        "Correct the screening values of the current screening: eligibility is decided again on them."
    ),
    "record_consent": N_("Record the guardian's signed consent, and the child's assent from the assent age on."),
    "record_apheresis": N_("Record the day the child's white cells were collected (apheresis)."),
    "record_product_release": N_(
        "Record the CAR-T product the cell lab released: the bag's label, its lot and its cell count."
    ),
    "record_manufacturing_failure": N_("Record that the CAR-T product could not be made, and why."),
    "record_custody_hand_off": N_(
        "Record a hand-off of the cells with the bag's label; at the site's receipt, the logger's warmest reading."
    ),
    "decide_temperature_excursion": N_(
        "Decide on cells that travelled too warm: release them for infusion as a deviation, or reject them."
    ),
    "approve_late_infusion_after_thaw": N_(
        "Approve an infusion starting later after thawing than the bag's label allows, with the reason."
    ),
    "prescribe_lymphodepletion": N_(
        "Prescribe the chemotherapy before the infusion (fludarabine, cyclophosphamide) from height, "
        "weight and kidney function."
    ),
    "record_lymphodepletion_dose": N_("Record one dose of fludarabine or cyclophosphamide as it was given."),
    "decide_out_of_spec_product": N_(
        "Decide what happens to a product outside its release specification: infuse it anyway, or make it again."
    ),
    "approve_infusion_outside_window": N_(
        "Approve an infusion outside the protocol's days after the chemotherapy, with the reason."
    ),
    "record_infusion": N_(
        "Record the CAR-T infusion at the bedside: the bag's label, the cells given and the checks before it."
    ),
    "record_infusion_not_given": N_("Record that the CAR-T infusion will not be given, and why."),
    "assess_crs": N_(
        "Record a check for cytokine release syndrome (CRS): temperature, blood pressure support and oxygen."
    ),
    "assess_icans": N_(
        "Record a check for neurotoxicity (ICANS): the ICE or CAPD score, waking, seizures, weakness, brain swelling."
    ),
    "record_adverse_event": N_(
        "Record an adverse event: what it was, its CTCAE grade, whether it is serious and linked to the CAR-T cells."
    ),
    "confirm_expedited_report": N_("Confirm that an expedited safety report (SAE report) was sent to the sponsor."),
    "record_disease_assessment": N_("Record a bone-marrow and blood check of how the leukemia responds."),
    "record_chemotherapy_resumed": N_("Record that chemotherapy was started again after the CAR-T cells."),
    "record_visit": N_("Record a follow-up visit that took place."),
    "withdraw_consent": N_("Record that the family withdrew consent: the patient leaves the study."),
    "record_death": N_("Record the patient's death, its cause, and whether the treatment caused it."),
    "record_lost_to_follow_up": N_("Record that the patient can no longer be reached for follow-up."),
    "take_off_study": N_("Take the patient off the study, with the reason."),
    "record_fever_masking_dose": N_(
        "Record a dose of tocilizumab or a corticosteroid: drug, dose and time given (it masks fever at CRS checks)."
    ),
    "record_reconsent": N_(
        "Record the family's answer to a protocol amendment: accepted moves the patient onto it, declined does not."
    ),
}

GROUP_WORDS: Final = {
    "screening": N_("Screening"),
    "findings": N_("Findings"),
    "correction": N_("Correction (only when this entry corrects an earlier one)"),
    "adverse_event": N_("Adverse event"),
    "marrow": N_("Bone marrow"),
    "outside_marrow": N_("Disease outside the marrow"),
    "extramedullary": N_("Extramedullary disease"),
}

FIELD_WORDS: Final = {
    "active_gvhd": N_("Active graft-versus-host disease"),
    "active_hbv": N_("Active hepatitis B"),
    "active_hcv": N_("Active hepatitis C"),
    "active_uncontrolled_infection": N_("Active uncontrolled infection"),
    "alt_x_uln": N_("ALT"),
    "assessed_at": N_("Assessed at"),
    "assessed_on": N_("Assessed on"),
    "ast_x_uln": N_("AST"),
    "at": N_("At"),
    "bilirubin_x_uln": N_("Bilirubin"),
    "capd_score": N_("CAPD score"),
    "cause": N_("Cause"),
    "cd19_expressed": N_("CD19 expressed"),
    "cd22_expressed": N_("CD22 expressed"),
    "cells_infused": N_("Cells infused"),
    "cerebral_edema": N_("Cerebral edema"),
    "child_assent_obtained": N_("Child's assent obtained"),
    "circulating_blasts": N_("Circulating blasts"),
    "clinical_cns_signs": N_("Clinical CNS signs"),
    "collected_on": N_("Collected on"),
    "consciousness": N_("Consciousness"),
    "consent_form_version": N_("Consent form version"),
    "creatinine_clearance_ml_min_173m2": N_("Creatinine clearance"),
    "csf_blasts_present": N_("Blasts in the CSF"),
    "csf_wbc_per_ul": N_("CSF white cells"),
    "ctcae_grade": N_("CTCAE grade"),
    "date_of_birth": N_("Date of birth"),
    "day_number": N_("Day"),
    "decision": N_("Decision"),
    "deviation_reason": N_("Reason for the deviation"),
    "died_on": N_("Died on"),
    "dose_mg": N_("Dose given"),
    "drug": N_("Drug"),
    "extramedullary_disease": N_("Extramedullary disease"),
    "failed_on": N_("Failed on"),
    "fever_masked_by_treatment": N_("Fever masked by tocilizumab or steroids"),
    "from_protocol_step": N_("Resumed from the protocol's step"),
    "given_at": N_("Given at"),
    "guardian_consent_signed_on": N_("Guardian's consent signed on"),
    "height_cm": N_("Height"),
    "hiv_positive": N_("HIV positive"),
    "hours_since_last_fever": N_("Hours since the last fever"),
    "hypotension": N_("Hypotension"),
    "ice_score": N_("ICE score"),
    "induction_day46_mrd_percent": N_("MRD at induction day 46"),
    "infused_at": N_("Infused at"),
    "last_contact_on": N_("Last contact on"),
    "logger_max_temperature_c": N_("Logger's warmest reading"),
    "lot_number": N_("Lot number"),
    "lvef_percent": N_("Left ventricular ejection fraction"),
    "marrow_blasts_percent": N_("Marrow blasts"),
    "max_temperature_c": N_("Highest temperature"),
    "motor": N_("Motor findings"),
    "mrd_flow_percent": N_("MRD by flow cytometry"),
    "neutrophils_10e9_per_l": N_("Neutrophils"),
    "note": N_("Note"),
    "onset_date": N_("Onset date"),
    "oxygen": N_("Oxygen support"),
    "oxygen_flow_l_per_min": N_("Oxygen flow"),
    "performance_score": N_("Performance score"),
    "planned_start_on": N_("Planned start"),
    "platelets_10e9_per_l": N_("Platelets"),
    "pregnant": N_("Pregnant"),
    "prior_allogeneic_hsct": N_("Prior allogeneic stem cell transplant"),
    "prior_car_t": N_("Prior CAR-T therapy"),
    "product_label_coi": N_("Bag label (chain of identity)"),
    "reason": N_("Reason"),
    "regimen": N_("Regimen"),
    "related_to_car_t": N_("Related to the CAR-T cells"),
    "released_on": N_("Released on"),
    "renal_adjustment": N_("Renal dose adjustment"),
    "report_id": N_("Report"),
    "resumed_on": N_("Resumed on"),
    "risk_group": N_("Risk group"),
    "screening_date": N_("Screening date"),
    "seizure": N_("Seizure"),
    "serious": N_("Serious (SAE)"),
    "serum_creatinine_mg_dl": N_("Serum creatinine"),
    "shortening_fraction_percent": N_("Shortening fraction"),
    "spo2_room_air_percent": N_("SpO2 on room air"),
    "sponsor_reference": N_("Sponsor's reference"),
    "step": N_("Step"),
    "study_id": N_("Study id"),
    "submitted_at": N_("Submitted at"),
    "supersedes_sequence": N_("Entry corrected (#)"),
    "term": N_("Term"),
    "tocilizumab_doses_on_site": N_("Tocilizumab doses on site"),
    "total_viable_car_cells": N_("Viable CAR-T cells"),
    "treatment_related": N_("Related to the treatment"),
    "unable_to_perform_assessment": N_("Unable to perform the assessment"),
    "uncontrolled_crs_from_prior_therapy": N_("Uncontrolled CRS from a prior therapy"),
    "uncontrolled_infection": N_("Uncontrolled infection"),
    "vasopressin": N_("Vasopressin"),
    "vasopressors_excluding_vasopressin": N_("Vasopressors (not vasopressin)"),
    "visit_code": N_("Visit"),
    "visit_date": N_("Visit date"),
    "weight_kg": N_("Weight"),
    "withdrawn_on": N_("Withdrawn on"),
    "b_all_diagnosis_confirmed": N_("B-ALL diagnosis confirmed"),
    "end_of_induction_marrow_blasts_percent": N_("Marrow blasts at the end of induction"),
    "blinatumomab_or_inotuzumab_last_given": N_("Blinatumomab or inotuzumab last given"),
    "no_fever": N_("No fever"),
    "aware_at": N_("Site aware at"),
    "cns_status": N_("CNS status"),
    "site": N_("Site"),
    "proven_by": N_("Proven by"),
    "protocol_version": N_("Protocol version"),
    "accepted": N_("Accepted"),
    "answered_on": N_("Answered on"),
}


# The choices' words, by their value (the same value means the same in every field it appears in).
CHOICE_WORDS: Final = {
    "accept": N_("accept"),
    "decline": N_("decline"),
    "alert": N_("alert"),
    "awakens_spontaneously": N_("awakens spontaneously"),
    "awakens_to_voice": N_("awakens only to voice"),
    "awakens_to_touch": N_("awakens only to touch"),
    "unarousable": N_("unarousable"),
    "none": N_("none"),
    "nasal_cannula": N_("nasal cannula"),
    "blow_by": N_("blow-by"),
    "high_flow_nasal_cannula": N_("high-flow nasal cannula"),
    "facemask": N_("facemask"),
    "non_rebreather": N_("non-rebreather mask"),
    "venturi_mask": N_("Venturi mask"),
    "cpap": N_("CPAP"),
    "bipap": N_("BiPAP"),
    "mechanical_ventilation": N_("mechanical ventilation"),
    "fludarabine": N_("Fludarabine"),
    "cyclophosphamide": N_("Cyclophosphamide"),
    "deep_focal_weakness": N_("deep focal weakness (hemiparesis or paraparesis)"),
    "focal": N_("focal edema on neuroimaging"),
    "diffuse": N_("diffuse cerebral edema"),
    "resolving_rapidly": N_("any seizure resolving rapidly"),
    "prolonged_or_repetitive": N_("prolonged or repetitive seizures"),
    "low": N_("low"),
    "intermediate": N_("intermediate"),
    "high": N_("high"),
    "definite": N_("definite"),
    "probable": N_("probable"),
    "possible": N_("possible"),
    "unlikely": N_("unlikely"),
    "unrelated": N_("unrelated"),
    "release_as_deviation": N_("release for infusion as a deviation"),
    "reject": N_("reject"),
    "infuse_as_deviation": N_("infuse as a deviation"),
    "remanufacture": N_("make it again"),
    "shipped_to_manufacturer": N_("shipped to the manufacturer"),
    "received_by_manufacturer": N_("received by the manufacturer"),
    "manufacturing_started": N_("manufacturing started"),
    "shipped_to_site": N_("shipped to the site"),
    "received_at_site": N_("received at the site"),
    "stored": N_("stored"),
    "thawed": N_("thawed"),
    "tocilizumab": N_("tocilizumab"),
    "dexamethasone": N_("dexamethasone"),
    "methylprednisolone": N_("methylprednisolone"),
    "hydrocortisone": N_("hydrocortisone"),
    "prednisolone": N_("prednisolone"),
    "cns1": N_("CNS-1"),
    "cns2": N_("CNS-2"),
    "cns3": N_("CNS-3"),
    "biopsy": N_("biopsy"),
    "imaging": N_("imaging"),
}


def choice_of(value: str) -> str:
    """A choice's words; a value added later shows itself until it has words here."""
    return CHOICE_WORDS.get(value, value.replace("_", " "))


def label_of(leaf: str) -> str:
    """A field's label; a field added to a command later shows its own name until it has words here."""
    return FIELD_WORDS.get(leaf, CHOICE_WORDS.get(leaf, leaf.replace("_", " ").capitalize()))
