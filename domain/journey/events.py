"""Facts that happened on a patient's journey, named in the past tense. Events are the record; state is derived.

An `Event` is the envelope (sequence, time, actor, protocol version, why) around one payload.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from domain.dosing import ProductAssessment, RenalAdjustmentSuggestion
from domain.eligibility import EligibilityResult, FailedCriterion, ScreeningData
from domain.journey.phases import Phase
from domain.protocol import FrozenModel
from domain.record_limits import REASON_MAX_LENGTH
from domain.response import (
    DiseaseOutsideMarrow,
    MarrowAssessment,
    OtherDiseaseTest,
    RelapseAssessment,
    ResponseAssessment,
)
from domain.roles import Actor
from domain.signature import Signature
from domain.slots import NoSlotReason
from domain.toxicity import AdverseEvent, FeverMaskingDose, FeverMaskingDrug, IcansFindings, RecordedCrsFindings

# ---------------------------------------------------------------- screening, consent, collection


class PatientEnrolled(FrozenModel):
    type: Literal["patient_enrolled"] = "patient_enrolled"
    study_id: str
    screening: ScreeningData
    attempt: int = 1  # the screening attempt: a screen failure may be screened again under its study id
    # The cells' hand-offs are required before release and infusion (False in journeys started before they were).
    chain_of_custody: bool = False
    supersedes: int | None = None  # the entry this one corrects (kept in the record, no longer current)


class EligibilityAssessed(FrozenModel):
    type: Literal["eligibility_assessed"] = "eligibility_assessed"
    result: EligibilityResult


class ScreenFailed(FrozenModel):
    type: Literal["screen_failed"] = "screen_failed"
    failed: tuple[FailedCriterion, ...]


class EligibilityConfirmed(FrozenModel):
    type: Literal["eligibility_confirmed"] = "eligibility_confirmed"


class ConsentSigned(FrozenModel):
    type: Literal["consent_signed"] = "consent_signed"
    signed_on: date
    consent_form_version: str
    child_assent_obtained: bool | None
    age_years: int
    supersedes: int | None = None


class ApheresisCollected(FrozenModel):
    type: Literal["apheresis_collected"] = "apheresis_collected"
    collected_on: date
    collection_number: int
    chain_of_identity: str
    supersedes: int | None = None


class ProductReleased(FrozenModel):
    type: Literal["product_released"] = "product_released"
    chain_of_identity: str
    lot_number: str
    total_viable_car_cells: float
    released_on: date
    # On a correction after the prescription: the product against the prescribed weight, assessed again.
    product_assessment: ProductAssessment | None = None
    supersedes: int | None = None


class ManufacturingFailed(FrozenModel):
    type: Literal["manufacturing_failed"] = "manufacturing_failed"
    failed_on: date
    reason: str
    recollection_allowed: bool  # False: the patient goes off study
    supersedes: int | None = None


class CustodyHandOffRecorded(FrozenModel):
    type: Literal["custody_hand_off_recorded"] = "custody_hand_off_recorded"
    step: str
    at: datetime
    chain_of_identity: str
    logger_max_temperature_c: float | None
    excursion: bool  # the logger read warmer than the protocol allows: a deviation that holds the infusion
    note: str | None
    supersedes: int | None = None


class TemperatureExcursionDecided(FrozenModel):
    type: Literal["temperature_excursion_decided"] = "temperature_excursion_decided"
    decision: Literal["release_as_deviation", "reject"]
    reason: str


class LateInfusionAfterThawApproved(FrozenModel):
    type: Literal["late_infusion_after_thaw_approved"] = "late_infusion_after_thaw_approved"
    reason: str


class SlotBooked(FrozenModel):
    """The collection's slot in the site's calendar (domain/slots.py) and its product's expected release."""

    type: Literal["slot_booked"] = "slot_booked"
    collection_number: int
    week: date  # the Monday of the collection's week
    slot_number: int
    collection_date: date
    expected_release: date


