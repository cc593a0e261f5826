"""What a journey's newly recorded events mean for the trial: infused, a first DLT, a DLT a correction withdrew,
the DLT observation window completed without one, off study. Pure, so the journey
workflow and the tests derive the same reports; each id is stable, so a report sent again counts once."""

from __future__ import annotations

from domain.journey.events import DltWindowCompleted, Event
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
    dlt_before, dlt_after = has_dose_limiting_toxicity(before, protocol), has_dose_limiting_toxicity(after, protocol)
    if not dlt_before and dlt_after:
        reports.append(
            JourneyReport(
                event_id=f"{sid}/{last.sequence}/dlt", study_id=sid, kind=ReportKind.DOSE_LIMITING_TOXICITY, at=at
            )
        )
    if dlt_before and not dlt_after:
        reports.append(
            JourneyReport(
                event_id=f"{sid}/{last.sequence}/dlt-withdrawn", study_id=sid, kind=ReportKind.DLT_WITHDRAWN, at=at
            )
        )
    if not before.dlt_window_completed and after.dlt_window_completed:
        ends = next(e.payload.window_ended_at for e in events if isinstance(e.payload, DltWindowCompleted))
        reports.append(
            JourneyReport(event_id=f"{sid}/window-completed", study_id=sid, kind=ReportKind.WINDOW_COMPLETED, at=ends)
        )
    if before.exit is None and after.exit is not None:
        reports.append(JourneyReport(event_id=f"{sid}/exited", study_id=sid, kind=ReportKind.EXITED, at=at))
    return reports
