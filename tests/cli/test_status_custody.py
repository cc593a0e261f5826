"""`trial status` prints where the cells are now, since when, and what holds their infusion; and why no collection
is booked when the slot calendar had none."""

from __future__ import annotations

from datetime import date

from rich.console import Console

from cli.status import _status_output
from domain.journey import commands as cmd
from domain.journey.views import patient_status
from domain.roles import SYSTEM_ACTOR, Actor, Role
from domain.slots import SEARCH_WEEKS, NoSlotReason
from simulation.journey_steps import Milestone
from tests.domain.journey_driver import JourneyDriver


def _printed(journey: JourneyDriver) -> str:
    console = Console(width=200, record=True)
    for table in _status_output(patient_status(journey.state, journey.protocol, journey.now)):
        console.print(table)
    return console.export_text()


def test_the_status_prints_the_cells_last_hand_off_and_a_hold() -> None:
    journey = JourneyDriver(chain_of_custody=True)
    journey.walk_to(Milestone.RELEASED)
    journey.hand_off("shipped_to_site")
    assert f"shipped to the site since {journey.now.isoformat()}" in _printed(journey)
    journey.hand_off("received_at_site", logger_max_temperature_c=-120.0)
    printed = _printed(journey)
    assert "received at the site since" in printed
    assert "HELD: temperature excursion (-120 °C): awaiting the cell lab's decision" in printed


def test_the_status_prints_why_no_collection_is_booked() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.do(
        cmd.RecordSlotUnavailable(
            actor=SYSTEM_ACTOR,
            collection_number=1,
            reason=NoSlotReason.NO_MANUFACTURING_SLOT,
            searched_from=date(2026, 1, 12),
            searched_weeks=SEARCH_WEEKS,
        )
    )
    printed = " ".join(_printed(journey).split())
    assert "no slot booked: manufacturing is full after every free apheresis collection slot" in printed


def test_the_status_prints_the_dsmb_stop_and_what_it_means_for_the_patient() -> None:
    dsmb = Actor(user_id="dsmb.chair", role=Role.DSMB)
    infused, waiting = JourneyDriver(), JourneyDriver()
    infused.to_infusion()
    infused.infuse()
    waiting.to_infusion()
    for journey in (infused, waiting):
        journey.do(cmd.StopForTrial(actor=dsmb, decision_id="DSMB-3"))
    on = infused.today.isoformat()
    assert f"by the DSMB on {on} (decision DSMB-3): the safety follow-up goes on" in _printed(infused)
    printed = _printed(waiting)
    assert "(decision DSMB-3): off study" in printed and "trial stopped on" in printed
