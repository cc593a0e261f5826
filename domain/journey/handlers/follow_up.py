"""After infusion: response, chemotherapy resumption, visits, and the items the workflow's timers close."""

from __future__ import annotations

from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.calendar import (
    CHEMO_CODE,
    EFFICACY_ITEMS,
    MRD_CODES,
    era_start_dates,
    find_item,
    scheduled_items,
)
from domain.journey.context import Context
from domain.journey.phases import FOLLOW_UP_ERAS, POST_INFUSION_PHASES, Phase
from domain.journey.repeats import refuse_exact_repeat
from domain.response import MrdResult, OtherDiseaseTest, assess_relapse, classify_response, confirm_molecular_recurrence
from domain.schedule import ScheduledVisit, is_within_window
from domain.site_time import end_of_site_day, site_moment


def record_disease_assessment(ctx: Context, c: cmd.RecordDiseaseAssessment) -> list[ev.EventPayload]:
    if not ctx.require_phase(POST_INFUSION_PHASES, "record a disease assessment"):
        return []
    state = ctx.state
    infusion = state.infusion
    assessed_on = c.marrow.assessed_on
    ctx.check_day(assessed_on, "the assessment date", (infusion.day_zero if infusion else None, "infusion"))
    supersedes = None
    if c.correction is not None:
        supersedes = c.correction.supersedes_sequence
        target = next((a for a in state.disease_assessments if a.sequence == supersedes), None)
        if target is None or target.superseded_by is not None:
            ctx.refuse(f"entry {supersedes} is not a current disease assessment of this patient")
        elif target.relapse and state.relapse is not None:
            ctx.refuse(
                "this assessment diagnosed the relapse: a relapse diagnosis is not withdrawn by a correction; "
                "the investigator must review it"
            )
    response_criteria = ctx.protocol.response
    response = classify_response(c.marrow, response_criteria)
    outside = c.outside_marrow
    relapse = assess_relapse(
        c.marrow.marrow_blasts_percent,
        c.other_tests if ctx.clinical_review else _tests_as_counted_before_the_review(c),
        response_criteria,
        cns_status=outside.cns_status if outside else None,
        extramedullary=outside.extramedullary if outside else None,
    )
    mrd = _mrd_item_fulfilled(ctx, c, supersedes)
    assessed = ev.DiseaseAssessed(
        marrow=c.marrow,
        other_tests=c.other_tests,
        response=response,
        relapse=relapse,
        fulfils=(mrd.code,) if mrd else (),
        in_window=is_within_window(mrd, assessed_on) if mrd else None,
        supersedes=supersedes,
        outside_marrow=outside,
    )
    refuse_exact_repeat(ctx, c.correction, state.disease_assessments, assessed, "disease assessment")
    payloads: list[ev.EventPayload] = [assessed]
    if relapse.relapse and state.relapse is None:
        payloads.append(ev.RelapseDiagnosed(diagnosed_on=assessed_on, reason=relapse.reason))
    elif state.relapse is None and state.molecular_recurrence is None and ctx.clinical_review:
        recurrence = _molecular_recurrence(ctx, assessed)
        if recurrence is not None:
            payloads.append(recurrence)
    return payloads


def _mrd_item_fulfilled(ctx: Context, c: cmd.RecordDiseaseAssessment, supersedes: int | None) -> ScheduledVisit | None:
    """The marrow MRD assessment (day 28, or amendment 1.1's day 60) this assessment is, if any: the first not yet
    done whose window has opened by its date. An assessment before a window opens is not that evaluation; one after
    it is, late. As a visit is, it counts when entered after its window closed and the item was marked missed."""
    if c.marrow.mrd_flow_percent is None:
        return None
    for code in MRD_CODES:
        item = find_item(ctx.state, ctx.protocol, code)
        record = ctx.state.item(code)
        if item is None or c.marrow.assessed_on < item.window_opens:
            continue
        if record.done_on is None or record.done_sequence == supersedes:
            return item
    return None


