"""Patients driven through the trial client on the real clock along the shared path (simulation/journey_steps.py):
every step dated in the past, as staff entering records late would date them, so a journey reaches infusion in a
few dozen milliseconds of commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from pydantic import SecretStr

from domain.journey import commands as cmd
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from domain.toxicity import CrsFindings
from facade import TrialClient
from facade.signing import SigningRequest
from simulation.journey_steps import (
    STAFF_HOUR,
    Milestone,
    PathPatient,
    Step,
    earlier_today,
    entered_late,
    path_to,
    printed_name,
    send,
    staff_day,
)
from tests.domain.journey_driver import COORDINATOR, PHYSICIAN, crs_findings, screening
from workflows.journey_messages import RecordResult

RULES = PROTOCOL_V1.schedule
SIGNING_PIN = "8642-1357"  # every signer's PIN in the facade tests

# Two criteria a child can fail at once, each with its own reason.
SCREEN_FAILURE: dict[str, Any] = {"prior_car_t": True, "performance_score": 30}
GRADE_3_CRS = crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1)
GRADE_1_CRS = crs_findings(max_temperature_c=38.3)


def site_tomorrow() -> date:
    """The site's next calendar day: a date always in the future."""
    return site_date(datetime.now(UTC), RULES) + timedelta(days=1)


def today() -> date:
    """The site's latest day whose staff hour has passed (yesterday in its small hours): steps dated on it at
    STAFF_HOUR are never in the future."""
    return staff_day(datetime.now(UTC), PROTOCOL_V1)


def enrollment(study_id: str, screened_on: date | None = None, **overrides: Any) -> cmd.EnrollPatient:
    """A nine-year-old on the day of screening; eligible unless `overrides` say otherwise."""
    screened_on = screened_on or today()
    return cmd.EnrollPatient(
        actor=COORDINATOR,
        study_id=study_id,
        screening=screening(
            screening_date=screened_on, date_of_birth=screened_on - timedelta(days=9 * 365 + 30), **overrides
        ),
    )


async def to_apheresis(trial: TrialClient, study_id: str, screened_on: date | None = None) -> None:
    screened_on = screened_on or today()
    await trial.enroll(enrollment(study_id, screened_on))
    enrolled_at = site_moment(screened_on, STAFF_HOUR, RULES)
    steps = path_to(Milestone.CONSENTED, PathPatient(study_id=study_id), enrolled_at, PROTOCOL_V1)
    await send(steps, partial(trial.record, study_id))


async def walk_late(
    trial: TrialClient, study_id: str, milestone: Milestone, day_zero: date, infused_at: datetime | None = None
) -> list[Step]:
    """Enrolled, then the shared path to `milestone` for an infusion on `day_zero`, every step sent now; the steps."""
    steps = entered_late(milestone, PathPatient(study_id=study_id), day_zero, PROTOCOL_V1, infused_at=infused_at)
    await trial.enroll(enrollment(study_id, site_date(steps[0].at, RULES)))
    await send(steps, partial(trial.record, study_id))
    return steps


async def to_lymphodepletion(trial: TrialClient, study_id: str, day_zero: date) -> date:
    """Collected and released before `day_zero`, lymphodepletion prescribed to start five days before it."""
    *_, prescribed = await walk_late(trial, study_id, Milestone.PRESCRIBED, day_zero)
    assert isinstance(prescribed.command, cmd.PrescribeLymphodepletion)
    return prescribed.command.planned_start_on


async def signed_record(trial: TrialClient, study_id: str, command: cmd.StaffCommand) -> RecordResult:
    """Record `command` signed through the facade's signing path: its actor's PIN (set here, or set again) checked,
    the signature made with their printed name."""
    user = command.actor.user_id
    pin = SecretStr(SIGNING_PIN)
    await trial.signing.set_pin(user, pin, current_pin=pin)  # the current PIN is ignored until one is set
    signing = SigningRequest(pin=pin, printed_name=printed_name(user))
    return await trial.record(study_id, command, signing=signing)


async def infused(trial: TrialClient, study_id: str, crs: CrsFindings | None = None) -> datetime:
    """The whole path to an infusion an hour ago (since the site's midnight if that is sooner), then (if given) a CRS
    assessment now, signed; the infusion's time."""
    infused_at = earlier_today(datetime.now(UTC), timedelta(hours=1), PROTOCOL_V1)
    await walk_late(trial, study_id, Milestone.INFUSED, site_date(infused_at, RULES), infused_at)
    if crs is not None:
        assessment = cmd.AssessCrs(actor=PHYSICIAN, assessed_at=datetime.now(UTC), findings=crs)
        await signed_record(trial, study_id, assessment)
    return infused_at


def since(start: datetime, count: int) -> list[datetime]:
    """`count` moments, earliest first, evenly spaced after `start` and before now: steps after an infusion that may
    have been only moments ago (just after the site's midnight, `infused` infuses no earlier than it)."""
    gap = (datetime.now(UTC) - start) / (count + 1)
    return [start + gap * number for number in range(1, count + 1)]
