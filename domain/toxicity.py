"""CRS and ICANS graded by the ASTCT 2019 consensus, CTCAE adverse events, and what needs an expedited report.

Grades are computed from findings, never typed; each grade carries the plain-word reasons that set it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from domain.entered_content import added_later
from domain.free_text import AdverseEventTerm
from domain.protocol import CrsCriteria, FrozenModel, IcansCriteria, SafetyReporting

# ASTCT 2019 grades CRS and ICANS from 0 (none) to 4. The grade each finding earns below is the consensus
# itself; the thresholds it is measured against come from the protocol.
ASTCT_MAX_GRADE = 4

# Plausibility limits of what can be entered, not protocol thresholds: they catch typing errors.
MIN_RECORDABLE_TEMPERATURE_C = 30.0
MAX_RECORDABLE_TEMPERATURE_C = 45.0
MAX_RECORDABLE_VASOPRESSORS = 10
MAX_RECORDABLE_OXYGEN_FLOW_L_PER_MIN = 100.0

# The instruments' own ranges (ICE, CAPD, CTCAE) bound the input models. Those models cannot see the protocol
# in force, so the functions below check again against the criteria they are given.
_INSTRUMENTS = IcansCriteria()
_CTCAE = SafetyReporting()


class ToxicityGrading(FrozenModel):
    """A computed CRS or ICANS grade and the reasons that set it."""

    grade: int = Field(ge=0, le=ASTCT_MAX_GRADE)
    reasons: tuple[str, ...]


def _shown(value: float) -> str:
    """One decimal when that is exact, else every digit: 37.95 °C must never read as 38.0 °C."""
    return f"{value:.1f}" if round(value, 1) == value else str(value)


def _graded(findings: Iterable[tuple[int, str]], notes: Iterable[str] = ()) -> ToxicityGrading:
    """The worst of `findings` (grade, reason); the reasons are the notes and every finding at that grade."""
    scored = [(grade, reason) for grade, reason in findings if grade > 0]
    grade = max((g for g, _ in scored), default=0)
    return ToxicityGrading(grade=grade, reasons=(*notes, *(reason for g, reason in scored if g == grade)))


# ---------------------------------------------------------------- CRS


class OxygenSupport(StrEnum):
    NONE = "none"
    NASAL_CANNULA = "nasal_cannula"  # low- or high-flow by its flow rate
    BLOW_BY = "blow_by"
    HIGH_FLOW_NASAL_CANNULA = "high_flow_nasal_cannula"
    FACEMASK = "facemask"
    NON_REBREATHER = "non_rebreather"
    VENTURI_MASK = "venturi_mask"
    CPAP = "cpap"
    BIPAP = "bipap"
    MECHANICAL_VENTILATION = "mechanical_ventilation"


_OXYGEN_WORDS: dict[OxygenSupport, str] = {
    OxygenSupport.NONE: "no oxygen",
    OxygenSupport.NASAL_CANNULA: "nasal cannula",
    OxygenSupport.BLOW_BY: "blow-by",
    OxygenSupport.HIGH_FLOW_NASAL_CANNULA: "high-flow nasal cannula",
    OxygenSupport.FACEMASK: "facemask",
    OxygenSupport.NON_REBREATHER: "non-rebreather mask",
    OxygenSupport.VENTURI_MASK: "Venturi mask",
    OxygenSupport.CPAP: "CPAP",
    OxygenSupport.BIPAP: "BiPAP",
    OxygenSupport.MECHANICAL_VENTILATION: "mechanical ventilation",
}
# Oxygen by these is graded by its rate alone (ASTCT: <= the protocol's limit is low flow, whatever the device).
_GRADED_BY_RATE = frozenset({OxygenSupport.NASAL_CANNULA, OxygenSupport.BLOW_BY, OxygenSupport.HIGH_FLOW_NASAL_CANNULA})
_MASKS = frozenset({OxygenSupport.FACEMASK, OxygenSupport.NON_REBREATHER, OxygenSupport.VENTURI_MASK})
_POSITIVE_PRESSURE = frozenset({OxygenSupport.CPAP, OxygenSupport.BIPAP, OxygenSupport.MECHANICAL_VENTILATION})


class CrsObservations(FrozenModel):
    """What the nurse or physician saw at one CRS assessment (`CrsFindings` as entered, `RecordedCrsFindings` as
    the record holds them)."""

    max_temperature_c: float = Field(ge=MIN_RECORDABLE_TEMPERATURE_C, le=MAX_RECORDABLE_TEMPERATURE_C)
    hypotension: bool
    vasopressors_excluding_vasopressin: int = Field(ge=0, le=MAX_RECORDABLE_VASOPRESSORS)
    vasopressin: bool
    oxygen: OxygenSupport
    oxygen_flow_l_per_min: float | None = Field(default=None, gt=0, le=MAX_RECORDABLE_OXYGEN_FLOW_L_PER_MIN)

    def _problems(self) -> list[str]:
        problems: list[str] = []
        if not self.hypotension:
            if self.vasopressors_excluding_vasopressin:
                problems.append("vasopressors are recorded but hypotension is not")
            if self.vasopressin:
                problems.append("vasopressin is recorded but hypotension is not")
        if self.oxygen is OxygenSupport.NASAL_CANNULA and self.oxygen_flow_l_per_min is None:
            problems.append("oxygen by nasal cannula needs its flow rate in L/min")
        if self.oxygen is OxygenSupport.NONE and self.oxygen_flow_l_per_min is not None:
            problems.append("an oxygen flow rate is recorded but no oxygen support is")
        return problems


# The "fever masked" box of CRS assessments entered before masking was derived from recorded doses (issue 16).
LEGACY_FEVER_MASKED_FIELD = "fever_masked_by_treatment"


class CrsFindings(CrsObservations):
    """A CRS assessment as entered. Whether the fever is masked is never typed: it comes from the recorded doses."""

    @model_validator(mode="before")
    @classmethod
    def _no_typed_masking(cls, data: object) -> object:
        if isinstance(data, dict) and LEGACY_FEVER_MASKED_FIELD in data:
            raise ValueError(
                "'fever masked' is no longer ticked by hand: it follows from the tocilizumab or corticosteroid "
                "doses recorded before the assessment, so record the dose (record-fever-masking-dose: drug, dose, "
                f"time given) and leave {LEGACY_FEVER_MASKED_FIELD} out"
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> CrsFindings:
        problems = self._problems()
        if self.oxygen in _GRADED_BY_RATE - {OxygenSupport.NASAL_CANNULA} and self.oxygen_flow_l_per_min is None:
            problems.append(
                f"oxygen by {_OXYGEN_WORDS[self.oxygen]} needs its flow rate in L/min: the rate tells low flow "
                "from high flow"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class RecordedCrsFindings(CrsObservations):
    """A CRS assessment as the trial record holds it: entries made before the clinical review (issue 16) may lack
    the rate of a high-flow cannula or blow-by, and carry the "fever masked" box staff ticked then."""

    fever_masked_by_treatment: bool | None = None  # read from old entries only; never entered any more

    @model_validator(mode="after")
    def _consistent(self) -> RecordedCrsFindings:
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def of(cls, findings: CrsObservations) -> RecordedCrsFindings:
        return cls.model_validate(findings.model_dump())


class FeverMaskingDrug(StrEnum):
    """Treatments that suppress fever: given in the protocol's window before a CRS check, they mask it."""

    TOCILIZUMAB = "tocilizumab"
    DEXAMETHASONE = "dexamethasone"
    METHYLPREDNISOLONE = "methylprednisolone"
    HYDROCORTISONE = "hydrocortisone"
    PREDNISOLONE = "prednisolone"


