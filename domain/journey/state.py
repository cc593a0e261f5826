"""A patient's journey as folded from its events. Nothing here is stored for its own sake: it is all derived."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from typing import Literal

from pydantic import Field

from domain.eligibility import EligibilityResult
from domain.journey.events import (
    ChemotherapyResumed,
    ConsentSigned,
    DailyAssessment,
    LymphodepletionCompleted,
    LymphodepletionPrescribed,
    MolecularRecurrenceConfirmed,
    RelapseDiagnosed,
    SlotBooked,
    SlotNotBooked,
    TrialStopped,
)
from domain.journey.phases import FINAL_PHASES, POST_INFUSION_PHASES, Phase
from domain.journey.status_view import ExitRecord, SignedEntry
from domain.protocol import FrozenModel
from domain.response import ResponseCategory
from domain.toxicity import AdverseEvent, FeverMaskingDose


class Collection(FrozenModel):
    collection_number: int
    collected_on: date
    chain_of_identity: str
    sequence: int | None = None  # the entry that recorded it (None: carried from a run before corrections)


class Product(FrozenModel):
    chain_of_identity: str
    lot_number: str
    total_viable_car_cells: float
    released_on: date


class CustodyRecord(FrozenModel):
    step: str
    at: datetime
    chain_of_identity: str
    logger_max_temperature_c: float | None
    excursion: bool
    sequence: int
    recorded_at: datetime | None = None  # when it was entered (None in states carried from before it was kept)


class DoseRecord(FrozenModel):
    drug: str
    day_number: int
    dose_mg: float
    prescribed_mg: float
    given_at: datetime
    deviation_reason: str | None
    sequence: int | None = None


class Infusion(FrozenModel):
    infused_at: datetime
    day_zero: date
    chain_of_identity: str
    cells_infused: float
    cells_per_kg: float
    deviations: tuple[str, ...]


class GradedAssessment(FrozenModel):
    sequence: int
    assessed_at: datetime
    grade: int
    superseded_by: int | None = None
    reasons: tuple[str, ...] = ()  # why the grade (empty in states carried from before they were kept)
    content: str = ""  # digest of kind, moment and findings (domain/journey/repeats.py): an exact repeat is refused


class RecordedAdverseEvent(FrozenModel):
    sequence: int
    adverse_event: AdverseEvent
    superseded_by: int | None = None
    content: str = ""  # as GradedAssessment's


class RecordedMaskingDose(FrozenModel):
    """A recorded dose of tocilizumab or a corticosteroid: it masks a fever for the protocol's window after it."""

    sequence: int
    dose: FeverMaskingDose
    superseded_by: int | None = None
    content: str = ""  # as GradedAssessment's


class ExpeditedReport(FrozenModel):
    report_id: str
    trigger_sequence: int
    reasons: tuple[str, ...]
    due_at: datetime
    aware_at: datetime | None = None  # when the site became aware: the clock's start (None: not kept then)
    overdue: bool = False
    submitted_at: datetime | None = None
    sponsor_reference: str | None = None

    @property
    def awaiting_submission(self) -> bool:
        return self.submitted_at is None


class DiseaseAssessmentRecord(FrozenModel):
    sequence: int
    assessed_on: date
    category: ResponseCategory
    mrd_negative: bool | None
    relapse: bool
    fulfils: tuple[str, ...]
    superseded_by: int | None = None
    content: str = ""  # as GradedAssessment's


class ScheduledItemRecord(FrozenModel):
    """What has happened to one scheduled item (a visit, the MRD evaluation, chemotherapy resumption)."""

    code: str
    done_on: date | None = None
    done_sequence: int | None = None
    in_window: bool | None = None
    missed: bool = False
    reminders: tuple[str, ...] = ()

    @property
    def resolved(self) -> bool:
        return self.done_on is not None or self.missed


class MissedDailyAssessment(FrozenModel):
    assessment: DailyAssessment
    day_number: int
    on: date


class CorrectableEntry(FrozenModel):
    """An entry that a correction may supersede (besides toxicity, disease and visit entries, which keep their own
    `superseded_by`): the command kind that corrects it, and the entry that did."""

    sequence: int
    kind: str  # the command kind that made it, and that corrects it
    event_type: str
    superseded_by: int | None = None


