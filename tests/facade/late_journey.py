"""A whole journey entered late, for end-to-end tests on a real clock: every staff step from screening to the
one-year marrow, dated in the past (screening about 14 months ago), as a site would enter its paper records.

The steps are decided first by the pure decider on a clock that moves through those months, so a script the
protocol no longer accepts fails here with its reasons, not somewhere in a server.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain.journey import commands as cmd
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from simulation.cohort import crs_findings_for, icans_findings_for, marrow_for
from simulation.journey_steps import DecidedJourney, Milestone, PathPatient, path_to, scheduled_item
from tests.domain.journey_driver import NURSE
from tests.facade.journeys import RULES, enrollment

# Far enough back that the one-year assessment window has opened and closed before `now`.
SCREENED_DAYS_AGO = 430
CRS_GRADE_ON_DAY_2 = 1  # one mild CRS in the daily rounds, so the report's grade counts have something to count


def late_journey(study_id: str, now: datetime) -> tuple[cmd.EnrollPatient, list[cmd.StaffCommand]]:
    """The enrollment and every staff command after it, in the order staff would enter them, each dated before
    `now`: the shared path to infusion, daily CRS and ICANS rounds to day 14, every follow-up visit whose day has
    passed (the MRD marrow at day 28, chemotherapy resumed, a complete remission at month 12)."""
    patient = PathPatient(study_id=study_id)
    enrolled_at = now - timedelta(days=SCREENED_DAYS_AGO)
    journey = DecidedJourney(study_id, enrolled_at, PROTOCOL_V1)
    enrolled = enrollment(study_id, site_date(enrolled_at, RULES))
    journey.do(enrolled)
    to_infusion = path_to(Milestone.INFUSED, patient, enrolled_at, PROTOCOL_V1)
    journey.walk(to_infusion)
    staff: list[cmd.StaffCommand] = [step.command for step in to_infusion]

    infusion = journey.state.infusion
    assert infusion is not None
    steps: list[tuple[datetime, str]] = [
        (site_moment(infusion.day_zero + timedelta(days=day), 10, RULES), "rounds")
        for day in range(1, PROTOCOL_V1.safety.daily_toxicity_assessment_until_day + 1)
    ]
    for visit in patient_status(journey.state, PROTOCOL_V1, journey.now).visits:
        moment = site_moment(visit.target_date, 11, RULES)
        if moment < now - timedelta(days=1):
            steps.append((moment, visit.code))
    for moment, step in sorted(steps):
        journey.run_timers_until(moment)
        for command in _step(step, patient, site_date(moment, RULES), infusion.day_zero, moment):
            journey.do(command)
            staff.append(command)
    return enrolled, staff


def _step(step: str, patient: PathPatient, today: date, day_zero: date, now: datetime) -> list[cmd.StaffCommand]:
    if step == "rounds":
        crs = CRS_GRADE_ON_DAY_2 if (today - day_zero).days == 2 else 0
        return [
            cmd.AssessCrs(actor=NURSE, assessed_at=now, findings=crs_findings_for(crs, PROTOCOL_V1)),
            cmd.AssessIcans(actor=NURSE, assessed_at=now, findings=icans_findings_for(0)),
        ]
    endpoint = f"M{PROTOCOL_V1.response.primary_endpoint_months}"
    marrow = marrow_for(today, PROTOCOL_V1, response="cr") if step in ("MRD", endpoint) else None
    return scheduled_item(patient, step, today, PROTOCOL_V1, marrow)
