"""Patients driven through the trial client on the real clock along the shared path (each step dated in the past,
as in tests/facade/journeys.py), with every accepted command's answer kept for the record checks."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from temporalio.client import Client

from domain.journey import commands as cmd
from domain.protocol import PROTOCOL_V1
from domain.site_time import site_date, site_moment
from facade import TrialClient
from records import EventStore
from security.keys import SealKeyring
from simulation import journey_steps as path
from simulation.journey_steps import Milestone, PathPatient, staff_day
from tests.domain.journey_driver import APHERESIS
from tests.facade.journeys import walk_late
from workflows.journey_messages import RecordResult

RULES = PROTOCOL_V1.schedule
CUSTODY_TO_MANUFACTURING: tuple[cmd.CustodyStep, ...] = (
    "shipped_to_manufacturer",
    "received_by_manufacturer",
    "manufacturing_started",
)


class RememberingTrialClient(TrialClient):
    """The trial client, remembering what each accepted command produced (per study id)."""

    def __init__(self, temporal: Client, store: EventStore, seal_keys: SealKeyring | None = None) -> None:
        super().__init__(temporal, store, seal_keys=seal_keys)
        self.accepted: defaultdict[str, list[RecordResult]] = defaultdict(list)

    async def record(self, study_id: str, command: cmd.StaffCommand, update_id: str | None = None) -> RecordResult:
        result = await super().record(study_id, command, update_id)
        self.accepted[study_id].append(result)
        return result


async def infused_at(trial: TrialClient, study_id: str, infused: datetime) -> None:
    """The whole path to an infusion at `infused` (in the past), every step dated before it."""
    await walk_late(trial, study_id, Milestone.INFUSED, site_date(infused, RULES), infused)


def site_today() -> date:
    return staff_day(datetime.now(UTC), PROTOCOL_V1)


def apheresis(collected_on: date) -> cmd.RecordApheresis:
    return cmd.RecordApheresis(actor=APHERESIS, collected_on=collected_on)


async def release_product(trial: TrialClient, study_id: str, released_on: date) -> RecordResult:
    """A later step of a journey waiting in manufacturing: the cells' hand-offs to the manufacturer the day before
    (the chain of custody), then the product's release, recorded."""
    patient = PathPatient(study_id=study_id)
    day_before = site_moment(released_on - timedelta(days=1), path.STAFF_HOUR, RULES)
    for hours, step in enumerate(CUSTODY_TO_MANUFACTURING):
        await trial.record(study_id, path.hand_off(patient, step, day_before + timedelta(hours=hours)))
    release = path.product_release(patient, released_on)
    result = await trial.record(study_id, path.signed(release, datetime.now(UTC)))
    assert [event.type for event in result.events] == ["product_released"]
    return result