def _tests_as_counted_before_the_review(c: cmd.RecordDiseaseAssessment) -> tuple[OtherDiseaseTest, ...]:
    """Only to replay entries made before the clinical review (issue 16): the marrow's own flow MRD was then
    counted as a confirming test, which the consensus does not allow."""
    mrd = c.marrow.mrd_flow_percent
    if mrd is None or any(t.method == "flow_cytometry" for t in c.other_tests):
        return c.other_tests
    return (*c.other_tests, OtherDiseaseTest(method="flow_cytometry", leukemia_percent=mrd))


def _molecular_recurrence(ctx: Context, assessed: ev.DiseaseAssessed) -> ev.MolecularRecurrenceConfirmed | None:
    """The molecular recurrence this assessment confirms, judged over the current assessments with it (one
    entered late, with an earlier date, takes its place in time)."""
    if assessed.response.mrd_negative is None:
        return None
    results = [
        MrdResult(on=a.assessed_on, negative=a.mrd_negative)
        for a in ctx.state.disease_assessments
        if a.superseded_by is None and a.sequence != assessed.supersedes and a.mrd_negative is not None
    ]
    results.append(MrdResult(on=assessed.marrow.assessed_on, negative=assessed.response.mrd_negative))
    found = confirm_molecular_recurrence(results, ctx.protocol.response)
    if found is None:
        return None
    return ev.MolecularRecurrenceConfirmed(
        first_positive_on=found.first_positive_on, confirmed_on=found.confirmed_on, reason=found.reason
    )


def record_chemotherapy_resumed(ctx: Context, c: cmd.RecordChemotherapyResumed) -> list[ev.EventPayload]:
    if not ctx.require_phase(POST_INFUSION_PHASES - {Phase.SURVIVAL_FOLLOW_UP}, "record chemotherapy resumption"):
        return []
    state = ctx.state
    if state.chemotherapy is not None:
        ctx.refuse(f"chemotherapy resumption was already recorded on {state.chemotherapy.resumed_on.isoformat()}")
    return [chemotherapy_resumed(ctx, c)]


def chemotherapy_resumed(
    ctx: Context, c: cmd.RecordChemotherapyResumed, supersedes: int | None = None
) -> ev.ChemotherapyResumed:
    """The resumption `c` records, its date and protocol step checked into `ctx`: a new one, or a correction."""
    infusion = ctx.state.infusion
    ctx.check_day(c.resumed_on, "the resumption date", (infusion.day_zero if infusion else None, "infusion"))
    if not c.from_protocol_step and c.deviation_reason is None:
        step = ctx.protocol.schedule.chemotherapy_resumption_step
        ctx.refuse(f"the protocol resumes chemotherapy from {step}: give the reason for resuming elsewhere")
    item = find_item(ctx.state, ctx.protocol, CHEMO_CODE)
    return ev.ChemotherapyResumed(
        resumed_on=c.resumed_on,
        from_protocol_step=c.from_protocol_step,
        deviation_reason=c.deviation_reason,
        in_window=is_within_window(item, c.resumed_on) if item else False,
        supersedes=supersedes,
    )


def record_visit(ctx: Context, c: cmd.RecordVisit) -> list[ev.EventPayload]:
    if not ctx.require_phase(POST_INFUSION_PHASES, "record a follow-up visit"):
        return []
    state = ctx.state
    code = c.visit_code.strip().upper()
    item = find_item(state, ctx.protocol, code)
    if item is None or code in EFFICACY_ITEMS:
        visits = [i.code for i in scheduled_items(state, ctx.protocol) if i.code not in EFFICACY_ITEMS]
        ctx.refuse(f"this visit code is not a follow-up visit of this patient; visits are {', '.join(visits)}")
        return []
    supersedes = c.correction.supersedes_sequence if c.correction else None
    record = state.item(code)
    if supersedes is None and record.done_on is not None:
        ctx.refuse(f"visit {code} was already recorded on {record.done_on.isoformat()}")
    if supersedes is not None and not any(r.done_sequence == supersedes for r in state.scheduled.values()):
        ctx.refuse(f"entry {supersedes} is not a recorded visit of this patient: nothing to correct")
    infusion = state.infusion
    ctx.check_day(c.visit_date, "the visit date", (infusion.day_zero if infusion else None, "infusion"))
    return [
        ev.VisitCompleted(
            visit_code=code,
            visit_date=c.visit_date,
            in_window=is_within_window(item, c.visit_date),
            supersedes=supersedes,
        )
    ]


