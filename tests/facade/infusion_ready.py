"""A patient one step from infusion (cells released, lymphodepletion given), for tests of who may infuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.journey import commands as cmd
from domain.roles import Actor
from domain.site_time import site_date
from facade import TrialClient
from simulation import journey_steps as path
from simulation.journey_steps import Milestone, PathPatient
from tests.facade.journeys import RULES, walk_late


async def ready_for_infusion(trial: TrialClient, study_id: str) -> dict[str, Any]:
    """Enrolled, collected, released, lymphodepleted and the bag thawed; the fields of an infusion an hour ago (no
    actor)."""
    infused_at = datetime.now(UTC) - timedelta(hours=1)
    await walk_late(trial, study_id, Milestone.LYMPHODEPLETED, site_date(infused_at, RULES))
    patient = PathPatient(study_id=study_id)
    await trial.record(study_id, path.thaw_before(patient, infused_at).command)
    return path.infusion(patient, infused_at).model_dump(exclude={"actor", "kind", "signature"})


def infusion(actor: Actor, fields: dict[str, Any]) -> cmd.RecordInfusion:
    """The infusion by `actor`, signed by them now (as the API signs once their PIN is checked)."""
    return path.signed(cmd.RecordInfusion(actor=actor, **fields), datetime.now(UTC))