class SlotNotBooked(FrozenModel):
    """The site's calendar had no slot for the collection within the weeks searched: staff must book it by hand."""

    type: Literal["slot_not_booked"] = "slot_not_booked"
    collection_number: int
    reason: NoSlotReason
    searched_from: date
    searched_weeks: int


# ---------------------------------------------------------------- lymphodepletion and infusion


class LymphodepletionPrescribed(FrozenModel):
    type: Literal["lymphodepletion_prescribed"] = "lymphodepletion_prescribed"
    height_cm: float
    weight_kg: float
    bsa_m2: float
    creatinine_clearance_ml_min_173m2: float
    renal_suggestion: RenalAdjustmentSuggestion | None
    renal_adjustment: Literal["accept", "decline"] | None
    daily_dose_mg: dict[str, float]  # drug -> prescribed mg per day
    days: dict[str, int]  # drug -> number of days
    planned_start_on: date
    product: ProductAssessment  # the released product against this weight's allowed range
    supersedes: int | None = None


class LymphodepletionDoseGiven(FrozenModel):
    type: Literal["lymphodepletion_dose_given"] = "lymphodepletion_dose_given"
    drug: str
    day_number: int
    dose_mg: float
    prescribed_mg: float
    given_at: datetime
    deviation_reason: str | None
    supersedes: int | None = None


class LymphodepletionCompleted(FrozenModel):
    type: Literal["lymphodepletion_completed"] = "lymphodepletion_completed"
    last_dose_on: date
    infusion_window_opens: date
    infusion_window_closes: date
    supersedes: int | None = None


class OutOfSpecProductDecided(FrozenModel):
    type: Literal["out_of_spec_product_decided"] = "out_of_spec_product_decided"
    decision: Literal["infuse_as_deviation", "remanufacture"]
    reason: str


class InfusionWindowDeviationApproved(FrozenModel):
    type: Literal["infusion_window_deviation_approved"] = "infusion_window_deviation_approved"
    reason: str


class InfusionWindowExpired(FrozenModel):
    type: Literal["infusion_window_expired"] = "infusion_window_expired"
    window_closed_on: date


class InfusionLateAfterThaw(FrozenModel):
    """The protocol's limit from the end of thawing passed without an infusion: the investigator decides."""

    type: Literal["infusion_late_after_thaw"] = "infusion_late_after_thaw"
    thawed_at: datetime
    limit_passed_at: datetime
    chain_of_identity: str


class CellsInfused(FrozenModel):
    type: Literal["cells_infused"] = "cells_infused"
    infused_at: datetime
    day_zero: date
    chain_of_identity: str
    cells_infused: float
    cells_per_kg: float
    weight_kg: float
    deviations: tuple[str, ...]  # approved departures from the protocol, in words
    supersedes: int | None = None


class InfusionNotGiven(FrozenModel):
    type: Literal["infusion_not_given"] = "infusion_not_given"
    on: date
    reason: str
    supersedes: int | None = None


# ---------------------------------------------------------------- toxicity and safety


class DltWindowCompleted(FrozenModel):
    """The DLT observation window after the infusion ended without a DLT (protocol, "Safety stopping rule")."""

    type: Literal["dlt_window_completed"] = "dlt_window_completed"
    window_ended_at: datetime


class CrsAssessed(FrozenModel):
    type: Literal["crs_assessed"] = "crs_assessed"
    assessed_at: datetime
    findings: RecordedCrsFindings
    grade: int
    reasons: tuple[str, ...]
    supersedes: int | None = None
    # The recorded dose that masked the missing fever (None: not masked, or an entry from before doses were kept).
    fever_masked_by: FeverMaskingDose | None = None


class IcansAssessed(FrozenModel):
    type: Literal["icans_assessed"] = "icans_assessed"
    assessed_at: datetime
    findings: IcansFindings
    age_years: int
    grade: int
    reasons: tuple[str, ...]
    supersedes: int | None = None


class AdverseEventRecorded(FrozenModel):
    type: Literal["adverse_event_recorded"] = "adverse_event_recorded"
    adverse_event: AdverseEvent
    supersedes: int | None = None


