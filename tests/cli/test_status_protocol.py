"""`trial status` prints the protocol version the patient follows and where an amendment stands with them."""

from __future__ import annotations

from rich.console import Console

from cli.status import _status_output
from domain.journey import commands as cmd
from domain.journey.views import patient_status
from domain.roles import SYSTEM_ACTOR
from tests.domain.journey_driver import INVESTIGATOR, JourneyDriver


def _protocol_line(journey: JourneyDriver) -> str:
    console = Console(width=200, record=True)
    for table in _status_output(patient_status(journey.state, journey.protocol, journey.now)):
        console.print(table)
    return next(" ".join(line.split()) for line in console.export_text().splitlines() if "Protocol" in line)


def _reconsent(journey: JourneyDriver, accepted: bool) -> None:
    journey.do(
        cmd.RecordReconsent(
            actor=INVESTIGATOR,
            protocol_version="1.1",
            accepted=accepted,
            answered_on=journey.today,
            consent_form_version="ICF v1.1",
        )
    )


def test_the_status_prints_the_version_a_pending_move_and_a_decline() -> None:
    moving, declined = JourneyDriver("TF-1811"), JourneyDriver("TF-1812")
    for journey in (moving, declined):
        journey.to_apheresis()
        assert _protocol_line(journey) == "│ Protocol │ 1.0 │"
    _reconsent(moving, accepted=True)
    assert _protocol_line(moving) == "│ Protocol │ 1.0 (re-consented to 1.1, moving onto it) │"
    moving.do(cmd.MoveToProtocolVersion(actor=SYSTEM_ACTOR, protocol_version="1.1"))
    assert _protocol_line(moving) == "│ Protocol │ 1.1 │"
    _reconsent(declined, accepted=False)
    assert _protocol_line(declined) == "│ Protocol │ 1.0 (1.1 declined) │"