class FeverMaskingDose(FrozenModel):
    """A recorded dose of tocilizumab or a corticosteroid (`sequence`: its entry in the patient's record)."""

    drug: FeverMaskingDrug
    dose_mg: float
    given_at: datetime
    sequence: int | None = None  # None: a dose the grade calculator was told of, not one in a record

    def describe(self) -> str:
        entry = f" (entry {self.sequence})" if self.sequence is not None else ""
        return f"{self.drug.value} {self.dose_mg:g} mg given {self.given_at.isoformat()}{entry}"


def fever_masking_dose(
    doses: Iterable[FeverMaskingDose], assessed_at: datetime, criteria: CrsCriteria
) -> FeverMaskingDose | None:
    """The latest dose given in the protocol's window up to `assessed_at`, which masks a fever then; None if none."""
    since = assessed_at - timedelta(hours=criteria.fever_masking_window_hours)
    in_window = [d for d in doses if since <= d.given_at <= assessed_at]
    return max(in_window, key=lambda d: (d.given_at, d.sequence or 0), default=None)


def _crs_hypotension(findings: CrsObservations) -> tuple[int, str]:
    if not findings.hypotension:
        return 0, "no hypotension"
    pressors = findings.vasopressors_excluding_vasopressin
    if pressors > 1:  # "several vasopressors": vasopressin is not counted
        plus = " plus vasopressin, which is not counted" if findings.vasopressin else ""
        return 4, f"hypotension needing {pressors} vasopressors{plus}: grade 4"
    if pressors == 1 and findings.vasopressin:
        return 3, "hypotension needing one vasopressor with vasopressin: grade 3"
    if pressors == 1:
        return 3, "hypotension needing one vasopressor: grade 3"
    if findings.vasopressin:
        return 3, "hypotension needing vasopressin alone (counts as one vasopressor): grade 3"
    return 2, "hypotension not needing vasopressors: grade 2"


