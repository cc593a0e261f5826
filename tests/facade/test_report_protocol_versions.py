"""The trial report counts patients by the protocol version they follow now (amendment 1.1, docs/amendments.md)."""

from __future__ import annotations

from domain.journey import commands as cmd
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1, PROTOCOL_V1_1
from domain.roles import SYSTEM_ACTOR
from facade import build_report
from tests.domain.journey_driver import INVESTIGATOR, JourneyDriver


def _reconsented(study_id: str, accepted: bool) -> JourneyDriver:
    journey = JourneyDriver(study_id)
    journey.to_apheresis()
    journey.do(
        cmd.RecordReconsent(
            actor=INVESTIGATOR,
            protocol_version="1.1",
            accepted=accepted,
            answered_on=journey.today,
            consent_form_version="ICF v1.1",
        )
    )
    if accepted:
        journey.do(cmd.MoveToProtocolVersion(actor=SYSTEM_ACTOR, protocol_version="1.1"))
    return journey


def test_the_report_says_how_many_patients_follow_each_version() -> None:
    moved = _reconsented("TF-1801", accepted=True)
    declined = _reconsented("TF-1802", accepted=False)
    untouched = JourneyDriver("TF-1803")
    untouched.to_apheresis()
    screened_under_1_1 = JourneyDriver("TF-1804", PROTOCOL_V1_1)
    screened_under_1_1.enroll(blinatumomab_or_inotuzumab_last_given="never")
    journeys = (moved, declined, untouched, screened_under_1_1)
    statuses = [patient_status(j.state, j.protocol, j.now) for j in journeys]
    assert [s.protocol_version for s in statuses] == ["1.1", "1.0", "1.0", "1.1"]
    report = build_report(statuses, PROTOCOL_V1)
    assert report.enrollment.by_protocol_version == {"1.0": 2, "1.1": 2}
    assert build_report([], PROTOCOL_V1).enrollment.by_protocol_version == {}
