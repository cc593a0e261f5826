"""What people (and the workflow's own timers) ask of a patient's journey: one frozen model per command.

Field validation here catches malformed values; `decide` checks everything that depends on the patient's state.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from domain.eligibility import ScreeningData
from domain.free_text import FreeText, Label
from domain.identifiers import StudyId
from domain.journey.phases import Phase
from domain.protocol import FrozenModel
from domain.response import MarrowAssessment, OtherDiseaseTest
from domain.roles import Actor
from domain.signature import Signature
from domain.toxicity import AdverseEvent, CrsFindings, IcansFindings

# Every typed field is bounded in length and characters by domain/free_text.py.
Text = FreeText
Drug = Literal["fludarabine", "cyclophosphamide"]


class Correction(FrozenModel):
    """Supersedes an earlier entry of the same kind; the earlier entry is kept, marked superseded. The command it
    rides on carries the corrected entry whole (domain/journey/handlers/corrections.py says what each re-checks)."""

    supersedes_sequence: int = Field(ge=1)
    reason: Text


class _Command(FrozenModel):
    actor: Actor
    # The signer's electronic signature, on the steps the registry marks signed (absent in entries made before).
    signature: Signature | None = None


# ---------------------------------------------------------------- screening, consent, collection


class EnrollPatient(_Command):
    kind: Literal["enroll_patient"] = "enroll_patient"
    study_id: StudyId
    screening: ScreeningData


class CorrectScreening(_Command):
    """The screening values of the current screening attempt, corrected: eligibility is decided again on them."""

    kind: Literal["correct_screening"] = "correct_screening"
    screening: ScreeningData
    correction: Correction


class ConfirmEligibility(_Command):
    kind: Literal["confirm_eligibility"] = "confirm_eligibility"


class RecordConsent(_Command):
    kind: Literal["record_consent"] = "record_consent"
    guardian_consent_signed_on: date
    consent_form_version: Label
    child_assent_obtained: bool | None = None  # required from the protocol's assent age
    correction: Correction | None = None


class RecordApheresis(_Command):
    kind: Literal["record_apheresis"] = "record_apheresis"
    collected_on: date
    correction: Correction | None = None


class RecordProductRelease(_Command):
    kind: Literal["record_product_release"] = "record_product_release"
    product_label_coi: Label
    lot_number: Label
    total_viable_car_cells: float = Field(gt=0, le=1e12)
    released_on: date
    correction: Correction | None = None


class RecordManufacturingFailure(_Command):
    kind: Literal["record_manufacturing_failure"] = "record_manufacturing_failure"
    failed_on: date
    reason: Text
    correction: Correction | None = None


# ---------------------------------------------------------------- chain of custody

# The hand-offs of the cells after collection, in the order they happen (the release is its own step, between
# the start of manufacturing and the shipment to the site; the infusion ends the chain).
CustodyStep = Literal[
    "shipped_to_manufacturer",
    "received_by_manufacturer",
    "manufacturing_started",
    "shipped_to_site",
    "received_at_site",
    "stored",
    "thawed",
]


class RecordCustodyHandOff(_Command):
    """One hand-off of the cells, checked against the bag's chain-of-identity label."""

    kind: Literal["record_custody_hand_off"] = "record_custody_hand_off"
    step: CustodyStep
    at: datetime  # when the hand-off happened; for "thawed", the end of thawing
    product_label_coi: Label  # scanned from the bag or shipper
    # The shipper's temperature logger, read at the site's receipt: the warmest it recorded on the way.
    logger_max_temperature_c: float | None = Field(default=None, ge=-273.15, le=100)
    note: Text | None = None
    correction: Correction | None = None


class DecideTemperatureExcursion(_Command):
    kind: Literal["decide_temperature_excursion"] = "decide_temperature_excursion"
    decision: Literal["release_as_deviation", "reject"]
    reason: Text


class ApproveLateInfusionAfterThaw(_Command):
    kind: Literal["approve_late_infusion_after_thaw"] = "approve_late_infusion_after_thaw"
    reason: Text


# ---------------------------------------------------------------- lymphodepletion and infusion


class PrescribeLymphodepletion(_Command):
    kind: Literal["prescribe_lymphodepletion"] = "prescribe_lymphodepletion"
    height_cm: float = Field(gt=30, le=250)
    weight_kg: float = Field(gt=2, le=250)
    creatinine_clearance_ml_min_173m2: float = Field(gt=0, le=400)
    # A suggested renal reduction is never applied silently: the physician accepts or declines it.
    renal_adjustment: Literal["accept", "decline"] | None = None
    planned_start_on: date
    correction: Correction | None = None


class RecordLymphodepletionDose(_Command):
    kind: Literal["record_lymphodepletion_dose"] = "record_lymphodepletion_dose"
    drug: Drug
    day_number: int = Field(ge=1, le=10)
    dose_mg: float = Field(gt=0, le=10_000)
    given_at: datetime
    deviation_reason: Text | None = None  # needed when the dose differs from the prescription
    correction: Correction | None = None


class DecideOutOfSpecProduct(_Command):
    kind: Literal["decide_out_of_spec_product"] = "decide_out_of_spec_product"
    decision: Literal["infuse_as_deviation", "remanufacture"]
    reason: Text


class ApproveInfusionOutsideWindow(_Command):
    kind: Literal["approve_infusion_outside_window"] = "approve_infusion_outside_window"
    reason: Text


class RecordInfusion(_Command):
    kind: Literal["record_infusion"] = "record_infusion"
    infused_at: datetime
    product_label_coi: Label  # scanned at the bedside from the bag
    cells_infused: float = Field(gt=0, le=1e12)
    # Hold criteria, checked by the physician at the bedside.
    active_uncontrolled_infection: bool
    hours_since_last_fever: float | None = Field(default=None, ge=0, le=100_000)  # None: no fever
    uncontrolled_crs_from_prior_therapy: bool
    tocilizumab_doses_on_site: int = Field(ge=0, le=100)
    correction: Correction | None = None


