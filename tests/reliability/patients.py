"""Patients driven through the trial client on the real clock (each step dated in the past, as in
tests/facade/journeys.py), with every accepted command's answer kept for the record checks."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from temporalio.client import Client

from domain.journey import commands as cmd
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from facade import TrialClient
from records import EventStore
from tests.domain.journey_driver import APHERESIS, CELL_LAB, PHARMACY, PHYSICIAN
from tests.facade.journeys import to_lymphodepletion
from workflows.journey_messages import RecordResult

RULES = PROTOCOL_V1.schedule


class RememberingTrialClient(TrialClient):
    """The trial client, remembering what each accepted command produced (per study id)."""

    def __init__(self, temporal: Client, store: EventStore) -> None:
        super().__init__(temporal, store)
        self.accepted: defaultdict[str, list[RecordResult]] = defaultdict(list)

    async def record(self, study_id: str, command: cmd.StaffCommand, update_id: str | None = None) -> RecordResult:
        result = await super().record(study_id, command, update_id)
        self.accepted[study_id].append(result)
        return result


def lymphodepletion_doses(start_on: date) -> list[cmd.RecordLymphodepletionDose]:
    """The four days of fludarabine (and two of cyclophosphamide) from `start_on`, at 10:00 site time."""
    doses = []
    for day in range(1, 5):
        given_at = site_moment(start_on + timedelta(days=day - 1), 10, RULES)
        for drug, mg in [("fludarabine", 25.7)] + ([("cyclophosphamide", 428.0)] if day <= 2 else []):
            doses.append(
                cmd.RecordLymphodepletionDose(actor=PHARMACY, drug=drug, day_number=day, dose_mg=mg, given_at=given_at)
            )
    return doses


def infusion(coi: str, infused_at: datetime) -> cmd.RecordInfusion:
    return cmd.RecordInfusion(
        actor=PHYSICIAN,
        infused_at=infused_at,
        product_label_coi=coi,
        cells_infused=6.6e7,
        active_uncontrolled_infection=False,
        hours_since_last_fever=None,
        uncontrolled_crs_from_prior_therapy=False,
        tocilizumab_doses_on_site=2,
    )


async def infused_at(trial: TrialClient, study_id: str, infused: datetime) -> None:
    """The whole path to an infusion at `infused` (in the past), every step dated before it."""
    start = await to_lymphodepletion(trial, study_id, site_date(infused, RULES))
    for dose in lymphodepletion_doses(start):
        await trial.record(study_id, dose)
    coi = (await trial.status(study_id)).chain_of_identity
    assert coi is not None
    await trial.record(study_id, infusion(coi, infused))


def site_today() -> date:
    return site_date(datetime.now(UTC), RULES)


def apheresis(collected_on: date) -> cmd.RecordApheresis:
    return cmd.RecordApheresis(actor=APHERESIS, collected_on=collected_on)


async def release_product(trial: TrialClient, study_id: str, released_on: date) -> RecordResult:
    """A later step of a journey waiting in manufacturing: the product's release, recorded."""
    coi = (await trial.status(study_id)).chain_of_identity
    assert coi is not None
    command = cmd.RecordProductRelease(
        actor=CELL_LAB,
        product_label_coi=coi,
        lot_number="SCV-2026-0042",
        total_viable_car_cells=2.0e8,
        released_on=released_on,
    )
    result = await trial.record(study_id, command)
    assert [event.type for event in result.events] == ["product_released"]
    return result
