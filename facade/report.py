"""The trial-level report as a pure function of the patients' summaries: counts, the CR rate (by intention to
treat and per protocol), the secondary endpoints, the stopping rule.

The facade feeds it the trial record's patient summaries; tests feed it hand-built ones.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date

from domain.journey.phases import ExitReason, Phase
from domain.journey.status_view import PatientStatus
from domain.protocol import TrialProtocol
from domain.statistics import ProportionEstimate, estimate_proportion, evaluate_stopping_rule
from domain.toxicity import ASTCT_MAX_GRADE
from facade.models import (
    EndpointAnalysis,
    EnrollmentSummary,
    PrimaryEndpointReport,
    SecondaryEndpoints,
    SurvivalEstimate,
    ToxicitySummary,
    TrialReport,
)
from facade.survival import kaplan_meier
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
        by_protocol_version=dict(sorted(Counter(p.protocol_version for p in everyone).items())),
    )

    endpoint = PrimaryEndpointReport(
        intention_to_treat=_analysis([p for p in everyone if p.infused_on is not None or _enrolled(p)], protocol),
        per_protocol=_analysis(infused, protocol),
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
        secondary_endpoints=secondary_endpoints(infused, protocol),
    )


def _analysis(patients: Sequence[PatientStatus], protocol: TrialProtocol) -> EndpointAnalysis:
    """The domain decides each patient's outcome (relapses, deaths and departures before the assessment are
    "not_cr"); patients not yet at one year stay out of the denominator until they get there."""
    outcomes = Counter(p.primary_endpoint for p in patients)
    complete, assessed = outcomes["cr"], outcomes["cr"] + outcomes["not_cr"]
    return EndpointAnalysis(
        patients=len(patients),
        assessed=assessed,
        complete_responses=complete,
        pending=outcomes["pending"],
        cr_rate=estimate_proportion(complete, assessed, protocol.response.confidence_level),
    )


def secondary_endpoints(infused: Sequence[PatientStatus], protocol: TrialProtocol) -> SecondaryEndpoints:
    criteria = protocol.response
    confidence = criteria.confidence_level
    severe = criteria.severe_toxicity_min_grade

    def rate(successes: int, total: int) -> ProportionEstimate:
        return estimate_proportion(successes, total, confidence)

    mrd = Counter(p.mrd_evaluation for p in infused)
    return SecondaryEndpoints(
        event_free_survival=_survival(infused, protocol, lambda p: _earliest(p.relapse_on, _died_on(p))),
        overall_survival=_survival(infused, protocol, _died_on),
        mrd_negative_at_day_28=rate(mrd["negative"], mrd["negative"] + mrd["positive"] + mrd["not_done"]),
        crs_any_grade=rate(sum(1 for p in infused if p.highest_crs_grade >= 1), len(infused)),
        crs_severe=rate(sum(1 for p in infused if p.highest_crs_grade >= severe), len(infused)),
        icans_any_grade=rate(sum(1 for p in infused if p.highest_icans_grade >= 1), len(infused)),
        icans_severe=rate(sum(1 for p in infused if p.highest_icans_grade >= severe), len(infused)),
        severe_min_grade=severe,
        molecular_recurrences=sum(1 for p in infused if p.molecular_recurrence_on is not None),
    )


def _died_on(patient: PatientStatus) -> date | None:
    """The day of death; in a summary stored before it was kept, read from the exit."""
    if patient.died_on is not None:
        return patient.died_on
    exit = patient.exit
    return exit.on if exit is not None and exit.reason is ExitReason.DEATH else None


def _earliest(*days: date | None) -> date | None:
    return min((d for d in days if d is not None), default=None)


def _survival(
    infused: Sequence[PatientStatus], protocol: TrialProtocol, event_on: Callable[[PatientStatus], date | None]
) -> SurvivalEstimate:
    """Days from infusion to the event, or to the last contact (censored)."""
    days: list[float] = []
    events: list[bool] = []
    for patient in infused:
        assert patient.infused_on is not None
        event = event_on(patient)
        end = event if event is not None else _last_contact(patient)
        days.append(float((end - patient.infused_on).days))
        events.append(event is not None)
    response = protocol.response
    return kaplan_meier(days, events, response.confidence_level, response.survival_landmark_days)


def _last_contact(patient: PatientStatus) -> date:
    """The last contact; in a summary stored before it was kept, the latest date the summary holds."""
    if patient.last_contact_on is not None:
        return patient.last_contact_on
    known = [patient.infused_on, patient.relapse_on, patient.exit.on if patient.exit else None]
    known += [v.done_on for v in patient.visits]
    return max(d for d in known if d is not None)
