"""What the workflow's durable timers must do, and when: derived from the state, so nothing is forgotten.

The workflow sleeps until the earliest `due_at`, then issues each due command through `decide`; accepted, it is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from domain.journey import commands as cmd
from domain.journey.calendar import era_start_dates, scheduled_items
from domain.journey.daily_monitoring import check_due_at, next_check_day
from domain.journey.handlers.custody import thaw_limit_passes_at
from domain.journey.phases import FOLLOW_UP_ERAS, Phase
from domain.journey.state import JourneyState
from domain.journey.views import dlt_window_ends_at, has_dose_limiting_toxicity
from domain.protocol import FrozenModel, TrialProtocol
from domain.roles import SYSTEM_ACTOR
from domain.site_time import end_of_site_day, site_moment


class TimedCommand(FrozenModel):
    due_at: datetime
    command: cmd.SystemCommand


@dataclass(frozen=True, slots=True)
class _PlannedTimer:
    """A timer before its command is built: a follow-up patient has a hundred or more timers, asked for at every
    step, and only the due ones and the earliest matter; building every command would dominate a replay's cost."""

    due_at: datetime
    make: Callable[[], cmd.SystemCommand]
    completes_journey: bool = False

    @property
    def kind(self) -> str:
        made = self.make
        model = made.func if isinstance(made, partial) else made
        fields = getattr(model, "model_fields", {})  # a command model: its kind, without building the command
        return str(fields["kind"].default) if "kind" in fields else ""

    def built(self) -> TimedCommand:
        return TimedCommand(due_at=self.due_at, command=self.make())


def pending_timers(state: JourneyState, protocol: TrialProtocol) -> list[TimedCommand]:
    """Every timer command still to come, earliest first (completion last among equals)."""
    return [t.built() for t in _planned_timers(state, protocol)]


def due_timers(
    state: JourneyState, protocol: TrialProtocol, now: datetime, leave_out: frozenset[str] = frozenset()
) -> list[TimedCommand]:
    """The timers due by `now`; `leave_out`: command kinds a workflow run recorded before them does not fire."""
    return [t.built() for t in _planned_timers(state, protocol, leave_out) if t.due_at <= now]


def next_timer_at(
    state: JourneyState, protocol: TrialProtocol, after: datetime, leave_out: frozenset[str] = frozenset()
) -> datetime | None:
    """When the first timer still to come after `after` is due."""
    return min((t.due_at for t in _planned_timers(state, protocol, leave_out) if t.due_at > after), default=None)


def _planned_timers(
    state: JourneyState, protocol: TrialProtocol, leave_out: frozenset[str] = frozenset()
) -> list[_PlannedTimer]:
    timers = _journey_timers(state, protocol)
    if leave_out:
        timers = [t for t in timers if t.kind not in leave_out]
    return timers


def _journey_timers(state: JourneyState, protocol: TrialProtocol) -> list[_PlannedTimer]:
    timers: list[_PlannedTimer] = []
    for report in state.open_expedited_reports:
        if not report.overdue:
            overdue = partial(cmd.MarkExpeditedReportOverdue, actor=SYSTEM_ACTOR, report_id=report.report_id)
            timers.append(_PlannedTimer(report.due_at, overdue))
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
        expire = partial(cmd.ExpireInfusionWindow, actor=SYSTEM_ACTOR)
        timers.append(_PlannedTimer(end_of_site_day(completed.infusion_window_closes, rules), expire))
    if (thaw_limit := thaw_limit_passes_at(state, protocol)) is not None:
        timers.append(_PlannedTimer(thaw_limit, partial(cmd.FlagLateInfusionAfterThaw, actor=SYSTEM_ACTOR)))
    window_ends = dlt_window_ends_at(state, protocol)
    if window_ends is not None and not state.dlt_window_completed and not has_dose_limiting_toxicity(state, protocol):
        timers.append(_PlannedTimer(window_ends, partial(cmd.CompleteDltWindow, actor=SYSTEM_ACTOR)))
    if state.infusion is None or state.era is None:
        return _sorted(timers)
    check_day = next_check_day(state, protocol)
    if check_day is not None:  # one wake a site day for both daily assessments
        check = partial(cmd.CheckDailyMonitoring, actor=SYSTEM_ACTOR, day_number=check_day)
        timers.append(_PlannedTimer(check_due_at(state, check_day, protocol), check))
    last_closes = None
    for item in scheduled_items(state, protocol):
        last_closes = max(last_closes or item.window_closes, item.window_closes)
        record = state.item(item.code)
        if record.resolved:
            continue
        for reminder, day in (("window_opens", item.remind_on), ("window_closing", item.closing_soon_from)):
            if reminder not in record.reminders:
                remind = partial(cmd.SendVisitReminder, actor=SYSTEM_ACTOR, visit_code=item.code, reminder=reminder)
                timers.append(_PlannedTimer(site_moment(day, rules.reminder_local_hour, rules), remind))
        missed = partial(cmd.MarkVisitMissed, actor=SYSTEM_ACTOR, visit_code=item.code)
        timers.append(_PlannedTimer(end_of_site_day(item.window_closes, rules), missed))
    era_index = FOLLOW_UP_ERAS.index(state.era)
    if era_index + 1 < len(FOLLOW_UP_ERAS):
        next_era = FOLLOW_UP_ERAS[era_index + 1]
        starts_on = era_start_dates(state.infusion.day_zero, protocol)[next_era]
        start = partial(cmd.StartFollowUpEra, actor=SYSTEM_ACTOR, era=next_era)
        timers.append(_PlannedTimer(site_moment(starts_on, 0, rules), start))
    elif last_closes is not None and not state.open_expedited_reports:
        complete = partial(cmd.CompleteJourney, actor=SYSTEM_ACTOR)
        timers.append(_PlannedTimer(end_of_site_day(last_closes, rules), complete, completes_journey=True))
    return _sorted(timers)


def _sorted(timers: list[_PlannedTimer]) -> list[_PlannedTimer]:
    # At equal times, close out items before completing the journey.
    return sorted(timers, key=lambda t: (t.due_at, t.completes_journey))