class JourneyState(FrozenModel):
    study_id: str
    protocol_version: str = ""
    # Amendment re-consent: the version accepted and not yet moved onto (the workflow moves when nothing is in
    # flight), and the versions the family declined (the patient stays on their own).
    pending_protocol_version: str | None = None
    screened_under: str = ""  # the version the current screening was judged under (corrections are judged so too)
    declined_protocol_versions: tuple[str, ...] = ()
    phase: Phase = Phase.NOT_ENROLLED
    last_sequence: int = 0
    screening_date: date | None = None
    date_of_birth: date | None = None  # PHI: ages only; never shown in views, ids or logs
    screening_attempt: int = 1  # a screen failure may be screened again under the same study id
    eligibility: EligibilityResult | None = None
    eligibility_confirmed: bool = False
    consent: ConsentSigned | None = None
    collections: tuple[Collection, ...] = ()
    manufacturing_retries_used: int = 0
    slot_booking: SlotBooked | None = None  # the latest collection's slot in the site's calendar
    slot_not_booked: SlotNotBooked | None = None  # the calendar had none for the next collection (until one is)
    product: Product | None = None
    chain_of_custody: bool = False  # hand-offs required (journeys enrolled once they were)
    custody: tuple[CustodyRecord, ...] = ()  # every current hand-off, oldest first
    excursion_decision: Literal["release_as_deviation", "reject"] | None = None
    late_infusion_after_thaw_approved: bool = False
    late_after_thaw_flagged_for: datetime | None = None  # the end of the thaw whose limit passed (investigator told)
    lymphodepletion: LymphodepletionPrescribed | None = None
    doses_given: tuple[DoseRecord, ...] = ()
    lymphodepletion_completed: LymphodepletionCompleted | None = None
    lymphodepletion_completed_sequence: int | None = None
    out_of_spec_decision: Literal["infuse_as_deviation", "remanufacture"] | None = None
    infusion_window_deviation_approved: bool = False
    infusion_window_expired: bool = False
    infusion: Infusion | None = None
    dlt_window_completed: bool = False  # the DLT observation window passed without a DLT
    crs: tuple[GradedAssessment, ...] = ()
    icans: tuple[GradedAssessment, ...] = ()
    adverse_events: tuple[RecordedAdverseEvent, ...] = ()
    fever_masking_doses: tuple[RecordedMaskingDose, ...] = ()
    expedited_reports: tuple[ExpeditedReport, ...] = ()
    disease_assessments: tuple[DiseaseAssessmentRecord, ...] = ()
    relapse: RelapseDiagnosed | None = None
    molecular_recurrence: MolecularRecurrenceConfirmed | None = None
    chemotherapy: ChemotherapyResumed | None = None
    scheduled: dict[str, ScheduledItemRecord] = Field(default_factory=dict)
    # Daily CRS/ICANS monitoring (None: infused before it was tracked): its last day, the last day checked at its
    # start, and the assessments recorded missed.
    daily_monitoring_until_day: int | None = None
    daily_checked_day: int = -1
    daily_missed: tuple[MissedDailyAssessment, ...] = ()
    era: Phase | None = None
    exit: ExitRecord | None = None
    trial_stopped: TrialStopped | None = None  # the DSMB stopped the trial while this patient was on study
    treatment_related_death: bool = False
    completed_on: date | None = None
    signatures: tuple[SignedEntry, ...] = ()  # every signed entry, oldest first (21 CFR Part 11 manifestation)
    entries: tuple[CorrectableEntry, ...] = ()  # the entries corrections may supersede, oldest first

    # ------------------------------------------------------------ derived views of the folded facts

    @property
    def is_final(self) -> bool:
        return self.phase in FINAL_PHASES

    @property
    def is_post_infusion(self) -> bool:
        return self.phase in POST_INFUSION_PHASES

    @property
    def chain_of_identity(self) -> str | None:
        return self.collections[-1].chain_of_identity if self.collections else None

    @property
    def highest_crs_grade(self) -> int:
        return max((a.grade for a in self.crs if a.superseded_by is None), default=0)

    @property
    def highest_icans_grade(self) -> int:
        return max((a.grade for a in self.icans if a.superseded_by is None), default=0)

    @property
    def current_masking_doses(self) -> tuple[FeverMaskingDose, ...]:
        return tuple(d.dose for d in self.fever_masking_doses if d.superseded_by is None)

    @property
    def open_expedited_reports(self) -> tuple[ExpeditedReport, ...]:
        return tuple(r for r in self.expedited_reports if r.awaiting_submission)

    def report(self, report_id: str) -> ExpeditedReport | None:
        return next((r for r in self.expedited_reports if r.report_id == report_id), None)

    def item(self, code: str) -> ScheduledItemRecord:
        return self.scheduled.get(code) or _nothing_recorded(code)

    @property
    def current_custody(self) -> tuple[CustodyRecord, ...]:
        """The hand-offs of the current collection's cells."""
        return tuple(r for r in self.custody if r.chain_of_identity == self.chain_of_identity)

    def custody_step(self, step: str) -> CustodyRecord | None:
        return next((r for r in self.current_custody if r.step == step), None)

    def dose_given(self, drug: str, day_number: int) -> DoseRecord | None:
        return next((d for d in self.doses_given if d.drug == drug and d.day_number == day_number), None)

    def entry(self, sequence: int) -> CorrectableEntry | None:
        return next((e for e in self.entries if e.sequence == sequence), None)

    def current_entries(self, kind: str) -> tuple[CorrectableEntry, ...]:
        return tuple(e for e in self.entries if e.kind == kind and e.superseded_by is None)


@lru_cache(maxsize=512)  # asked for every unrecorded item at every step; frozen, so one copy serves
def _nothing_recorded(code: str) -> ScheduledItemRecord:
    return ScheduledItemRecord(code=code)


def initial_state(study_id: str) -> JourneyState:
    return JourneyState(study_id=study_id)
