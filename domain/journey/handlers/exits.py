"""The ways off the path, each recorded with its reason. Relapse is not one: survival follow-up goes on."""

from __future__ import annotations

from datetime import timedelta

from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.handlers.safety import report_id_for
from domain.journey.phases import FINAL_PHASES, Phase
from domain.site_time import site_moment

_ENROLLED = frozenset(Phase) - FINAL_PHASES - {Phase.NOT_ENROLLED}
_CONSENTED = _ENROLLED - {Phase.SCREENING, Phase.CONSENT}


def withdraw_consent(ctx: Context, c: cmd.WithdrawConsent) -> list[ev.EventPayload]:
    # In the consent phase this records consent declined; later it records a withdrawal.
    if not ctx.require_phase(_ENROLLED - {Phase.SCREENING}, "record consent withdrawn"):
        return []
    ctx.check_day(c.withdrawn_on, "the withdrawal date", (ctx.state.screening_date, "screening"))
    return [ev.ConsentWithdrawn(withdrawn_on=c.withdrawn_on, reason=c.reason)]


def record_death(ctx: Context, c: cmd.RecordDeath) -> list[ev.EventPayload]:
    if not ctx.require_phase(_ENROLLED, "record a death"):
        return []
    ctx.check_day(c.died_on, "the date of death", (ctx.state.screening_date, "screening"))
    died_day_starts = site_moment(c.died_on, 0, ctx.protocol.schedule)
    if c.aware_at is not None:
        ctx.check_instant(c.aware_at, "the time the site learnt of the death", (died_day_starts, "the day of death"))
    payloads: list[ev.EventPayload] = [
        ev.PatientDied(died_on=c.died_on, cause=c.cause, treatment_related=c.treatment_related)
    ]
    if ctx.state.phase in _CONSENTED:  # a death on study is a serious adverse event
        sequence = ctx.state.last_sequence + 1
        # From the site's awareness (the protocol), never from the data entry: a late entry may be overdue at once.
        aware = (c.aware_at or died_day_starts) if ctx.clinical_review else ctx.now
        payloads.append(
            ev.ExpeditedReportOpened(
                report_id=report_id_for(sequence),
                trigger_sequence=sequence,
                reasons=("death on study is a serious adverse event",),
                due_at=aware + _report_hours(ctx),
                aware_at=aware if ctx.clinical_review else None,
            )
        )
    return payloads


def record_lost_to_follow_up(ctx: Context, c: cmd.RecordLostToFollowUp) -> list[ev.EventPayload]:
    if not ctx.require_phase(_CONSENTED, "record lost to follow-up"):
        return []
    ctx.check_day(c.last_contact_on, "the last contact date", (ctx.state.screening_date, "screening"))
    return [ev.LostToFollowUp(last_contact_on=c.last_contact_on, reason=c.reason)]


def take_off_study(ctx: Context, c: cmd.TakeOffStudy) -> list[ev.EventPayload]:
    if not ctx.require_phase(_ENROLLED, "take the patient off study"):
        return []
    return [ev.TakenOffStudy(on=ctx.today, reason=c.reason)]


def stop_for_trial(ctx: Context, c: cmd.StopForTrial) -> list[ev.EventPayload]:
    """Once per patient, whichever decision comes: not yet infused, off study; infused, safety follow-up goes on.
    A journey already off the path has nothing to change."""
    if ctx.state.trial_stopped is not None or ctx.state.phase in FINAL_PHASES:
        return []
    return [ev.TrialStopped(decision_id=c.decision_id, on=ctx.today, off_study=ctx.state.infusion is None)]


def _report_hours(ctx: Context) -> timedelta:
    return timedelta(hours=ctx.protocol.safety.expedited_report_hours)
