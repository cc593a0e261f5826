"""The chain of custody on the dev server, through the trial client: a hand-off with the wrong label is refused; a
cold-chain excursion holds the infusion until the cell lab's signed decision; an infusion more than 30 minutes
after the end of thawing needs the investigator's signed decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from domain.journey import commands as cmd
from domain.journey.phases import Phase
from domain.site_time import site_date
from facade import CommandRefused, TrialClient
from simulation import journey_steps as path
from simulation.journey_steps import Milestone, PathPatient, Step, entered_late, send
from tests.domain.journey_driver import CELL_LAB, INVESTIGATOR, PHYSICIAN
from tests.facade.journeys import RULES, enrollment, signed_record
from tests.servers import Stack


async def _lymphodepleted(trial: TrialClient, study_id: str, infused_at: datetime, warmest_c: float) -> PathPatient:
    """Entered late up to the last lymphodepletion dose, the shipper's logger at `warmest_c` at the site."""
    patient = PathPatient(study_id=study_id)
    steps = entered_late(Milestone.LYMPHODEPLETED, patient, site_date(infused_at, RULES), infused_at=infused_at)

    def logged(step: Step) -> Step:
        command = step.command
        if isinstance(command, cmd.RecordCustodyHandOff) and command.step == "received_at_site":
            return Step(step.at, path.amended(command, logger_max_temperature_c=warmest_c))
        return step

    await trial.enroll(enrollment(study_id, site_date(steps[0].at, RULES)))
    await send([logged(step) for step in steps], partial(trial.record, study_id))
    return patient


def _infusion(patient: PathPatient, infused_at: datetime) -> cmd.RecordInfusion:
    return path.amended(path.infusion(patient, infused_at), actor=PHYSICIAN)


async def test_a_wrong_label_is_refused_and_an_excursion_holds_the_infusion_until_the_cell_lab_decides(
    stack: Stack,
) -> None:
    trial = stack.trial
    infused_at = datetime.now(UTC) - timedelta(hours=1)
    patient = await _lymphodepleted(trial, "CU-1001", infused_at, warmest_c=-130.0)
    status = await trial.status("CU-1001")
    assert status.custody is not None and status.custody.step == "stored"
    assert status.custody.hold == "temperature excursion (-130 °C): awaiting the cell lab's decision"

    thaw = path.thaw_before(patient, infused_at).command
    before = stack.store.last_sequence("CU-1001")
    other = path.chain_of_identity(PathPatient(study_id="CU-1002"))
    with pytest.raises(CommandRefused) as wrong:
        await trial.record("CU-1001", path.amended(thaw, product_label_coi=other))
    assert wrong.value.reasons == (
        "STOP: the label does not match this patient's cells: the bag belongs to CU-1002 collection 1, not to this "
        "patient's CU-1001 collection 1",
    )
    assert stack.store.last_sequence("CU-1001") == before
    await trial.record("CU-1001", thaw)

    with pytest.raises(CommandRefused) as held:
        await signed_record(trial, "CU-1001", _infusion(patient, infused_at))
    assert held.value.reasons == (
        "hold the infusion: the shipper's logger read -130 °C, warmer than -150 °C; the cell lab must decide on the "
        "product first",
    )
    decision = cmd.DecideTemperatureExcursion(actor=CELL_LAB, decision="release_as_deviation", reason="validated")
    decided = await signed_record(trial, "CU-1001", decision)
    assert decided.events[0].signature is not None
    await signed_record(trial, "CU-1001", _infusion(patient, infused_at))
    status = await trial.status("CU-1001")
    assert status.phase is Phase.TOXICITY_OBSERVATION
    assert status.custody is not None and status.custody.step == "infused"
    assert status.deviations == (
        "the shipper's logger read -130 °C, warmer than -150 °C (released for infusion as a deviation by the cell lab)",
    )


async def test_an_infusion_late_after_the_thaw_needs_the_investigators_decision(stack: Stack) -> None:
    trial = stack.trial
    infused_at = datetime.now(UTC) - timedelta(hours=1)
    patient = await _lymphodepleted(trial, "CU-1003", infused_at, warmest_c=-180.0)
    thaw = path.thaw_before(patient, infused_at - timedelta(minutes=40)).command  # 55 minutes before
    await trial.record("CU-1003", thaw)
    status = await trial.status("CU-1003")
    assert status.custody is not None and (status.custody.step, status.custody.since) == ("thawed", thaw.at)

    with pytest.raises(CommandRefused) as late:
        await signed_record(trial, "CU-1003", _infusion(patient, infused_at))
    assert late.value.reasons == (
        "the infusion started 55 minutes after the end of thawing, more than 30: the investigator must decide first",
    )
    approval = cmd.ApproveLateInfusionAfterThaw(actor=INVESTIGATOR, reason="line occluded, replaced")
    approved = await signed_record(trial, "CU-1003", approval)
    assert approved.events[0].signature is not None
    await signed_record(trial, "CU-1003", _infusion(patient, infused_at))
    status = await trial.status("CU-1003")
    assert status.deviations == (
        "the infusion started 55 minutes after the end of thawing, more than 30 (approved by the investigator)",
    )
