"""The daily check of CRS and ICANS monitoring: a timer command at the start of each monitoring site day."""

from __future__ import annotations

from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.daily_monitoring import check_due_at, monitoring_date, monitoring_days, next_check_day, unassessed
from domain.site_time import end_of_site_day


def monitoring_started(ctx: Context) -> list[ev.EventPayload]:
    """Recorded with a new infusion: daily monitoring to the protocol's last day (not for histories recorded before
    it was tracked, which replay as they ran)."""
    if not ctx.daily_monitoring:
        return []
    return [ev.DailyMonitoringStarted(until_day=ctx.protocol.safety.daily_toxicity_assessment_until_day)]


def check_daily_monitoring(ctx: Context, c: cmd.CheckDailyMonitoring) -> list[ev.EventPayload]:
    state = ctx.state
    if next_check_day(state, ctx.protocol) != c.day_number:
        ctx.refuse(f"no daily monitoring check is pending for day {c.day_number}")
        return []
    due = check_due_at(state, c.day_number, ctx.protocol)
    if ctx.now < due:
        ctx.refuse(f"the daily monitoring check of day {c.day_number} is not due until {due.isoformat()}")
        return []
    payloads: list[ev.EventPayload] = []
    if c.day_number > 0:
        before = c.day_number - 1
        on = monitoring_date(state, before)
        payloads += [
            ev.DailyAssessmentMissed(assessment=a, day_number=before, on=on)
            for a in unassessed(state, ctx.protocol, before)
        ]
    if c.day_number in monitoring_days(state):
        on = monitoring_date(state, c.day_number)
        # A check the workflow reaches only after its day is over (a worker away) reminds nothing.
        over = ctx.now >= end_of_site_day(on, ctx.protocol.schedule)
        remind = () if over else unassessed(state, ctx.protocol, c.day_number)
        payloads.append(ev.DailyAssessmentsDue(day_number=c.day_number, on=on, assessments=remind))
    return payloads