class FeverMaskingDoseGiven(FrozenModel):
    type: Literal["fever_masking_dose_given"] = "fever_masking_dose_given"
    drug: FeverMaskingDrug
    dose_mg: float
    given_at: datetime
    supersedes: int | None = None


class ExpeditedReportOpened(FrozenModel):
    type: Literal["expedited_report_opened"] = "expedited_report_opened"
    report_id: str
    trigger_sequence: int
    reasons: tuple[str, ...]
    due_at: datetime
    # When the site became aware: the report's clock starts here (None in reports opened before it was kept).
    aware_at: datetime | None = None


class ExpeditedReportSubmitted(FrozenModel):
    type: Literal["expedited_report_submitted"] = "expedited_report_submitted"
    report_id: str
    submitted_at: datetime
    sponsor_reference: str
    on_time: bool


class ExpeditedReportOverdue(FrozenModel):
    type: Literal["expedited_report_overdue"] = "expedited_report_overdue"
    report_id: str
    due_at: datetime


# ---------------------------------------------------------------- response, chemotherapy, follow-up


class DiseaseAssessed(FrozenModel):
    type: Literal["disease_assessed"] = "disease_assessed"
    marrow: MarrowAssessment
    other_tests: tuple[OtherDiseaseTest, ...]
    response: ResponseAssessment
    relapse: RelapseAssessment
    fulfils: tuple[str, ...]  # scheduled items this assessment completes, e.g. ("MRD",)
    in_window: bool | None = None  # for what it fulfils
    supersedes: int | None = None
    outside_marrow: DiseaseOutsideMarrow | None = None


class RelapseDiagnosed(FrozenModel):
    type: Literal["relapse_diagnosed"] = "relapse_diagnosed"
    diagnosed_on: date
    reason: str


class MolecularRecurrenceConfirmed(FrozenModel):
    """MRD positive again after MRD-negativity, confirmed on a later sample: recorded and reported, not a relapse."""

    type: Literal["molecular_recurrence_confirmed"] = "molecular_recurrence_confirmed"
    first_positive_on: date
    confirmed_on: date
    reason: str


class ChemotherapyResumed(FrozenModel):
    type: Literal["chemotherapy_resumed"] = "chemotherapy_resumed"
    resumed_on: date
    from_protocol_step: bool
    deviation_reason: str | None
    in_window: bool
    supersedes: int | None = None


class VisitCompleted(FrozenModel):
    type: Literal["visit_completed"] = "visit_completed"
    visit_code: str
    visit_date: date
    in_window: bool  # outside the window is a protocol deviation: recorded, not refused
    supersedes: int | None = None


class VisitReminderIssued(FrozenModel):
    type: Literal["visit_reminder_issued"] = "visit_reminder_issued"
    visit_code: str
    reminder: Literal["window_opens", "window_closing"]
    window_opens: date
    window_closes: date


class VisitMissed(FrozenModel):
    type: Literal["visit_missed"] = "visit_missed"
    visit_code: str
    window_closed_on: date


# The assessments due each site day of daily monitoring.
DailyAssessment = Literal["crs", "icans"]


class DailyMonitoringStarted(FrozenModel):
    """Recorded with the infusion: CRS and ICANS are due each site day from day 0 to `until_day`."""

    type: Literal["daily_monitoring_started"] = "daily_monitoring_started"
    until_day: int


class DailyAssessmentsDue(FrozenModel):
    """A site day of daily monitoring began: the assessments still to do that day are reminded (none when the day
    was already over when the workflow got to it)."""

    type: Literal["daily_assessments_due"] = "daily_assessments_due"
    day_number: int
    on: date
    assessments: tuple[DailyAssessment, ...]


class DailyAssessmentMissed(FrozenModel):
    type: Literal["daily_assessment_missed"] = "daily_assessment_missed"
    assessment: DailyAssessment
    day_number: int
    on: date