class RecordInfusionNotGiven(_Command):
    kind: Literal["record_infusion_not_given"] = "record_infusion_not_given"
    reason: Text
    correction: Correction | None = None


# ---------------------------------------------------------------- toxicity and safety


class AssessCrs(_Command):
    kind: Literal["assess_crs"] = "assess_crs"
    assessed_at: datetime
    findings: CrsFindings
    correction: Correction | None = None


class AssessIcans(_Command):
    kind: Literal["assess_icans"] = "assess_icans"
    assessed_at: datetime
    findings: IcansFindings
    correction: Correction | None = None


class RecordAdverseEvent(_Command):
    kind: Literal["record_adverse_event"] = "record_adverse_event"
    adverse_event: AdverseEvent
    correction: Correction | None = None


class ConfirmExpeditedReport(_Command):
    kind: Literal["confirm_expedited_report"] = "confirm_expedited_report"
    report_id: Label
    submitted_at: datetime
    sponsor_reference: Label


# ---------------------------------------------------------------- response, chemotherapy, follow-up


class RecordDiseaseAssessment(_Command):
    kind: Literal["record_disease_assessment"] = "record_disease_assessment"
    marrow: MarrowAssessment
    other_tests: tuple[OtherDiseaseTest, ...] = Field(default=(), max_length=10)
    correction: Correction | None = None


class RecordChemotherapyResumed(_Command):
    kind: Literal["record_chemotherapy_resumed"] = "record_chemotherapy_resumed"
    resumed_on: date
    from_protocol_step: bool  # resumed from the protocol's step (second HD-MTX of consolidation)
    deviation_reason: Text | None = None
    correction: Correction | None = None


class RecordVisit(_Command):
    kind: Literal["record_visit"] = "record_visit"
    visit_code: Label
    visit_date: date
    correction: Correction | None = None


# ---------------------------------------------------------------- exits


class WithdrawConsent(_Command):
    kind: Literal["withdraw_consent"] = "withdraw_consent"
    withdrawn_on: date
    reason: Text
    correction: Correction | None = None


class RecordDeath(_Command):
    kind: Literal["record_death"] = "record_death"
    died_on: date
    cause: Text
    treatment_related: bool
    correction: Correction | None = None


class RecordLostToFollowUp(_Command):
    kind: Literal["record_lost_to_follow_up"] = "record_lost_to_follow_up"
    last_contact_on: date
    reason: Text
    correction: Correction | None = None


class TakeOffStudy(_Command):
    kind: Literal["take_off_study"] = "take_off_study"
    reason: Text
    correction: Correction | None = None


# ---------------------------------------------------------------- the workflow's own timers


class ExpireInfusionWindow(_Command):
    kind: Literal["expire_infusion_window"] = "expire_infusion_window"


class MarkExpeditedReportOverdue(_Command):
    kind: Literal["mark_expedited_report_overdue"] = "mark_expedited_report_overdue"
    report_id: Label


class SendVisitReminder(_Command):
    kind: Literal["send_visit_reminder"] = "send_visit_reminder"
    visit_code: Label
    reminder: Literal["window_opens", "window_closing"]


class MarkVisitMissed(_Command):
    kind: Literal["mark_visit_missed"] = "mark_visit_missed"
    visit_code: Label


class CheckDailyMonitoring(_Command):
    """At the start of a site day of daily monitoring: the day before's assessments not done are missed, and the
    day's are reminded."""

    kind: Literal["check_daily_monitoring"] = "check_daily_monitoring"
    day_number: int = Field(ge=0)  # days after the infusion day (day 0)


class StartFollowUpEra(_Command):
    kind: Literal["start_follow_up_era"] = "start_follow_up_era"
    era: Phase


class CompleteJourney(_Command):
    kind: Literal["complete_journey"] = "complete_journey"


class RecordSlotBooking(_Command):
    """The slot the workflow booked in the site's calendar after consent or a failed manufacture."""

    kind: Literal["record_slot_booking"] = "record_slot_booking"
    collection_number: int = Field(ge=1)
    week: date
    slot_number: int = Field(ge=1)
    collection_date: date
    expected_release: date


StaffCommand = Annotated[
    EnrollPatient
    | CorrectScreening
    | ConfirmEligibility
    | RecordConsent
    | RecordApheresis
    | RecordProductRelease
    | RecordManufacturingFailure
    | RecordCustodyHandOff
    | DecideTemperatureExcursion
    | ApproveLateInfusionAfterThaw
    | PrescribeLymphodepletion
    | RecordLymphodepletionDose
    | DecideOutOfSpecProduct
    | ApproveInfusionOutsideWindow
    | RecordInfusion
    | RecordInfusionNotGiven
    | AssessCrs
    | AssessIcans
    | RecordAdverseEvent
    | ConfirmExpeditedReport
    | RecordDiseaseAssessment
    | RecordChemotherapyResumed
    | RecordVisit
    | WithdrawConsent
    | RecordDeath
    | RecordLostToFollowUp
    | TakeOffStudy,
    Field(discriminator="kind"),
]

SystemCommand = Annotated[
    ExpireInfusionWindow
    | MarkExpeditedReportOverdue
    | SendVisitReminder
    | MarkVisitMissed
    | CheckDailyMonitoring
    | StartFollowUpEra
    | CompleteJourney
    | RecordSlotBooking,
    Field(discriminator="kind"),
]

Command = Annotated[StaffCommand | SystemCommand, Field(discriminator="kind")]
