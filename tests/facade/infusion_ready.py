"""A patient one step from infusion (cells released, lymphodepletion given), for tests of who may infuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.journey import commands as cmd
from domain.roles import Actor
from domain.site_time import site_date, site_moment
from facade import TrialClient
from tests.domain.journey_driver import PHARMACY
from tests.facade.journeys import RULES, to_lymphodepletion


async def ready_for_infusion(trial: TrialClient, study_id: str) -> dict[str, Any]:
    """Enrolled, collected, released and lymphodepleted; the fields of an infusion an hour ago (no actor)."""
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
    return {
        "infused_at": infused_at,
        "product_label_coi": coi,
        "cells_infused": 6.6e7,
        "active_uncontrolled_infection": False,
        "hours_since_last_fever": None,
        "uncontrolled_crs_from_prior_therapy": False,
        "tocilizumab_doses_on_site": 2,
    }


def infusion(actor: Actor, fields: dict[str, Any]) -> cmd.RecordInfusion:
    return cmd.RecordInfusion(actor=actor, **fields)
