"""`trial status`: where one patient stands now, or with --trial the trial itself, through the HTTP API with the
signed-in credential. Its own module, importing only what it shows: a supervisor checking a patient waits for
nothing else (the report's statistics and plots, the exports, the staff steps live in their own modules).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.api_client import DEFAULT_API_URL, ApiOption, ProfileOption, call_api
from cli.common import JsonOption, Problems, checked_study_id, json_help, show
from cli.credentials import DEFAULT_PROFILE
from cli.tables import facts_table as _facts
from domain.journey.phases import Phase
from domain.journey.status_view import PatientStatus
from domain.signature import Signature

if TYPE_CHECKING:
    from domain.trial.status import TrialStatus

PANEL = "Supervisors (signed in: `trial login`)"

app = typer.Typer()


def _day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def _words(phase: Phase | None) -> str:
    return phase.value.replace("_", " ") if phase else "-"


def _due_text(what: str, by: date | None) -> str:
    return f"{what} (by {by.isoformat()})" if by else what


def _yes(flag: bool) -> Text:
    return Text("YES", style="bold red") if flag else Text("no")


# ---------------------------------------------------------------- one patient


def _custody_text(status: PatientStatus) -> str | Text:
    """Where the cells are now, since when, and what holds their infusion."""
    custody = status.custody
    if custody is None:
        return "-"
    since = custody.since.isoformat()
    if custody.hold is None:
        return f"{custody.where} since {since}"
    return Text(f"{custody.where} since {since}; HELD: {custody.hold}", style="bold red")


def _protocol_text(status: PatientStatus) -> str:
    """The version the patient follows, and where an amendment stands with them."""
    notes = [f"{version} declined" for version in status.protocol_declined]
    if status.protocol_pending:
        notes.append(f"re-consented to {status.protocol_pending}, moving onto it")
    return f"{status.protocol_version} ({'; '.join(notes)})" if notes else status.protocol_version


def _status_output(status: PatientStatus) -> list[Table]:
    next_due = status.next_due
    rows: list[tuple[str, str | Text]] = [
        ("Phase", _words(status.phase)),
        ("Protocol", _protocol_text(status)),
        ("Chain of identity", status.chain_of_identity or "-"),
        ("Cells", _custody_text(status)),
        # No slot: why (the calendar was full), where the day would be.
        ("Collection booked on", status.slot_not_booked_because or _day(status.collection_booked_on)),
        ("Expected release", _day(status.expected_release)),
        ("Next due", _due_text(next_due.what, next_due.due_on or next_due.window_closes) if next_due else "-"),
        ("Overdue", _yes(status.overdue)),
        ("Highest CRS / ICANS grade", f"{status.highest_crs_grade} / {status.highest_icans_grade}"),
        ("Infused on", _day(status.infused_on)),
        ("Primary endpoint", status.primary_endpoint.replace("_", " ")),
        ("Day-28 MRD evaluation", (status.mrd_evaluation or "-").replace("_", " ")),
        ("Relapse", _day(status.relapse_on)),
        ("Molecular recurrence", _day(status.molecular_recurrence_on)),
        ("Dose-limiting toxicity", _yes(status.dose_limiting_toxicity)),
        ("Last event", str(status.last_sequence)),
    ]
    for name, worst in (("CRS", status.worst_crs), ("ICANS", status.worst_icans)):
        if worst is not None:
            why = "\n".join(
                (f"grade {worst.grade} at {worst.assessed_at.isoformat()} (#{worst.sequence})", *worst.reasons)
            )
            rows.append((f"Worst {name}, why", Text(why)))
    if status.failed_criteria:
        rows.append(("Failed criteria", "\n".join(status.failed_criteria)))
    if status.deviations:
        rows.append(("Deviations", "\n".join(status.deviations)))
    if status.exit is not None:
        rows.append(("Exit", f"{status.exit.reason.value.replace('_', ' ')} on {_day(status.exit.on)}"))
    if status.trial_stopped_by_decision is not None:
        after = "off study" if status.exit is not None else "the safety follow-up goes on"
        stopped = (
            f"by the DSMB on {_day(status.trial_stopped_on)} (decision {status.trial_stopped_by_decision}): {after}"
        )
        rows.append(("Trial stopped", Text(stopped, style="bold")))
    tables = [_facts(f"Patient {status.study_id}", rows)]
    if status.signatures:
        signed = Table(title="Electronic signatures", title_justify="left")
        for column in ("#", "Entry", "Signed by, at, meaning"):
            signed.add_column(column, overflow="fold")
        for entry in status.signatures:
            signed.add_row(str(entry.sequence), Text(entry.event_type), Text(signature_words(entry.signature)))
        tables.append(signed)
    if status.open_expedited_reports:
        reports = Table(title="Open expedited reports", title_justify="left")
        for column in ("Report", "Due at", "Overdue", "Reasons"):
            reports.add_column(column, overflow="fold")
        for report in status.open_expedited_reports:
            reports.add_row(
                Text(report.report_id),
                report.due_at.isoformat()
                + (f" (aware {report.aware_at.isoformat()})" if report.aware_at is not None else ""),
                _yes(report.overdue),
                Text("; ".join(report.reasons)),
            )
        tables.append(reports)
    if status.due:
        due = Table(title="Due", title_justify="left")
        for column in ("Item", "What", "Who", "Due", "Window", "Overdue"):
            due.add_column(column, overflow="fold")
        for item in status.due:
            window = f"{_day(item.window_opens)} to {_day(item.window_closes)}" if item.window_opens else "-"
            due.add_row(
                Text(item.code), Text(item.what), item.responsible.value, _day(item.due_on), window, _yes(item.overdue)
            )
        tables.append(due)
    if status.daily_monitoring:
        tables.append(_daily_monitoring_table(status))
    return tables


def _daily_monitoring_table(status: PatientStatus) -> Table:
    """Each day of daily CRS/ICANS monitoring: done, due today, late (its day is over) or missed."""
    table = Table(title="Daily CRS / ICANS monitoring", title_justify="left")
    for column in ("Day", "Date", "CRS", "ICANS"):
        table.add_column(column)
    for day in status.daily_monitoring:
        cells = [Text(s, style="bold red") if s in ("late", "missed") else Text(s) for s in (day.crs, day.icans)]
        table.add_row(str(day.day_number), _day(day.on), *cells)
    return table


def _trial_status_output(status: TrialStatus) -> list[Table]:
    rule = status.stopping_rule
    state = status.enrollment.value.upper()
    from domain.trial.state import Enrollment  # with the trial's status (its statistics), only for --trial

    paused = status.enrollment is Enrollment.PAUSED
    more = "-" if status.more_dlts_to_pause is None else str(status.more_dlts_to_pause)
    rows: list[tuple[str, str | Text]] = [
        ("Enrollment", Text(state, style="bold red") if paused else Text(state)),
        ("Closed because", status.closed_because or "-"),
        ("Accrual (infused / target)", f"{status.infused} / {status.accrual_target_infused}"),
        ("Admitted", str(status.admitted)),
        (
            "Posterior P(rate > threshold)",
            f"{rule.posterior_probability:.3f} (pauses above {rule.probability_threshold:g})",
        ),
        ("DLTs / evaluable patients", f"{rule.toxicities} / {rule.patients}"),
        ("More DLTs that would pause", more),
        ("Evaluable", ", ".join(status.evaluable) or "-"),
        (
            "Pending (window ends)",
            ", ".join(f"{p.study_id} ({p.window_ends_at:%Y-%m-%d})" for p in status.pending) or "-",
        ),
        ("Lymphodepletion", status.lymphodepletion_refused_because or "may start"),
        ("Explanation", rule.explanation),
    ]
    if status.pause_note is not None:
        rows.append(("Pause", status.pause_note))
    tables = [_facts(f"Trial {status.trial_identifier}", rows)]
    if status.decisions:
        decisions = Table(title="DSMB decisions", title_justify="left")
        for column in ("Decision", "Outcome", "By", "At", "Amendment"):
            decisions.add_column(column, overflow="fold")
        for d in status.decisions:
            decisions.add_row(
                Text(d.decision_id),
                d.outcome.value,
                Text(d.decided_by),
                d.decided_at.isoformat(),
                d.amendment_version or "-",
            )
        tables.append(decisions)
    return tables


@app.command(
    rich_help_panel=PANEL,
    help="Where one patient stands now (phase, what is due, where the cells are and since when, the booked "
    "collection day or why none is booked); with --trial, the trial itself: enrollment (open, paused by the "
    "stopping rule, closed), the posterior over evaluable patients, how many more DLTs would pause, the evaluable "
    "and pending patients, accrual, and the DSMB's decisions.\n\n" + json_help(PatientStatus),
)
def status(
    study_id: Annotated[str | None, typer.Argument(metavar="STUDY_ID", help="The patient's study id.")] = None,
    trial: Annotated[bool, typer.Option("--trial", help="The trial's status instead of one patient's.")] = False,
    as_json: JsonOption = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    problems = Problems()
    if trial and study_id is not None:
        problems.add("STUDY_ID", "give a study id or --trial, not both")
    elif not trial and study_id is None:
        problems.add("STUDY_ID", "give a patient's study id, or --trial for the trial's status")
    elif study_id is not None:
        checked_study_id(study_id, problems)
    problems.exit_if_any(as_json)
    if study_id is None:
        from domain.trial.status import TrialStatus  # the trial's statistics: only for --trial

        trial_answer = TrialStatus.model_validate(call_api(api, profile, lambda client: client.get("/trial"), as_json))
        show(trial_answer, _trial_status_output, as_json)
        return
    answer = PatientStatus.model_validate(
        call_api(api, profile, lambda client: client.get(f"/patients/{study_id}"), as_json, study_id=study_id)
    )
    show(answer, _status_output, as_json)


def signature_words(signature: Signature | None) -> str:
    """An electronic signature's manifestation: printed name, date and time with its UTC offset, and meaning."""
    if signature is None:
        return ""
    return f"{signature.printed_name}, {signature.signed_at.isoformat(timespec='minutes')} ({signature.meaning.value})"
