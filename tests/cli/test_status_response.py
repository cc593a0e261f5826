"""`trial status` prints the patient's share of the endpoints: the day-28 MRD evaluation, a relapse, a molecular
recurrence, and a late one-year marrow among the deviations."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console

from cli.status import _status_output
from domain.journey import commands as cmd
from domain.journey.calendar import primary_endpoint_visit
from domain.journey.views import patient_status
from tests.domain.journey_driver import LAB, PHYSICIAN, JourneyDriver, marrow


def _printed(journey: JourneyDriver) -> str:
    """The status as printed, each table row's cells joined by " | " without the padding."""
    console = Console(width=200, record=True)
    for table in _status_output(patient_status(journey.state, journey.protocol, journey.now)):
        console.print(table)
    return "\n".join(" | ".join(c.strip() for c in line.split("│")) for line in console.export_text().splitlines())


def test_the_status_prints_mrd_molecular_recurrence_and_a_late_one_year_marrow() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    assert "Day-28 MRD evaluation | pending" in _printed(journey)
    for day, mrd in ((28, 0.001), (90, 0.05), (104, 0.2)):
        journey.move_to(infusion.day_zero + timedelta(days=day))
        journey.do(cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(journey.today, mrd_flow_percent=mrd)))
    printed = _printed(journey)
    assert "Day-28 MRD evaluation | negative" in printed
    assert f"Molecular recurrence | {journey.today.isoformat()}" in printed
    visit = primary_endpoint_visit(journey.state, journey.protocol)
    assert visit is not None
    journey.move_to(visit.window_closes + timedelta(days=3))
    journey.do(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today)))
    printed = _printed(journey)
    assert "Primary endpoint | cr |" in printed
    assert f"one-year response assessment on {journey.today.isoformat()}, outside its window" in printed