def _crs_hypoxia(findings: CrsObservations, criteria: CrsCriteria) -> tuple[int, str]:
    device = findings.oxygen
    words = _OXYGEN_WORDS[device]
    if device is OxygenSupport.NONE:
        return 0, "no oxygen needed"
    if device in _POSITIVE_PRESSURE:
        return 4, f"positive-pressure support ({words}): grade 4"
    flow = findings.oxygen_flow_l_per_min
    limit = criteria.low_flow_oxygen_max_l_per_min
    if device in _MASKS:
        rate = f" at {_shown(flow)} L/min" if flow is not None else ""
        return 3, f"oxygen by {words}{rate}: grade 3"
    if flow is None:  # only in entries recorded before the rate was required: graded by the device then
        if device is OxygenSupport.BLOW_BY:
            return 2, "blow-by oxygen (low-flow, no rate recorded): grade 2"
        return 3, f"oxygen by {words} (no rate recorded): grade 3"
    by_device = f"oxygen {_shown(flow)} L/min by {words}"
    if flow <= limit:
        return 2, f"low-flow {by_device} (at most {_shown(limit)} L/min): grade 2"
    return 3, f"high-flow {by_device} (above {_shown(limit)} L/min): grade 3"


def grade_crs(
    findings: CrsObservations, criteria: CrsCriteria, masked_by: FeverMaskingDose | None = None
) -> ToxicityGrading:
    """CRS grade: fever required (unless masked by `masked_by`, a dose recorded in the protocol's window before the
    assessment: `fever_masking_dose`), then the worse of hypotension and hypoxia."""
    fever = findings.max_temperature_c >= criteria.fever_min_celsius
    temperature = f"{_shown(findings.max_temperature_c)} °C"
    threshold = f"{_shown(criteria.fever_min_celsius)} °C"
    organ_findings = (_crs_hypotension(findings), _crs_hypoxia(findings, criteria))

    if fever:
        fever_reason = f"fever {temperature} (at least {threshold})"
        graded = _graded(organ_findings, notes=(fever_reason,))
        if graded.grade == 0:
            return ToxicityGrading(grade=1, reasons=(f"{fever_reason} without hypotension or hypoxia: grade 1",))
        return graded

    if masked_by is None:
        no_fever = f"no CRS: no fever (highest {temperature}, CRS needs at least {threshold})"
        if any(grade for grade, _ in organ_findings):
            # Hypotension or hypoxia without fever is not CRS under ASTCT 2019: its cause must be sought.
            return ToxicityGrading(
                grade=0,
                reasons=(
                    no_fever,
                    "hypotension or oxygen need without fever: look for another cause",
                    f"no tocilizumab or corticosteroid recorded in the {criteria.fever_masking_window_hours} hours "
                    "before: the fever is not masked",
                ),
            )
        return ToxicityGrading(grade=0, reasons=(no_fever,))

    masking = (
        f"fever masked by {masked_by.describe()}, within {criteria.fever_masking_window_hours} hours before the "
        "assessment: graded by hypotension and hypoxia"
    )
    graded = _graded(organ_findings, notes=(masking,))
    if graded.grade == 0:
        return ToxicityGrading(grade=0, reasons=(masking, "no CRS: neither hypotension nor hypoxia"))
    return graded


