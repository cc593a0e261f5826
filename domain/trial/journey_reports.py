"""What a journey's newly recorded events mean for the trial: infused, a first DLT, off study. Pure, so the journey
workflow and the tests derive the same reports; each id is stable, so a report sent again counts once."""

from __future__ import annotations

from domain.journey.events import Event
from domain.journey.state import JourneyState
from domain.journey.views import has_dose_limiting_toxicity
from domain.protocol import TrialProtocol
from domain.trial.reports import JourneyReport, ReportKind


def trial_reports(
    before: JourneyState, after: JourneyState, events: tuple[Event, ...], protocol: TrialProtocol
) -> list[JourneyReport]:
    if not events:
        return []
    last = events[-1]
    sid, at = last.study_id, last.occurred_at
    reports: list[JourneyReport] = []
    if before.infusion is None and after.infusion is not None:
        reports.append(
            JourneyReport(
                event_id=f"{sid}/infused", study_id=sid, kind=ReportKind.INFUSED, at=after.infusion.infused_at
            )
        )
    if not has_dose_limiting_toxicity(before, protocol) and has_dose_limiting_toxicity(after, protocol):
        reports.append(
            JourneyReport(
                event_id=f"{sid}/{last.sequence}/dlt", study_id=sid, kind=ReportKind.DOSE_LIMITING_TOXICITY, at=at
            )
        )
    if before.exit is None and after.exit is not None:
        reports.append(JourneyReport(event_id=f"{sid}/exited", study_id=sid, kind=ReportKind.EXITED, at=at))
    return reports
