"""A whole journey entered late, for end-to-end tests on a real clock: every staff step from screening to the
one-year marrow, dated in the past (screening about 14 months ago), as a site would enter its paper records.

The steps are decided first by the pure decider on a clock that moves through those months, so a script the
protocol no longer accepts fails here with its reasons, not somewhere in a server.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from domain.journey import commands as cmd
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from simulation.cohort import crs_findings_for, icans_findings_for, marrow_for
from tests.domain.journey_driver import COORDINATOR, LAB, NURSE, PHYSICIAN, JourneyDriver

# Far enough back that the one-year assessment window has opened and closed before `now`.
SCREENED_DAYS_AGO = 430
CRS_GRADE_ON_DAY_2 = 1  # one mild CRS in the daily rounds, so the report's grade counts have something to count


def late_journey(study_id: str, now: datetime) -> tuple[cmd.EnrollPatient, list[cmd.StaffCommand]]:
    """The enrollment and every staff command after it, in the order staff would enter them, each dated before
    `now`: the path to infusion, daily CRS and ICANS rounds to day 14, every follow-up visit whose day has passed
    (the MRD marrow at day 28, chemotherapy resumed, a complete remission at month 12)."""
    driver = JourneyDriver(study_id)
    driver.now = now - timedelta(days=SCREENED_DAYS_AGO)
    entered: list[cmd.Command] = []
    decide_and_keep = driver.do

    def keep(command: cmd.Command) -> object:
        entered.append(command)
        return decide_and_keep(command)

    driver.do = keep  # type: ignore[method-assign]
    driver.enroll = functools.partial(JourneyDriver.enroll, driver, screening_date=driver.today)  # type: ignore[method-assign]
    driver.to_follow_up()

    infusion = driver.state.infusion
    assert infusion is not None
    steps: list[tuple[datetime, str]] = [
        (driver.at_site(infusion.day_zero + timedelta(days=day), 10), "rounds")
        for day in range(1, PROTOCOL_V1.safety.daily_toxicity_assessment_until_day + 1)
    ]
    for visit in patient_status(driver.state, PROTOCOL_V1, driver.now).visits:
        moment = driver.at_site(visit.target_date, 11)
        if moment < now - timedelta(days=1):
            steps.append((moment, visit.code))
    for moment, step in sorted(steps):
        driver.run_timers_until(moment)
        for command in _step(step, driver):
            driver.do(command)

    enrollment, *staff = [c for c in entered if c.actor.role is not Role.SYSTEM]
    assert isinstance(enrollment, cmd.EnrollPatient)
    return enrollment, staff  # type: ignore[return-value]


def _step(step: str, driver: JourneyDriver) -> list[cmd.Command]:
    today = driver.today
    if step == "rounds":
        day = (today - driver.state.infusion.day_zero).days  # type: ignore[union-attr]
        crs = CRS_GRADE_ON_DAY_2 if day == 2 else 0
        return [
            cmd.AssessCrs(actor=NURSE, assessed_at=driver.now, findings=crs_findings_for(crs, PROTOCOL_V1)),
            cmd.AssessIcans(actor=NURSE, assessed_at=driver.now, findings=icans_findings_for(0)),
        ]
    if step == "MRD":
        return [cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow_for(today, PROTOCOL_V1, response="cr"))]
    if step == "CHEMO":
        return [cmd.RecordChemotherapyResumed(actor=PHYSICIAN, resumed_on=today, from_protocol_step=True)]
    visit: list[cmd.Command] = [cmd.RecordVisit(actor=COORDINATOR, visit_code=step, visit_date=today)]
    if step == f"M{PROTOCOL_V1.response.primary_endpoint_months}":
        visit.append(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow_for(today, PROTOCOL_V1, response="cr")))
    return visit