# ---------------------------------------------------------------- ICANS


class Consciousness(StrEnum):
    ALERT = "alert"
    AWAKENS_SPONTANEOUSLY = "awakens_spontaneously"
    AWAKENS_TO_VOICE = "awakens_to_voice"
    AWAKENS_TO_TOUCH = "awakens_to_touch"
    UNAROUSABLE = "unarousable"  # or needs vigorous or repetitive stimuli to arouse; stupor; coma


class Seizure(StrEnum):
    NONE = "none"
    # Any clinical seizure resolving rapidly, or non-convulsive seizure on EEG resolving with intervention.
    RESOLVING_RAPIDLY = "resolving_rapidly"
    # Prolonged (longer than the protocol's minutes) or repetitive without return to baseline in between.
    PROLONGED_OR_REPETITIVE = "prolonged_or_repetitive"


class MotorFinding(StrEnum):
    NONE = "none"
    DEEP_FOCAL_WEAKNESS = "deep_focal_weakness"  # hemiparesis, paraparesis


class CerebralEdema(StrEnum):
    NONE = "none"
    FOCAL = "focal"  # focal or local edema on neuroimaging
    # Diffuse edema on imaging, decerebrate or decorticate posturing, cranial nerve VI palsy, papilledema,
    # or Cushing's triad.
    DIFFUSE = "diffuse"


IcansScale = Literal["ICE", "CAPD"]


class IcansFindings(FrozenModel):
    """One ICANS assessment: the ICE score from the protocol's age on, the CAPD score below it."""

    ice_score: int | None = Field(default=None, ge=0, le=_INSTRUMENTS.ice_max)
    capd_score: int | None = Field(default=None, ge=0, le=_INSTRUMENTS.capd_max)
    unable_to_perform_assessment: bool = False
    consciousness: Consciousness
    seizure: Seizure
    motor: MotorFinding
    cerebral_edema: CerebralEdema

    @model_validator(mode="after")
    def _consistent(self) -> IcansFindings:
        problems: list[str] = []
        if self.ice_score is not None and self.capd_score is not None:
            problems.append("both an ICE and a CAPD score are recorded: score only the one for the patient's age")
        if self.unable_to_perform_assessment and (self.ice_score is not None or self.capd_score is not None):
            problems.append("a score is recorded but so is 'unable to perform the assessment': keep one")
        if problems:
            raise ValueError("; ".join(problems))
        return self


_CONSCIOUSNESS: dict[Consciousness, tuple[int, str]] = {
    Consciousness.ALERT: (0, "alert"),
    Consciousness.AWAKENS_SPONTANEOUSLY: (1, "awakens spontaneously: grade 1"),
    Consciousness.AWAKENS_TO_VOICE: (2, "awakens only to voice: grade 2"),
    Consciousness.AWAKENS_TO_TOUCH: (3, "awakens only to touch: grade 3"),
    Consciousness.UNAROUSABLE: (4, "unarousable, or needs vigorous or repetitive stimuli to arouse: grade 4"),
}
_MOTOR: dict[MotorFinding, tuple[int, str]] = {
    MotorFinding.NONE: (0, "no motor finding"),
    MotorFinding.DEEP_FOCAL_WEAKNESS: (4, "deep focal motor weakness (hemiparesis or paraparesis): grade 4"),
}
_EDEMA: dict[CerebralEdema, tuple[int, str]] = {
    CerebralEdema.NONE: (0, "no raised intracranial pressure"),
    CerebralEdema.FOCAL: (3, "focal edema on neuroimaging: grade 3"),
    CerebralEdema.DIFFUSE: (
        4,
        "diffuse cerebral edema, decerebrate or decorticate posturing, cranial nerve VI palsy, papilledema "
        "or Cushing's triad: grade 4",
    ),
}