# ---------------------------------------------------------------- timer commands


def send_visit_reminder(ctx: Context, c: cmd.SendVisitReminder) -> list[ev.EventPayload]:
    item = find_item(ctx.state, ctx.protocol, c.visit_code)
    record = ctx.state.item(c.visit_code)
    if ctx.state.is_final or item is None or record.resolved or c.reminder in record.reminders:
        ctx.refuse(f"no {c.reminder.replace('_', ' ')} reminder is pending for {c.visit_code}")
        return []
    day = item.remind_on if c.reminder == "window_opens" else item.closing_soon_from
    due = site_moment(day, ctx.protocol.schedule.reminder_local_hour, ctx.protocol.schedule)
    if ctx.now < due:
        ctx.refuse(f"the reminder for {c.visit_code} is not due until {due.isoformat()}")
    return [
        ev.VisitReminderIssued(
            visit_code=item.code,
            reminder=c.reminder,
            window_opens=item.window_opens,
            window_closes=item.window_closes,
        )
    ]


def mark_visit_missed(ctx: Context, c: cmd.MarkVisitMissed) -> list[ev.EventPayload]:
    item = find_item(ctx.state, ctx.protocol, c.visit_code)
    if ctx.state.is_final or item is None or ctx.state.item(c.visit_code).resolved:
        ctx.refuse(f"{c.visit_code} is not pending")
        return []
    if ctx.now < end_of_site_day(item.window_closes, ctx.protocol.schedule):
        ctx.refuse(f"the window of {c.visit_code} is open until {item.window_closes.isoformat()}")
    return [ev.VisitMissed(visit_code=item.code, window_closed_on=item.window_closes)]


def start_follow_up_era(ctx: Context, c: cmd.StartFollowUpEra) -> list[ev.EventPayload]:
    state = ctx.state
    if state.is_final or state.infusion is None or state.era is None:
        ctx.refuse(f"{ctx.patient} is not in follow-up")
        return []
    current = FOLLOW_UP_ERAS.index(state.era)
    if c.era not in FOLLOW_UP_ERAS or FOLLOW_UP_ERAS.index(c.era) != current + 1:
        ctx.refuse(f"{c.era} does not follow {state.era}")
        return []
    starts_on = era_start_dates(state.infusion.day_zero, ctx.protocol)[c.era]
    if ctx.today < starts_on:
        ctx.refuse(f"{c.era} starts on {starts_on.isoformat()}")
    return [ev.FollowUpEraStarted(era=c.era, started_on=starts_on)]


def complete_journey(ctx: Context, c: cmd.CompleteJourney) -> list[ev.EventPayload]:
    state = ctx.state
    if not ctx.require_phase(POST_INFUSION_PHASES, "complete the journey"):
        return []
    items = scheduled_items(state, ctx.protocol)
    pending = [i.code for i in items if not state.item(i.code).resolved]
    if pending:
        ctx.refuse(f"scheduled items are still pending: {', '.join(pending)}")
    if state.era is not FOLLOW_UP_ERAS[-1]:
        ctx.refuse("long-term follow-up has not started")
    if state.open_expedited_reports:
        ctx.refuse("expedited reports are still open")
    return [ev.JourneyCompleted(completed_on=ctx.today)]
