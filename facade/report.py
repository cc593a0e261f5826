"""The trial-level report as a pure function of the patients' summaries: counts, the CR rate, the stopping rule.

The facade feeds it the trial record's patient summaries; tests feed it hand-built ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from domain.journey.phases import ExitReason, Phase
from domain.journey.views import PatientStatus
from domain.protocol import TrialProtocol
from domain.statistics import estimate_proportion, evaluate_stopping_rule
from domain.toxicity import ASTCT_MAX_GRADE
from facade.models import EnrollmentSummary, PrimaryEndpointReport, ToxicitySummary, TrialReport
from records import PatientSummary

ENROLLED_PHASES = tuple(phase for phase in Phase if phase is not Phase.NOT_ENROLLED)


def status_from_summary(summary: PatientSummary) -> PatientStatus:
    """A stored patient summary read back as the domain's view (the projection adds fields such as `as_of`)."""
    fields = PatientStatus.model_fields
    return PatientStatus.model_validate({k: v for k, v in summary.summary.items() if k in fields})


_NOT_YET_ENROLLED = frozenset({Phase.NOT_ENROLLED, Phase.SCREENING})


def _enrolled(patient: PatientStatus) -> bool:
    """Eligibility confirmed by the investigator; judged by the phase in a summary stored before that was kept (a
    patient who left the study during screening for another reason then counts as enrolled)."""
    if patient.enrolled is not None:
        return patient.enrolled
    screen_failed = patient.exit is not None and patient.exit.reason is ExitReason.SCREEN_FAILURE
    return patient.phase not in _NOT_YET_ENROLLED and not screen_failed


def _grade_counts(grades: Iterable[int]) -> dict[int, int]:
    counted = Counter(grades)
    return {grade: counted.get(grade, 0) for grade in range(max([ASTCT_MAX_GRADE, *counted]) + 1)}


def build_report(patients: Iterable[PatientStatus], protocol: TrialProtocol) -> TrialReport:
    """Screened, screen failures, enrolled and infused, enrollment by phase, CR at one year with its exact CI,
    CRS/ICANS grade counts, the stopping rule."""
    everyone = list(patients)
    infused = [p for p in everyone if p.infused_on is not None]

    phases = Counter(p.phase for p in everyone)
    exits = Counter(p.exit.reason for p in everyone if p.exit is not None)
    enrollment = EnrollmentSummary(
        patients=len(everyone),
        by_phase={phase: phases.get(phase, 0) for phase in ENROLLED_PHASES},
        screen_failures=exits.get(ExitReason.SCREEN_FAILURE, 0),
        exits_by_reason={reason: exits.get(reason, 0) for reason in ExitReason},
        screened=len(everyone),
        screening_attempts=sum(p.screening_attempt for p in everyone),
        enrolled=sum(1 for p in everyone if _enrolled(p)),
        infused=len(infused),
    )

    # The domain decides each patient's outcome (deaths and departures before the assessment are "not_cr");
    # patients not yet at one year stay out of the denominator until they get there.
    outcomes = Counter(p.primary_endpoint for p in infused)
    complete, assessed = outcomes["cr"], outcomes["cr"] + outcomes["not_cr"]
    endpoint = PrimaryEndpointReport(
        infused=len(infused),
        assessed=assessed,
        complete_responses=complete,
        pending=outcomes["pending"],
        cr_rate=estimate_proportion(complete, assessed, protocol.response.confidence_level),
    )

    dose_limiting = sum(1 for p in infused if p.dose_limiting_toxicity)
    toxicity = ToxicitySummary(
        patients=len(infused),
        highest_crs_grade=_grade_counts(p.highest_crs_grade for p in infused),
        highest_icans_grade=_grade_counts(p.highest_icans_grade for p in infused),
        dose_limiting_toxicities=dose_limiting,
    )
    return TrialReport(
        protocol_version=protocol.version,
        enrollment=enrollment,
        primary_endpoint=endpoint,
        toxicity=toxicity,
        stopping_rule=evaluate_stopping_rule(dose_limiting, len(infused), protocol.stopping_rule),
    )