def _seizure(seizure: Seizure, criteria: IcansCriteria) -> tuple[int, str]:
    match seizure:
        case Seizure.NONE:
            return 0, "no seizure"
        case Seizure.RESOLVING_RAPIDLY:
            return (
                3,
                "seizure that resolved rapidly, or non-convulsive seizure resolved by treatment: grade 3",
            )
        case Seizure.PROLONGED_OR_REPETITIVE:
            return (
                4,
                f"prolonged seizure (over {criteria.prolonged_seizure_minutes} minutes) or repeated seizures "
                "without return to baseline: grade 4",
            )


def icans_scale_for_age(age_years: int, criteria: IcansCriteria) -> IcansScale:
    """ICE from `criteria.ice_from_age_years` on, CAPD for younger children."""
    return "ICE" if age_years >= criteria.ice_from_age_years else "CAPD"


def icans_findings_problems(findings: IcansFindings, age_years: int, criteria: IcansCriteria) -> list[str]:
    """Why these findings cannot be graded at this age, in words a nurse understands; empty when they can."""
    if age_years < 0:
        return [f"age {age_years} is not an age"]
    scale = icans_scale_for_age(age_years, criteria)
    right, wrong, wrong_scale, top = (
        (findings.ice_score, findings.capd_score, "CAPD", criteria.ice_max)
        if scale == "ICE"
        else (findings.capd_score, findings.ice_score, "ICE", criteria.capd_max)
    )
    problems: list[str] = []
    if wrong is not None:
        problems.append(f"patient is {age_years}: score the {scale}, not the {wrong_scale}")
    elif right is None and not findings.unable_to_perform_assessment:
        problems.append(
            f"patient is {age_years}: record the {scale} score (0–{top}) or that the patient was unable to perform it"
        )
    if right is not None and right > top:
        problems.append(f"the {scale} score runs from 0 to {top}: {right} is out of range")
    return problems


def _ice(findings: IcansFindings, criteria: IcansCriteria) -> tuple[int, str]:
    score, top = findings.ice_score, criteria.ice_max
    if findings.unable_to_perform_assessment:
        # ASTCT: an awake patient who cannot perform the ICE (e.g. global aphasia) scores 0; an unarousable one is
        # graded 4 by the consciousness domain.
        return 3, f"unable to perform the ICE (e.g. global aphasia): scored 0/{top}: grade 3"
    if score is None:
        return 0, "ICE not performed"
    if score >= top:
        return 0, f"ICE score {score}/{top}: normal"
    if score >= criteria.ice_grade1_min:
        return 1, f"ICE score {score}/{top} ({criteria.ice_grade1_min}–{top - 1}): grade 1"
    if score >= criteria.ice_grade2_min:
        return (
            2,
            f"ICE score {score}/{top} ({criteria.ice_grade2_min}–{criteria.ice_grade1_min - 1}): grade 2",
        )
    return 3, f"ICE score {score}/{top} (0–{criteria.ice_grade2_min - 1}): grade 3"


def _capd(findings: IcansFindings, criteria: IcansCriteria) -> tuple[int, str]:
    if findings.unable_to_perform_assessment:
        return 4, "unable to perform the CAPD: grade 4"
    score = findings.capd_score
    if score is None or score == 0:
        return 0, "CAPD score 0: normal"
    if score < criteria.capd_grade3_min:
        return 1, f"CAPD score {score} (1–{criteria.capd_grade3_min - 1}): grade 1"
    return 3, f"CAPD score {score} ({criteria.capd_grade3_min} or more): grade 3"


