"""`trial status --trial` says when a pause stays though the rule no longer fires (a correction withdrew a DLT)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from cli.status import _trial_status_output
from domain.protocol import PROTOCOL_V1
from domain.trial.decide import apply_report
from domain.trial.reports import JourneyReport, ReportKind
from domain.trial.state import TrialState
from domain.trial.status import trial_status

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _shown(state: TrialState, now: datetime) -> str:
    console = Console(width=200, record=True)
    for table in _trial_status_output(trial_status(state, now, PROTOCOL_V1)):
        console.print(table)
    return console.export_text()


def test_the_status_says_the_pause_stays_until_the_dsmb_decides_once_a_dlt_is_withdrawn() -> None:
    state = TrialState(trial_identifier="TF")
    now = T0 + timedelta(days=4)
    for study, kind, seq in [
        ("TF-001", ReportKind.INFUSED, 1),
        ("TF-002", ReportKind.INFUSED, 1),
        ("TF-001", ReportKind.DOSE_LIMITING_TOXICITY, 2),
        ("TF-002", ReportKind.DOSE_LIMITING_TOXICITY, 2),
    ]:
        at = T0 if kind is ReportKind.INFUSED else now
        report = JourneyReport(event_id=f"{study}/{seq}", study_id=study, kind=kind, at=at)
        state = apply_report(state, report, now, PROTOCOL_V1).state
    assert "stays paused" not in _shown(state, now)
    later = now + timedelta(hours=1)
    withdrawn = JourneyReport(event_id="TF-002/3", study_id="TF-002", kind=ReportKind.DLT_WITHDRAWN, at=later)
    shown = _shown(apply_report(state, withdrawn, later, PROTOCOL_V1).state, later)
    assert "PAUSED" in shown.upper() and "enrollment stays paused until the DSMB decides" in shown
