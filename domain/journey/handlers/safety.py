"""CRS, ICANS and adverse events: grades are computed, never typed, and every serious finding opens an expedited
report, due the protocol's hours after the site became aware of it."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.phases import FINAL_PHASES, POST_INFUSION_PHASES, Phase
from domain.journey.repeats import refuse_exact_repeat
from domain.journey.state import GradedAssessment, RecordedAdverseEvent, RecordedMaskingDose
from domain.journey.views import dlt_window_ends_at, has_dose_limiting_toxicity
from domain.site_time import site_moment
from domain.toxicity import (
    AdverseEvent,
    RecordedCrsFindings,
    expedited_report_reasons,
    fever_masking_dose,
    grade_crs,
    grade_icans,
    icans_findings_problems,
)

_RELATED = frozenset({"possible", "probable", "definite"})


def report_id_for(trigger_sequence: int) -> str:
    return f"ER-{trigger_sequence:05d}"


def _open_report(ctx: Context, trigger_sequence: int, reasons: tuple[str, ...], aware_at: datetime) -> ev.EventPayload:
    """The report's clock runs from the site's awareness: an entry made late may be due, or overdue, at once."""
    due = aware_at + timedelta(hours=ctx.protocol.safety.expedited_report_hours)
    return ev.ExpeditedReportOpened(
        report_id=report_id_for(trigger_sequence),
        trigger_sequence=trigger_sequence,
        reasons=reasons,
        due_at=due,
        aware_at=aware_at if ctx.clinical_review else None,
    )


def _check_correction(
    ctx: Context,
    correction: cmd.Correction | None,
    entries: tuple[GradedAssessment, ...] | tuple[RecordedAdverseEvent, ...] | tuple[RecordedMaskingDose, ...],
    what: str,
) -> bool:
    """True when the correction targets a current entry of the same kind. The earlier entry stays on record."""
    if correction is None:
        return True
    target = next((e for e in entries if e.sequence == correction.supersedes_sequence), None)
    if target is None:
        ctx.refuse(f"entry {correction.supersedes_sequence} is not a {what} of this patient: nothing to correct")
        return False
    if target.superseded_by is not None:
        ctx.refuse(
            f"entry {correction.supersedes_sequence} was already corrected by entry {target.superseded_by}: "
            "correct the latest one"
        )
        return False
    return True


def _triggered_report(ctx: Context, sequence: int | None) -> bool:
    return sequence is not None and any(r.trigger_sequence == sequence for r in ctx.state.expedited_reports)


def assess_crs(ctx: Context, c: cmd.AssessCrs) -> list[ev.EventPayload]:
    if not ctx.require_phase(POST_INFUSION_PHASES, "assess CRS"):
        return []
    infusion = ctx.state.infusion
    ctx.check_instant(c.assessed_at, "the assessment time", (infusion.infused_at if infusion else None, "infusion"))
    _check_correction(ctx, c.correction, ctx.state.crs, "CRS assessment")
    if ctx.clinical_review and c.typed_fever_masking:
        ctx.refuse(
            "'fever masked' is no longer ticked by hand: it follows from the tocilizumab or corticosteroid doses "
            f"recorded in the {ctx.protocol.crs.fever_masking_window_hours} hours before the assessment; record "
            "the dose (drug, dose, time given), then the assessment without that box"
        )
    masked_by = fever_masking_dose(ctx.state.current_masking_doses, c.assessed_at, ctx.protocol.crs)
    grading = grade_crs(c.findings, ctx.protocol.crs, masked_by)
    sequence = ctx.state.last_sequence + 1
    supersedes = c.correction.supersedes_sequence if c.correction else None
    fever = c.findings.max_temperature_c >= ctx.protocol.crs.fever_min_celsius
    assessed = ev.CrsAssessed(
        assessed_at=c.assessed_at,
        findings=RecordedCrsFindings.of(c.findings),
        grade=grading.grade,
        reasons=grading.reasons,
        supersedes=supersedes,
        fever_masked_by=None if fever else masked_by,
    )
    refuse_exact_repeat(ctx, c.correction, ctx.state.crs, assessed, "CRS assessment")
    payloads: list[ev.EventPayload] = [assessed]
    reasons = expedited_report_reasons(crs_grade=grading.grade, safety=ctx.protocol.safety)
    if reasons and not _triggered_report(ctx, supersedes):
        payloads.append(_open_report(ctx, sequence, reasons, c.assessed_at))
    return payloads


def assess_icans(ctx: Context, c: cmd.AssessIcans) -> list[ev.EventPayload]:
    if not ctx.require_phase(POST_INFUSION_PHASES, "assess ICANS"):
        return []
    infusion = ctx.state.infusion
    if not ctx.check_instant(
        c.assessed_at, "the assessment time", (infusion.infused_at if infusion else None, "infusion")
    ):
        return []
    _check_correction(ctx, c.correction, ctx.state.icans, "ICANS assessment")
    age = ctx.age_on(ctx.site_date_of(c.assessed_at))
    problems = icans_findings_problems(c.findings, age, ctx.protocol.icans)
    for problem in problems:
        ctx.refuse(problem)
    if problems:
        return []
    grading = grade_icans(c.findings, age, ctx.protocol.icans)
    sequence = ctx.state.last_sequence + 1
    supersedes = c.correction.supersedes_sequence if c.correction else None
    assessed = ev.IcansAssessed(
        assessed_at=c.assessed_at,
        findings=c.findings,
        age_years=age,
        grade=grading.grade,
        reasons=grading.reasons,
        supersedes=supersedes,
    )
    refuse_exact_repeat(ctx, c.correction, ctx.state.icans, assessed, "ICANS assessment")
    payloads: list[ev.EventPayload] = [assessed]
    reasons = expedited_report_reasons(icans_grade=grading.grade, safety=ctx.protocol.safety)
    if reasons and not _triggered_report(ctx, supersedes):
        payloads.append(_open_report(ctx, sequence, reasons, c.assessed_at))
    return payloads


_AE_PHASES = frozenset(Phase) - FINAL_PHASES - {Phase.NOT_ENROLLED, Phase.SCREENING, Phase.CONSENT}


def record_adverse_event(ctx: Context, c: cmd.RecordAdverseEvent) -> list[ev.EventPayload]:
    if not ctx.require_phase(_AE_PHASES, "record an adverse event"):
        return []
    ae = c.adverse_event
    consent = ctx.state.consent
    ctx.check_day(ae.onset_date, "the onset date", (consent.signed_on if consent else None, "consent"))
    if ae.aware_at is not None:
        onset = site_moment(ae.onset_date, 0, ctx.protocol.schedule)
        ctx.check_instant(ae.aware_at, "the time the site became aware of it", (onset, "the onset day's start"))
    _check_correction(ctx, c.correction, ctx.state.adverse_events, "adverse event")
    sequence = ctx.state.last_sequence + 1
    supersedes = c.correction.supersedes_sequence if c.correction else None
    recorded = ev.AdverseEventRecorded(adverse_event=ae, supersedes=supersedes)
    refuse_exact_repeat(ctx, c.correction, ctx.state.adverse_events, recorded, "adverse event")
    payloads: list[ev.EventPayload] = [recorded]
    reasons = expedited_report_reasons(adverse_event=ae, safety=ctx.protocol.safety)
    if reasons and not _triggered_report(ctx, supersedes):
        payloads.append(_open_report(ctx, sequence, reasons, _aware_at(ctx, ae) if ctx.clinical_review else ctx.now))
    if ae.ctcae_grade == ctx.protocol.safety.ctcae_max_grade:  # grade 5 is death
        payloads.append(
            ev.PatientDied(died_on=ae.onset_date, cause=ae.term, treatment_related=ae.related_to_car_t in _RELATED)
        )
    return payloads


def _aware_at(ctx: Context, ae: AdverseEvent) -> datetime:
    """When the site became aware of `ae`: as recorded, else the start of its onset day (the earliest it can be)."""
    return ae.aware_at or site_moment(ae.onset_date, 0, ctx.protocol.schedule)


def record_fever_masking_dose(ctx: Context, c: cmd.RecordFeverMaskingDose) -> list[ev.EventPayload]:
    if not ctx.require_phase(POST_INFUSION_PHASES, "record a tocilizumab or corticosteroid dose"):
        return []
    infusion = ctx.state.infusion
    ctx.check_instant(
        c.given_at, "the time the dose was given", (infusion.infused_at if infusion else None, "infusion")
    )
    _check_correction(ctx, c.correction, ctx.state.fever_masking_doses, "tocilizumab or corticosteroid dose")
    given = ev.FeverMaskingDoseGiven(
        drug=c.drug,
        dose_mg=c.dose_mg,
        given_at=c.given_at,
        supersedes=c.correction.supersedes_sequence if c.correction else None,
    )
    refuse_exact_repeat(ctx, c.correction, ctx.state.fever_masking_doses, given, "dose")
    return [given]


def confirm_expedited_report(ctx: Context, c: cmd.ConfirmExpeditedReport) -> list[ev.EventPayload]:
    report = ctx.state.report(c.report_id)
    if report is None:
        known = ", ".join(r.report_id for r in ctx.state.open_expedited_reports) or "none"
        # The id as typed is not repeated: refusals are logged, and a mistyped field may hold anything.
        ctx.refuse(f"there is no expedited report with this id for {ctx.patient} (open reports: {known})")
        return []
    if not report.awaiting_submission:
        ctx.refuse(
            f"expedited report {report.report_id} was already submitted (its sponsor reference is in the record)"
        )
    ctx.check_instant(c.submitted_at, "the submission time")
    return [
        ev.ExpeditedReportSubmitted(
            report_id=c.report_id,
            submitted_at=c.submitted_at,
            sponsor_reference=c.sponsor_reference,
            on_time=c.submitted_at <= report.due_at,
        )
    ]


def mark_expedited_report_overdue(ctx: Context, c: cmd.MarkExpeditedReportOverdue) -> list[ev.EventPayload]:
    report = ctx.state.report(c.report_id)
    if report is None or not report.awaiting_submission or report.overdue:
        ctx.refuse(f"expedited report {c.report_id} is not open and pending")
        return []
    if ctx.now < report.due_at:
        ctx.refuse(f"expedited report {c.report_id} is not due until {report.due_at.isoformat()}")
    return [ev.ExpeditedReportOverdue(report_id=c.report_id, due_at=report.due_at)]


def complete_dlt_window(ctx: Context, c: cmd.CompleteDltWindow) -> list[ev.EventPayload]:
    """The DLT observation window passed without a DLT: the trial is told the patient is evaluable."""
    state = ctx.state
    ends = dlt_window_ends_at(state, ctx.protocol)
    if ends is None or state.is_final:
        ctx.refuse("no DLT observation window is running: the patient was not infused or is off study")
        return []
    if state.dlt_window_completed:
        ctx.refuse("the DLT observation window was already recorded complete")
    if has_dose_limiting_toxicity(state, ctx.protocol):
        ctx.refuse("the patient had a DLT: they count at their DLT, not at the end of the window")
    if ctx.now < ends:
        ctx.refuse(f"the DLT observation window runs until {ends.isoformat()}")
    return [ev.DltWindowCompleted(window_ended_at=ends)]
