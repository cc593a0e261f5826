"""What a journey's events tell the trial: a correction that removes the patient's DLT (a grade-3 CRS corrected to
grade 2, a death's cause corrected) is a `dlt_withdrawn` report, its id stable so a resend counts once."""

from __future__ import annotations

from datetime import date, timedelta

from domain.journey import commands as cmd
from domain.journey.events import Event
from domain.trial.journey_reports import trial_reports
from domain.trial.reports import ReportKind
from simulation import journey_steps as path
from simulation.journey_steps import Milestone
from tests.domain.journey_driver import PHYSICIAN, JourneyDriver, crs_findings

GRADE_3 = crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1)
GRADE_2 = crs_findings(max_temperature_c=39.4, hypotension=True)


def _reported(journey: JourneyDriver, command: cmd.Command) -> tuple[list[Event], list[tuple[str, ReportKind]]]:
    before = journey.state
    events = journey.do(command)
    reports = trial_reports(before, journey.state, tuple(events), journey.protocol)
    return events, [(r.event_id, r.kind) for r in reports]


def _correcting(command: cmd.Command, sequence: int) -> cmd.Command:
    return path.amended(command, correction=cmd.Correction(supersedes_sequence=sequence, reason="charted in error"))


def test_a_grade_3_crs_corrected_to_grade_2_withdraws_the_dlt_and_back_to_grade_3_reports_a_new_one() -> None:
    journey = JourneyDriver("TF-701")
    journey.walk_to(Milestone.INFUSED)
    journey.advance(days=3)
    crs = cmd.AssessCrs(actor=PHYSICIAN, assessed_at=journey.now, findings=GRADE_3)
    [first, *rest], reports = _reported(journey, crs)
    last = [first, *rest][-1]  # the report is named by the last event its command recorded
    assert reports == [(f"TF-701/{last.sequence}/dlt", ReportKind.DOSE_LIMITING_TOXICITY)]

    journey.advance(hours=2)
    graded_2 = _correcting(path.amended(crs, findings=GRADE_2), first.sequence)
    [*_, correction], reports = _reported(journey, graded_2)
    assert reports == [(f"TF-701/{correction.sequence}/dlt-withdrawn", ReportKind.DLT_WITHDRAWN)]

    journey.advance(hours=2)
    [again_first, *more], reports = _reported(journey, _correcting(crs, correction.sequence))
    again = [again_first, *more][-1]
    assert reports == [(f"TF-701/{again.sequence}/dlt", ReportKind.DOSE_LIMITING_TOXICITY)]


def test_a_death_whose_cause_is_corrected_to_unrelated_withdraws_the_dlt() -> None:
    journey = JourneyDriver("TF-702")
    journey.walk_to(Milestone.INFUSED)
    journey.advance(days=5)
    died_on: date = journey.today - timedelta(days=1)
    death = cmd.RecordDeath(actor=PHYSICIAN, died_on=died_on, cause="multi-organ failure", treatment_related=True)
    [died, *after], reports = _reported(journey, death)
    last_of_death = [died, *after][-1]
    assert (f"TF-702/{last_of_death.sequence}/dlt", ReportKind.DOSE_LIMITING_TOXICITY) in reports

    journey.advance(hours=1)
    unrelated = path.amended(death, cause="sepsis unrelated to the cells", treatment_related=False)
    [*_, corrected], reports = _reported(journey, _correcting(unrelated, died.sequence))
    assert reports == [(f"TF-702/{corrected.sequence}/dlt-withdrawn", ReportKind.DLT_WITHDRAWN)]
