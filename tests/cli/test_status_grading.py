"""`trial status` prints the worst CRS and ICANS entries with the reasons that set their grades, and when each open
report's clock started (the site's awareness)."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console

from cli.status import _status_output
from domain.journey import commands as cmd
from domain.journey.views import patient_status
from domain.toxicity import AdverseEvent, FeverMaskingDrug
from tests.domain.journey_driver import NURSE, PHYSICIAN, JourneyDriver, crs_findings


def _printed(journey: JourneyDriver) -> str:
    console = Console(width=240, record=True)
    for table in _status_output(patient_status(journey.state, journey.protocol, journey.now)):
        console.print(table)
    return console.export_text()


def test_the_status_prints_the_worst_crs_with_its_reasons_and_a_reports_awareness() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=1)
    assert "Worst CRS" not in _printed(journey)
    journey.do(
        cmd.RecordFeverMaskingDose(actor=PHYSICIAN, drug=FeverMaskingDrug.TOCILIZUMAB, dose_mg=8, given_at=journey.now)
    )
    journey.advance(hours=2)
    journey.do(
        cmd.AssessCrs(
            actor=NURSE, assessed_at=journey.now, findings=crs_findings(max_temperature_c=37.0, hypotension=True)
        )
    )
    aware = journey.now - timedelta(hours=3)
    sae = AdverseEvent(
        term="sepsis",
        ctcae_grade=3,
        serious=True,
        related_to_car_t="unlikely",
        onset_date=journey.today,
        aware_at=aware,
    )
    journey.do(cmd.RecordAdverseEvent(actor=PHYSICIAN, adverse_event=sae))
    printed = _printed(journey)
    assert "Worst CRS, why" in printed
    assert "grade 2 at" in printed
    assert "fever masked by tocilizumab 8 mg given" in printed
    assert "hypotension not needing vasopressors: grade 2" in printed
    assert f"(aware {aware.isoformat()})" in printed
