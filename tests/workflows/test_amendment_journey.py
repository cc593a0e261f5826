"""The amendment drill on the time-skipping server (docs/amendments.md): journeys enrolled under 1.0 as before
amendments existed (no version in their start) run on this code; a signed re-consent moves one onto 1.1 once
nothing of theirs is in flight (the day-60 MRD due, month 3 at ± 14 days), a decliner stays on 1.0, and a screening
under 1.1 applies its new exclusion. The recorded histories' replay is tests/workflows/test_replay.py."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from domain.journey import commands as cmd
from domain.journey.calendar import MRD2_CODE
from domain.journey.phases import Phase
from records import EventStore
from tests.domain.journey_driver import INVESTIGATOR, LAB, marrow
from tests.workflows.journey_client import JourneyClient

Env = tuple[WorkflowEnvironment, EventStore, str]


def _journey(env: Env, study_id: str) -> JourneyClient:
    temporal, _, task_queue = env
    return JourneyClient(temporal.client, task_queue, study_id, env=temporal)


def _events(env: Env, study_id: str) -> list[tuple[str, str]]:
    _, store, _ = env
    return [(e.event_type, e.protocol_version) for e in store.events_for(study_id)]


def _reconsent(accepted: bool, on: date) -> cmd.RecordReconsent:
    return cmd.RecordReconsent(
        actor=INVESTIGATOR, protocol_version="1.1", accepted=accepted, answered_on=on, consent_form_version="ICF v1.1"
    )


async def _to_day_28_mrd(journey: JourneyClient) -> date:
    """Enrolled as before amendments (no version in the start), infused, the day-28 MRD done: day 0."""
    await journey.to_infusion()
    day_zero = await journey.infuse()
    status = await journey.status()
    assert status.protocol_version == "1.0"
    assert MRD2_CODE not in {v.code for v in status.visits}
    await journey.move_to(day_zero + timedelta(days=28), hour=10)
    await journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(await journey.today())))
    return day_zero


async def test_a_reconsented_1_0_patient_moves_onto_1_1(journey_env: Env) -> None:
    moved = _journey(journey_env, "TFA-18001")
    day_zero = await _to_day_28_mrd(moved)
    await moved.do(_reconsent(True, await moved.today()))

    status = await moved.status()  # settled: the move came once nothing was in flight
    assert status.protocol_version == "1.1"
    visits = {v.code: v for v in status.visits}
    assert visits[MRD2_CODE].target_date == day_zero + timedelta(days=60)
    assert (visits["M3"].window_closes - visits["M3"].target_date).days == 14
    kinds = _events(journey_env, "TFA-18001")
    assert kinds[-2:] == [("reconsent_recorded", "1.0"), ("protocol_version_changed", "1.0")]

    # The day-60 MRD falls due: reminded, then done under 1.1.
    await moved.move_to(day_zero + timedelta(days=55), hour=10)
    assert MRD2_CODE in {d.code for d in (await moved.status()).due}
    await moved.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(await moved.today())))
    done = {v.code: v for v in (await moved.status()).visits}[MRD2_CODE]
    assert done.done_on == await moved.today()
    assert _events(journey_env, "TFA-18001")[-1] == ("disease_assessed", "1.1")
    await moved.stop()


async def test_the_move_waits_for_the_steps_in_flight(journey_env: Env) -> None:
    """The re-consent and the day-28 MRD sent together: whichever is applied first, the move comes after both, and
    the MRD is recorded whole under the version in force when it was applied."""
    journey = _journey(journey_env, "TFA-18006")
    await journey.to_infusion()
    day_zero = await journey.infuse()
    await journey.move_to(day_zero + timedelta(days=28), hour=10)
    today = await journey.today()
    await asyncio.gather(
        journey.do(_reconsent(True, today)),
        journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(today))),
    )
    assert (await journey.status()).protocol_version == "1.1"
    recorded = _events(journey_env, "TFA-18006")
    assert recorded[-1] == ("protocol_version_changed", "1.0")
    assert {t for t, _ in recorded[-3:-1]} == {"reconsent_recorded", "disease_assessed"}
    assert [t for t, _ in recorded].count("protocol_version_changed") == 1
    await journey.stop()


async def test_a_decliner_stays_on_1_0(journey_env: Env) -> None:
    stayed = _journey(journey_env, "TFA-18002")
    day_zero = await _to_day_28_mrd(stayed)
    await stayed.do(_reconsent(False, await stayed.today()))
    kept = await stayed.status()
    assert kept.protocol_version == "1.0"
    visits = {v.code: v for v in kept.visits}
    assert MRD2_CODE not in visits
    assert (visits["M3"].window_closes - visits["M3"].target_date).days == 7
    await stayed.move_to(day_zero + timedelta(days=55), hour=10)
    assert MRD2_CODE not in {d.code for d in (await stayed.status()).due}
    kinds = [t for t, _ in _events(journey_env, "TFA-18002")]
    assert "reconsent_recorded" in kinds and "protocol_version_changed" not in kinds
    await stayed.stop()


async def test_a_screening_under_1_1_applies_the_new_exclusion(journey_env: Env) -> None:
    excluded = _journey(journey_env, "TFA-18003")
    today = await excluded.today()
    await excluded.start(protocol_version="1.1", blinatumomab_or_inotuzumab_last_given=today - timedelta(days=10))
    result = await excluded.handle.result()
    assert result.phase is Phase.OFF_STUDY
    assert _events(journey_env, "TFA-18003") == [
        ("patient_enrolled", "1.1"),
        ("eligibility_assessed", "1.1"),
        ("screen_failed", "1.1"),
    ]
    # The same drug history under 1.0 (a journey started as before amendments) is no exclusion.
    old = _journey(journey_env, "TFA-18004")
    await old.start(blinatumomab_or_inotuzumab_last_given=today - timedelta(days=10))
    assert (await old.status()).phase is Phase.SCREENING
    await old.stop()
    # Under 1.1 a screening must say when the drugs were last given: the journey refuses to start without it.
    silent = _journey(journey_env, "TFA-18005")
    await silent.start(protocol_version="1.1")
    with pytest.raises(WorkflowFailureError) as failure:
        await silent.handle.result()
    assert "blinatumomab_or_inotuzumab_last_given is required" in str(failure.value.cause)