def grade_icans(findings: IcansFindings, age_years: int, criteria: IcansCriteria) -> ToxicityGrading:
    """ASTCT 2019 ICANS grade: the worst of the ICE or CAPD score, consciousness, seizure, motor and edema.

    Raises ValueError naming every problem when the findings do not fit the patient's age (`icans_findings_problems`).
    """
    problems = icans_findings_problems(findings, age_years, criteria)
    if problems:
        raise ValueError("; ".join(problems))
    scale = icans_scale_for_age(age_years, criteria)
    score = _ice(findings, criteria) if scale == "ICE" else _capd(findings, criteria)
    graded = _graded(
        (
            score,
            _CONSCIOUSNESS[findings.consciousness],
            _seizure(findings.seizure, criteria),
            _MOTOR[findings.motor],
            _EDEMA[findings.cerebral_edema],
        )
    )
    if graded.grade == 0:
        return ToxicityGrading(grade=0, reasons=(f"no ICANS: {score[1]} and no other neurological finding",))
    return graded


# ---------------------------------------------------------------- adverse events and expedited reports

Relatedness = Literal["unrelated", "unlikely", "possible", "probable", "definite"]


class AdverseEvent(FrozenModel):
    """An adverse event graded by CTCAE (v5.0 by default). Grade 5 is a death: serious whatever is ticked."""

    term: AdverseEventTerm
    ctcae_grade: int = Field(ge=1, le=_CTCAE.ctcae_max_grade)
    serious: bool
    related_to_car_t: Relatedness
    onset_date: date
    # When the site became aware of it: the expedited report's clock starts here, not at data entry. Blank: the
    # start of the onset day (the earliest it can be, so a late entry never gains time).
    aware_at: datetime | None = added_later(None)


def ctcae_grade_problems(grade: int, safety: SafetyReporting) -> list[str]:
    """Why `grade` is not a CTCAE grade under this protocol; empty if it is one."""
    top = safety.ctcae_max_grade
    if grade == 0:
        return [f"CTCAE grade 0 means no adverse event: grades run from 1 to {top} (CTCAE v{safety.ctcae_version})"]
    if not 1 <= grade <= top:
        return [f"CTCAE grades run from 1 to {top} (CTCAE v{safety.ctcae_version}): {grade} is not a grade"]
    return []


def _check_astct_grade(grade: int | None, what: str) -> None:
    if grade is not None and not 0 <= grade <= ASTCT_MAX_GRADE:
        raise ValueError(f"{what} grade {grade} is not an ASTCT grade (0 to {ASTCT_MAX_GRADE})")


def expedited_report_reasons(
    *,
    crs_grade: int | None = None,
    icans_grade: int | None = None,
    adverse_event: AdverseEvent | None = None,
    safety: SafetyReporting,
) -> tuple[str, ...]:
    """Why these findings need an expedited report to the sponsor; empty when they do not."""
    _check_astct_grade(crs_grade, "CRS")
    _check_astct_grade(icans_grade, "ICANS")
    hours = safety.expedited_report_hours
    reasons: list[str] = []
    if crs_grade is not None and crs_grade >= safety.expedited_min_crs_grade:
        reasons.append(
            f"CRS grade {crs_grade} (grade {safety.expedited_min_crs_grade} or higher): report within {hours} hours"
        )
    if icans_grade is not None and icans_grade >= safety.expedited_min_icans_grade:
        reasons.append(
            f"ICANS grade {icans_grade} (grade {safety.expedited_min_icans_grade} or higher): "
            f"report within {hours} hours"
        )
    if adverse_event is not None:
        ae = adverse_event
        if ae.ctcae_grade >= safety.ctcae_max_grade:
            reasons.append(
                f"death: {ae.term} (CTCAE grade {ae.ctcae_grade}) is a serious adverse event: "
                f"report within {hours} hours"
            )
        elif ae.serious:
            reasons.append(
                f"serious adverse event: {ae.term} (CTCAE grade {ae.ctcae_grade}): report within {hours} hours"
            )
    return tuple(reasons)
