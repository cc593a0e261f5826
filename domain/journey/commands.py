"""What people (and the workflow's own timers) ask of a patient's journey: one frozen model per command.

Field validation here catches malformed values; `decide` checks everything that depends on the patient's state.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from domain.eligibility import ScreeningData
from domain.entered_content import added_later
from domain.free_text import FreeText, Label
from domain.identifiers import StudyId
from domain.journey.custody import CustodyStep
from domain.journey.phases import Phase
from domain.protocol import FrozenModel
from domain.response import DiseaseOutsideMarrow, MarrowAssessment, OtherDiseaseTest
from domain.roles import Actor
from domain.signature import Signature
from domain.slots import NoSlotReason
from domain.toxicity import LEGACY_FEVER_MASKED_FIELD, AdverseEvent, CrsFindings, FeverMaskingDrug, IcansFindings

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
    # The fever check is answered explicitly: the hours since the last fever, or `no_fever` (a blank is neither).
    hours_since_last_fever: float | None = Field(default=None, ge=0, le=100_000)
    no_fever: bool = added_later(False)  # the patient has had no fever at all (answered, not left blank)
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
    # The old "fever masked" box, when the command came with it (None: it did not). Read so that histories recorded
    # before replay, and written back so that the journey's validator sees it too; the decider refuses it in new
    # commands.
    _typed_fever_masking: bool | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _read_typed_fever_masking(cls, data: object, handler: ModelWrapValidatorHandler[AssessCrs]) -> AssessCrs:
        if not isinstance(data, dict):  # a model already made keeps what it was read with
            return handler(data)
        findings, typed = data.get("findings"), None
        if isinstance(findings, dict) and LEGACY_FEVER_MASKED_FIELD in findings:
            typed = bool(findings[LEGACY_FEVER_MASKED_FIELD])
            data = {**data, "findings": {k: v for k, v in findings.items() if k != LEGACY_FEVER_MASKED_FIELD}}
        command = handler(data)
        command._typed_fever_masking = typed
        return command

    @model_serializer(mode="wrap")
    def _write_typed_fever_masking(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self._typed_fever_masking is not None and isinstance(data.get("findings"), dict):
            data["findings"] = {**data["findings"], LEGACY_FEVER_MASKED_FIELD: self._typed_fever_masking}
        return data

    @property
    def typed_fever_masking(self) -> bool:
        return self._typed_fever_masking is not None


class AssessIcans(_Command):
    kind: Literal["assess_icans"] = "assess_icans"
    assessed_at: datetime
    findings: IcansFindings
    correction: Correction | None = None


class RecordAdverseEvent(_Command):
    kind: Literal["record_adverse_event"] = "record_adverse_event"
    adverse_event: AdverseEvent
    correction: Correction | None = None


class RecordFeverMaskingDose(_Command):
    """A dose of tocilizumab or a corticosteroid given: for the protocol's window after it, a CRS check's missing
    fever is masked (hypotension and hypoxia grade CRS alone)."""

    kind: Literal["record_fever_masking_dose"] = "record_fever_masking_dose"
    drug: FeverMaskingDrug
    dose_mg: float = Field(gt=0, le=5_000)
    given_at: datetime
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
    other_tests: tuple[OtherDiseaseTest, ...] = Field(default=(), max_length=10)  # not the marrow's own flow MRD
    outside_marrow: DiseaseOutsideMarrow | None = added_later(None)  # CSF status, extramedullary disease
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
    # When the site learnt of the death: its expedited report runs from here. Blank: the start of the day of death.
    aware_at: datetime | None = added_later(None)
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


class CompleteDltWindow(_Command):
    """The DLT observation window after the infusion passed without a DLT: the trial counts the patient evaluable."""

    kind: Literal["complete_dlt_window"] = "complete_dlt_window"


class FlagLateInfusionAfterThaw(_Command):
    """The thawed cells' time limit passed without an infusion: the investigator must decide now."""

    kind: Literal["flag_late_infusion_after_thaw"] = "flag_late_infusion_after_thaw"


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


class RecordSlotUnavailable(_Command):
    """The site's calendar had no slot for the next collection within the weeks searched (the workflow asked)."""

    kind: Literal["record_slot_unavailable"] = "record_slot_unavailable"
    collection_number: int = Field(ge=1)
    reason: NoSlotReason
    searched_from: date
    searched_weeks: int = Field(ge=1)


class StopForTrial(_Command):
    """The DSMB's signed decision stopped the trial: sent by the TrialWorkflow to every journey still on study,
    attributed to the board member who signed, once per decision (its id)."""

    kind: Literal["trial_stopped"] = "trial_stopped"
    decision_id: Label


class RecordReconsent(_Command):
    """The family's answer to a protocol amendment (protocol.md "Amendment 1.1"): accepted, the patient moves onto
    `protocol_version` at the next point where nothing is in flight; declined, they stay on their version."""

    kind: Literal["record_reconsent"] = "record_reconsent"
    protocol_version: Label
    accepted: bool
    answered_on: date
    consent_form_version: Label


class MoveToProtocolVersion(_Command):
    """The workflow moves a re-consented patient onto the amendment once no step of theirs is in flight."""

    kind: Literal["move_to_protocol_version"] = "move_to_protocol_version"
    protocol_version: Label


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
    | RecordFeverMaskingDose
    | ConfirmExpeditedReport
    | RecordDiseaseAssessment
    | RecordChemotherapyResumed
    | RecordVisit
    | WithdrawConsent
    | RecordDeath
    | RecordLostToFollowUp
    | TakeOffStudy
    | RecordReconsent,
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
    | RecordSlotBooking
    | RecordSlotUnavailable
    | CompleteDltWindow
    | FlagLateInfusionAfterThaw
    | StopForTrial
    | MoveToProtocolVersion,
    Field(discriminator="kind"),
]

Command = Annotated[StaffCommand | SystemCommand, Field(discriminator="kind")]