class FollowUpEraStarted(FrozenModel):
    type: Literal["follow_up_era_started"] = "follow_up_era_started"
    era: Phase
    started_on: date


# ---------------------------------------------------------------- exits and the end


class ConsentWithdrawn(FrozenModel):
    type: Literal["consent_withdrawn"] = "consent_withdrawn"
    withdrawn_on: date
    reason: str
    supersedes: int | None = None


class PatientDied(FrozenModel):
    type: Literal["patient_died"] = "patient_died"
    died_on: date
    cause: str
    treatment_related: bool
    supersedes: int | None = None


class LostToFollowUp(FrozenModel):
    type: Literal["lost_to_follow_up"] = "lost_to_follow_up"
    last_contact_on: date
    reason: str
    supersedes: int | None = None


class TakenOffStudy(FrozenModel):
    type: Literal["taken_off_study"] = "taken_off_study"
    on: date
    reason: str
    supersedes: int | None = None


class TrialStopped(FrozenModel):
    """The DSMB stopped the trial (decision `decision_id`): a patient not yet infused leaves the study
    (`off_study`); an infused one keeps the safety follow-up."""

    type: Literal["trial_stopped"] = "trial_stopped"
    decision_id: str
    on: date
    off_study: bool


class ReconsentRecorded(FrozenModel):
    """The family's signed answer to amendment `protocol_version`."""

    type: Literal["reconsent_recorded"] = "reconsent_recorded"
    protocol_version: str
    accepted: bool
    answered_on: date
    consent_form_version: str


class ProtocolVersionChanged(FrozenModel):
    """The patient follows `to_version` from here on (recorded under `from_version`, the one they left)."""

    type: Literal["protocol_version_changed"] = "protocol_version_changed"
    from_version: str
    to_version: str


class JourneyCompleted(FrozenModel):
    type: Literal["journey_completed"] = "journey_completed"
    completed_on: date


EventPayload = Annotated[
    PatientEnrolled
    | EligibilityAssessed
    | ScreenFailed
    | EligibilityConfirmed
    | ConsentSigned
    | ApheresisCollected
    | ProductReleased
    | ManufacturingFailed
    | CustodyHandOffRecorded
    | TemperatureExcursionDecided
    | LateInfusionAfterThawApproved
    | SlotBooked
    | SlotNotBooked
    | LymphodepletionPrescribed
    | LymphodepletionDoseGiven
    | LymphodepletionCompleted
    | OutOfSpecProductDecided
    | InfusionWindowDeviationApproved
    | InfusionWindowExpired
    | InfusionLateAfterThaw
    | CellsInfused
    | InfusionNotGiven
    | DltWindowCompleted
    | CrsAssessed
    | IcansAssessed
    | AdverseEventRecorded
    | FeverMaskingDoseGiven
    | ExpeditedReportOpened
    | ExpeditedReportSubmitted
    | ExpeditedReportOverdue
    | DiseaseAssessed
    | RelapseDiagnosed
    | MolecularRecurrenceConfirmed
    | ChemotherapyResumed
    | VisitCompleted
    | VisitReminderIssued
    | VisitMissed
    | DailyMonitoringStarted
    | DailyAssessmentsDue
    | DailyAssessmentMissed
    | FollowUpEraStarted
    | ConsentWithdrawn
    | PatientDied
    | LostToFollowUp
    | TakenOffStudy
    | TrialStopped
    | ReconsentRecorded
    | ProtocolVersionChanged
    | JourneyCompleted,
    Field(discriminator="type"),
]


class Event(FrozenModel):
    """One entry of the trial record: who, when, under which protocol, why (for corrections), and what."""

    study_id: str
    sequence: int = Field(ge=1)
    occurred_at: datetime  # workflow time when it was recorded, never the wall clock
    actor: Actor
    protocol_version: str
    reason: str | None = Field(default=None, max_length=REASON_MAX_LENGTH)
    signature: Signature | None = None  # the entry's electronic signature, when it was signed
    payload: EventPayload

    @property
    def type(self) -> str:
        return self.payload.type
