"""`trial status` prints the daily CRS/ICANS monitoring: today's items due, a missed day, day by day."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console

from cli.status import _status_output
from domain.journey import commands as cmd
from domain.journey.views import patient_status
from tests.domain.journey_driver import NURSE, JourneyDriver, crs_findings


def _printed(journey: JourneyDriver) -> str:
    console = Console(width=200, record=True)
    for table in _status_output(patient_status(journey.state, journey.protocol, journey.now)):
        console.print(table)
    return console.export_text()


def test_the_status_prints_the_daily_items_and_the_missed_day() -> None:
    journey = JourneyDriver("TF-1630")
    journey.to_follow_up()
    day_zero = journey.today
    journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings()))
    journey.move_to(day_zero + timedelta(days=1), hour=9)
    printed = _printed(journey)
    assert "Daily CRS / ICANS monitoring" in printed
    assert "daily ICANS assessment, day 0: missed" in printed and "daily CRS assessment, day 1" in printed
    table = printed[printed.index("Daily CRS / ICANS monitoring") :]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│")]
    assert rows[:2] == [
        ["0", day_zero.isoformat(), "done", "missed"],
        ["1", (day_zero + timedelta(days=1)).isoformat(), "due", "due"],
    ]
    assert len(rows) == journey.protocol.safety.daily_toxicity_assessment_until_day + 1
