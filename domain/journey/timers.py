"""What the workflow's durable timers must do, and when: derived from the state, so nothing is forgotten.

The workflow sleeps until the earliest `due_at`, then issues each due command through `decide` like any
other command. Each command, once accepted, removes itself from this list.
"""

from __future__ import annotations

from datetime import datetime

from domain.journey import commands as cmd
from domain.journey.calendar import era_start_dates, scheduled_items
from domain.journey.phases import FOLLOW_UP_ERAS, Phase
from domain.journey.state import JourneyState
from domain.protocol import FrozenModel, TrialProtocol
from domain.roles import SYSTEM_ACTOR
from domain.site_time import end_of_site_day, site_moment


class TimedCommand(FrozenModel):
    due_at: datetime
    command: cmd.SystemCommand


def pending_timers(state: JourneyState, protocol: TrialProtocol) -> list[TimedCommand]:
    """Every timer command still to come, earliest first (completion last among equals)."""
    timers: list[TimedCommand] = []
    for report in state.open_expedited_reports:
        if not report.overdue:
            overdue = cmd.MarkExpeditedReportOverdue(actor=SYSTEM_ACTOR, report_id=report.report_id)
            timers.append(TimedCommand(due_at=report.due_at, command=overdue))
    if state.is_final:
        return _sorted(timers)
    rules = protocol.schedule
    completed = state.lymphodepletion_completed
    if (
        state.phase is Phase.INFUSION
        and completed is not None
        and not state.infusion_window_expired
        and not state.infusion_window_deviation_approved
    ):
        expire = cmd.ExpireInfusionWindow(actor=SYSTEM_ACTOR)
        timers.append(TimedCommand(due_at=end_of_site_day(completed.infusion_window_closes, rules), command=expire))
    if state.infusion is None or state.era is None:
        return _sorted(timers)
    last_closes = None
    for item in scheduled_items(state, protocol):
        last_closes = max(last_closes or item.window_closes, item.window_closes)
        record = state.item(item.code)
        if record.resolved:
            continue
        for reminder, day in (("window_opens", item.remind_on), ("window_closing", item.closing_soon_from)):
            if reminder not in record.reminders:
                remind = cmd.SendVisitReminder(actor=SYSTEM_ACTOR, visit_code=item.code, reminder=reminder)
                timers.append(TimedCommand(due_at=site_moment(day, rules.reminder_local_hour, rules), command=remind))
        missed = cmd.MarkVisitMissed(actor=SYSTEM_ACTOR, visit_code=item.code)
        timers.append(TimedCommand(due_at=end_of_site_day(item.window_closes, rules), command=missed))
    era_index = FOLLOW_UP_ERAS.index(state.era)
    if era_index + 1 < len(FOLLOW_UP_ERAS):
        next_era = FOLLOW_UP_ERAS[era_index + 1]
        starts_on = era_start_dates(state.infusion.day_zero, protocol)[next_era]
        start = cmd.StartFollowUpEra(actor=SYSTEM_ACTOR, era=next_era)
        timers.append(TimedCommand(due_at=site_moment(starts_on, 0, rules), command=start))
    elif last_closes is not None and not state.open_expedited_reports:
        complete = cmd.CompleteJourney(actor=SYSTEM_ACTOR)
        timers.append(TimedCommand(due_at=end_of_site_day(last_closes, rules), command=complete))
    return _sorted(timers)


def _sorted(timers: list[TimedCommand]) -> list[TimedCommand]:
    # At equal times, close out items before completing the journey.
    return sorted(timers, key=lambda t: (t.due_at, t.command.kind == "complete_journey"))


def due_timers(state: JourneyState, protocol: TrialProtocol, now: datetime) -> list[TimedCommand]:
    return [t for t in pending_timers(state, protocol) if t.due_at <= now]
