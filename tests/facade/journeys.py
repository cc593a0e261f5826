"""Patients driven through the trial client on the real clock: every step dated in the past, as staff entering
records late would date them, so a journey reaches infusion in a few dozen milliseconds of commands."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from domain.journey import commands as cmd
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from domain.toxicity import CrsFindings
from facade import TrialClient
from tests.domain.journey_driver import (
    APHERESIS,
    CELL_LAB,
    COORDINATOR,
    INVESTIGATOR,
    PHARMACY,
    PHYSICIAN,
    crs_findings,
    screening,
)

RULES = PROTOCOL_V1.schedule
T = TypeVar("T")

# Two criteria a child can fail at once, each with its own reason.
SCREEN_FAILURE: dict[str, Any] = {"prior_car_t": True, "performance_score": 30}
GRADE_3_CRS = crs_findings(max_temperature_c=39.4, hypotension=True, vasopressors_excluding_vasopressin=1)
GRADE_1_CRS = crs_findings(max_temperature_c=38.3)


def today() -> date:
    return site_date(datetime.now(UTC), RULES)


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
    await trial.record(study_id, cmd.ConfirmEligibility(actor=INVESTIGATOR))
    await trial.record(
        study_id,
        cmd.RecordConsent(
            actor=INVESTIGATOR,
            guardian_consent_signed_on=screened_on,
            consent_form_version="ICF v2.1",
            child_assent_obtained=True,
        ),
    )


async def to_lymphodepletion(trial: TrialClient, study_id: str, day_zero: date) -> date:
    """Collected and released before `day_zero`, lymphodepletion prescribed to start six days before it."""
    screened_on = day_zero - timedelta(days=40)
    await to_apheresis(trial, study_id, screened_on)
    await trial.record(study_id, cmd.RecordApheresis(actor=APHERESIS, collected_on=screened_on + timedelta(days=1)))
    coi = (await trial.status(study_id)).chain_of_identity
    assert coi is not None
    await trial.record(
        study_id,
        cmd.RecordProductRelease(
            actor=CELL_LAB,
            product_label_coi=coi,
            lot_number="SCV-2026-0042",
            total_viable_car_cells=2.0e8,
            released_on=day_zero - timedelta(days=10),
        ),
    )
    start = day_zero - timedelta(days=6)  # the last dose three days before infusion: inside the window
    await trial.record(
        study_id,
        cmd.PrescribeLymphodepletion(
            actor=PHYSICIAN, height_cm=120, weight_kg=22, creatinine_clearance_ml_min_173m2=110, planned_start_on=start
        ),
    )
    return start


async def infused(trial: TrialClient, study_id: str, crs: CrsFindings | None = None) -> None:
    """The whole path to an infusion an hour ago, then (if given) a CRS assessment now."""
    infused_at = datetime.now(UTC) - timedelta(hours=1)
    start = await to_lymphodepletion(trial, study_id, site_date(infused_at, RULES))
    for day in range(1, 5):
        given_at = site_moment(start + timedelta(days=day - 1), 10, RULES)
        doses = [("fludarabine", 25.7)] + ([("cyclophosphamide", 428.0)] if day <= 2 else [])
        for drug, mg in doses:
            await trial.record(
                study_id,
                cmd.RecordLymphodepletionDose(actor=PHARMACY, drug=drug, day_number=day, dose_mg=mg, given_at=given_at),
            )
    coi = (await trial.status(study_id)).chain_of_identity
    assert coi is not None
    await trial.record(
        study_id,
        cmd.RecordInfusion(
            actor=PHYSICIAN,
            infused_at=infused_at,
            product_label_coi=coi,
            cells_infused=6.6e7,
            active_uncontrolled_infection=False,
            hours_since_last_fever=None,
            uncontrolled_crs_from_prior_therapy=False,
            tocilizumab_doses_on_site=2,
        ),
    )
    if crs is not None:
        await trial.record(study_id, cmd.AssessCrs(actor=PHYSICIAN, assessed_at=datetime.now(UTC), findings=crs))
