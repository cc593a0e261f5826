"""`trial status`, `list`, `timeline`, `report`, `verify` and `notifications`: what supervisors read, through the
HTTP API with the signed-in credential.

Readable tables, or with `--json` the API's answer as the same models; errors as plain words with the study id (exit 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Annotated

import typer
from pydantic import RootModel, TypeAdapter
from rich.table import Table
from rich.text import Text

from cli.api_client import DEFAULT_API_URL, REFUSED_EXIT_CODE, ApiOption, ProfileOption, call_api
from cli.common import JsonOption, Problems, json_help, print_json
from cli.credentials import DEFAULT_PROFILE
from cli.staff import checked_study_id, console
from domain.journey.phases import Phase
from domain.journey.views import PatientStatus
from domain.signature import Signature
from domain.slots import SlotCalendarView
from domain.statistics import ProportionEstimate
from domain.trial.state import Enrollment
from domain.trial.status import TrialStatus
from facade import DeliveryRecord, PatientListing, Timeline, TrialReport, VerificationReport

PANEL = "Supervisors (signed in: `trial login`)"

app = typer.Typer()


class PatientList(RootModel[tuple[PatientListing, ...]]):
    """`trial list --json`: a JSON array of PatientListing."""


_LISTINGS = TypeAdapter(tuple[PatientListing, ...])
_DELIVERIES = TypeAdapter(tuple[DeliveryRecord, ...])


def _facts(title: str, rows: Iterable[tuple[str, str | Text]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("Item", style="bold", no_wrap=True)
    table.add_column("Value", overflow="fold")
    for label, value in rows:
        table.add_row(label, value if isinstance(value, Text) else Text(value))
    return table


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


def _status_output(status: PatientStatus) -> list[Table]:
    next_due = status.next_due
    rows: list[tuple[str, str | Text]] = [
        ("Phase", _words(status.phase)),
        ("Protocol", status.protocol_version),
        ("Chain of identity", status.chain_of_identity or "-"),
        ("Cells", _custody_text(status)),
        ("Collection booked on", _day(status.collection_booked_on)),
        ("Expected release", _day(status.expected_release)),
        ("Next due", _due_text(next_due.what, next_due.due_on or next_due.window_closes) if next_due else "-"),
        ("Overdue", _yes(status.overdue)),
        ("Highest CRS / ICANS grade", f"{status.highest_crs_grade} / {status.highest_icans_grade}"),
        ("Infused on", _day(status.infused_on)),
        ("Primary endpoint", status.primary_endpoint.replace("_", " ")),
        ("Dose-limiting toxicity", _yes(status.dose_limiting_toxicity)),
        ("Last event", str(status.last_sequence)),
    ]
    if status.failed_criteria:
        rows.append(("Failed criteria", "\n".join(status.failed_criteria)))
    if status.deviations:
        rows.append(("Deviations", "\n".join(status.deviations)))
    if status.exit is not None:
        rows.append(("Exit", f"{status.exit.reason.value.replace('_', ' ')} on {_day(status.exit.on)}"))
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
                Text(report.report_id), report.due_at.isoformat(), _yes(report.overdue), Text("; ".join(report.reasons))
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
    help="Where one patient stands now; with --trial, the trial itself: enrollment (open, paused by the stopping "
    "rule, closed), the posterior over evaluable patients, how many more DLTs would pause, accrual.\n\n"
    + json_help(PatientStatus),
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
        trial_answer = TrialStatus.model_validate(call_api(api, profile, lambda client: client.get("/trial"), as_json))
        if as_json:
            print_json(trial_answer)
            return
        out = console()
        for table in _trial_status_output(trial_answer):
            out.print(table)
        return
    answer = PatientStatus.model_validate(
        call_api(api, profile, lambda client: client.get(f"/patients/{study_id}"), as_json, study_id=study_id)
    )
    if as_json:
        print_json(answer)
        return
    out = console()
    for table in _status_output(answer):
        out.print(table)


@app.command(rich_help_panel=PANEL, help="Every recorded event of one patient, oldest first.\n\n" + json_help(Timeline))
def timeline(
    study_id: Annotated[str, typer.Argument(metavar="STUDY_ID", help="The patient's study id.")],
    as_json: JsonOption = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    problems = Problems()
    checked_study_id(study_id, problems)
    problems.exit_if_any(as_json)
    answer = Timeline.model_validate(
        call_api(api, profile, lambda client: client.get(f"/patients/{study_id}/timeline"), as_json, study_id=study_id)
    )
    if as_json:
        print_json(answer)
        return
    table = Table(title=f"Timeline of {answer.study_id} (from the {answer.source})", title_justify="left")
    for column in ("#", "At (UTC)", "Event", "By", "Role", "Reason", "Signed"):
        table.add_column(column, overflow="fold")
    for entry in answer.entries:
        table.add_row(
            str(entry.sequence),
            entry.occurred_at.strftime("%Y-%m-%d %H:%M"),
            Text(entry.type + (f" (corrects #{entry.supersedes})" if entry.supersedes is not None else "")),
            Text(entry.actor_user_id),
            Text(entry.actor_role),
            Text(entry.reason or ""),
            Text(signature_words(entry.signature)),
        )
    console().print(table)


def signature_words(signature: Signature | None) -> str:
    """An electronic signature's manifestation: printed name, date and time with its UTC offset, and meaning."""
    if signature is None:
        return ""
    return f"{signature.printed_name}, {signature.signed_at.isoformat(timespec='minutes')} ({signature.meaning.value})"


# ---------------------------------------------------------------- the trial


@app.command(
    "list",
    rich_help_panel=PANEL,
    help=(
        "The journeys matching every filter given, by study id (Temporal's index: a change shows within a second "
        "or so; an ended journey is kept for the retention period).\n\n" + json_help(PatientListing) + " (a list)"
    ),
)
def list_patients(
    phase: Annotated[Phase | None, typer.Option("--phase", help="Only journeys in this phase.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only journeys with something overdue.")] = False,
    open_report: Annotated[
        bool, typer.Option("--open-report", help="Only journeys with an expedited report open.")
    ] = False,
    as_json: JsonOption = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    # A flag not given is no filter, never "only those without".
    filters = {
        "phase": phase.value if phase else None,
        "overdue": "true" if overdue else None,
        "expedited_report_open": "true" if open_report else None,
    }
    listings = _LISTINGS.validate_python(
        call_api(api, profile, lambda client: client.get("/patients", **filters), as_json)
    )
    if as_json:
        print_json(PatientList(tuple(listings)))
        return
    table = Table(title=f"Patients ({len(listings)})", title_justify="left")
    for column in ("Study id", "Phase", "Running", "Next due", "Overdue", "Report open", "CRS", "ICANS", "Protocol"):
        table.add_column(column, overflow="fold")
    for row in listings:
        table.add_row(
            Text(row.study_id),
            _words(row.phase),
            "yes" if row.running else "ended",
            _day(row.next_due_on),
            _yes(row.overdue),
            _yes(row.expedited_report_open),
            str(row.highest_crs_grade),
            str(row.highest_icans_grade),
            row.protocol_version or "-",
        )
    console().print(table)


def _rate(estimate: ProportionEstimate) -> str:
    if estimate.rate is None:
        return f"none assessed yet ({estimate.successes}/{estimate.total})"
    return (
        f"{estimate.rate:.1%} ({estimate.successes}/{estimate.total}), {estimate.confidence:.0%} CI "
        f"{estimate.ci_low:.1%} to {estimate.ci_high:.1%} (Clopper-Pearson)"
    )


def _grade_counts(counts: dict[int, int]) -> str:
    return ", ".join(f"grade {grade}: {count}" for grade, count in sorted(counts.items())) or "-"


def _report_output(report: TrialReport) -> list[Table]:
    enrollment, endpoint, toxicity, rule = (
        report.enrollment,
        report.primary_endpoint,
        report.toxicity,
        report.stopping_rule,
    )
    counts = (
        f"{enrollment.screened} screened ({enrollment.screening_attempts} screenings), "
        f"{enrollment.screen_failures} screen failures, {enrollment.enrolled} enrolled, {enrollment.infused} infused"
    )
    by_phase = Table(title=f"Enrollment: {counts}", title_justify="left")
    by_phase.add_column("Phase")
    by_phase.add_column("Patients", justify="right")
    for phase, count in enrollment.by_phase.items():
        by_phase.add_row(_words(phase), str(count))
    by_phase.add_row(Text("screen failures", style="italic"), str(enrollment.screen_failures))
    for reason, count in enrollment.exits_by_reason.items():
        by_phase.add_row(Text(f"exits: {reason.value.replace('_', ' ')}", style="italic"), str(count))
    efficacy = _facts(
        "Primary endpoint: complete response at 1 year",
        [
            ("Infused (evaluable)", str(endpoint.infused)),
            ("One-year outcome known", str(endpoint.assessed)),
            ("Pending", str(endpoint.pending)),
            ("CR rate", _rate(endpoint.cr_rate)),
        ],
    )
    safety = _facts(
        f"Toxicity: {toxicity.patients} infused patients, each at their highest grade",
        [
            ("CRS", _grade_counts(toxicity.highest_crs_grade)),
            ("ICANS", _grade_counts(toxicity.highest_icans_grade)),
            ("Dose-limiting toxicities", str(toxicity.dose_limiting_toxicities)),
        ],
    )
    stopping = _facts(
        "Stopping rule",
        [
            ("Status", Text("PAUSED: enrollment stops", style="bold red") if rule.paused else Text("not triggered")),
            ("Toxicities / patients", f"{rule.toxicities} / {rule.patients}"),
            ("Boundary at this size", "-" if rule.boundary is None else str(rule.boundary)),
            ("Explanation", rule.explanation),
        ],
    )
    return [by_phase, efficacy, safety, stopping]


@app.command(
    rich_help_panel=PANEL,
    help=(
        "The trial report from the trial record: enrollment by phase, CR rate at 1 year with its Clopper-Pearson "
        "confidence interval, CRS/ICANS grade counts, the stopping rule.\n\n" + json_help(TrialReport)
    ),
)
def report(
    as_json: JsonOption = False, api: ApiOption = DEFAULT_API_URL, profile: ProfileOption = DEFAULT_PROFILE
) -> None:
    answer = TrialReport.model_validate(call_api(api, profile, lambda client: client.get("/report"), as_json))
    if as_json:
        print_json(answer)
        return
    out = console()
    out.print(Text(f"Trial report (protocol {answer.protocol_version})", style="bold"))
    if answer.verification.warning:
        out.print(Text(f"WARNING: {answer.verification.warning}", style="bold red"))
        for patient in answer.verification.excluded:
            out.print(Text(f"  {patient.study_id} left out: {'; '.join(patient.problems)}"))
    for table in _report_output(answer):
        out.print(table)


@app.command(
    rich_help_panel=PANEL,
    help=(
        "Recompute the trial record's hash chain, compare every patient's head with their journey's workflow and "
        "the last signed checkpoint, and fold every summary again (the API does; `trial admin verify` reads the "
        "database directly): exit 0 when intact, 1 when any event was altered, deleted, inserted or reordered, a "
        "head or summary disagrees, or the checkpoint file is damaged (each problem named).\n\n"
        + json_help(VerificationReport)
    ),
)
def verify(
    as_json: JsonOption = False, api: ApiOption = DEFAULT_API_URL, profile: ProfileOption = DEFAULT_PROFILE
) -> None:
    answer = VerificationReport.model_validate(call_api(api, profile, lambda client: client.get("/verify"), as_json))
    print_verification(answer, as_json)


def print_verification(answer: VerificationReport, as_json: bool) -> None:
    """The verification's report in a sentence (or JSON); exit 1 when the record is not intact."""
    if as_json:
        print_json(answer)
    else:
        described = answer.describe()
        typer.echo(described[:1].upper() + described[1:])
    if not answer.ok:
        raise typer.Exit(REFUSED_EXIT_CODE)


# ---------------------------------------------------------------- notifications that did not arrive


class FailedNotifications(RootModel[tuple[DeliveryRecord, ...]]):
    """`trial notifications --json`: a JSON array of DeliveryRecord."""


@app.command(
    "notifications",
    rich_help_panel=PANEL,
    help=(
        "Notifications that did not reach someone, most recent first: the channel, the error, and whether the "
        "covering role was told (escalated). Exit 0 either way.\n\n" + json_help(FailedNotifications)
    ),
)
def failed_notifications(
    study_id: Annotated[
        str | None, typer.Option("--study-id", metavar="ID", help="Only this patient's.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    problems = Problems()
    if study_id is not None:
        checked_study_id(study_id, problems, field="--study-id")
    problems.exit_if_any(as_json)
    failed = _DELIVERIES.validate_python(
        call_api(api, profile, lambda client: client.get("/notifications/failed", study_id=study_id), as_json)
    )
    if as_json:
        print_json(FailedNotifications(tuple(failed)))
        return
    if not failed:
        typer.echo("Every notification was delivered" + (f" for {study_id}." if study_id else "."))
        return
    table = Table(title=f"Notifications not delivered ({len(failed)})", title_justify="left")
    for column in ("Last attempt", "Notification", "Role", "Staff", "Channel", "Attempts", "Error", "Escalated"):
        table.add_column(column, overflow="fold")
    for record in failed:
        table.add_row(
            Text(record.last_attempt_at.isoformat(timespec="minutes")),
            Text(record.notification_key),
            Text(record.role),
            Text(record.staff_id),
            Text(record.channel),
            Text(str(record.attempts)),
            Text(record.last_error or "-"),
            Text("yes" if record.escalated_at else "not yet"),
        )
    console().print(table)


# ---------------------------------------------------------------- the manufacturing slot calendar


@app.command(
    "slots",
    rich_help_panel=PANEL,
    help=(
        "The manufacturing slot calendar: apheresis collections booked per week against the site's capacity, "
        "products in manufacturing today, and the expected releases still to come.\n\n" + json_help(SlotCalendarView)
    ),
)
def slots(
    as_json: JsonOption = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    calendar = SlotCalendarView.model_validate(call_api(api, profile, lambda client: client.get("/slots"), as_json))
    if as_json:
        print_json(calendar)
        return
    capacity = calendar.capacity
    console().print(
        _facts(
            f"Slot calendar on {calendar.as_of.isoformat()}",
            [
                ("Collections a week", str(capacity.collections_per_week)),
                (
                    "In manufacturing",
                    f"{calendar.products_in_manufacturing} of {capacity.max_products_in_manufacturing}",
                ),
                ("Manufacturing takes", f"{capacity.manufacturing_days} days"),
            ],
        )
    )
    weeks = Table(title="Collections by week", title_justify="left")
    for column in ("Week of", "Booked", "Collections"):
        weeks.add_column(column, overflow="fold")
    for week in calendar.weeks:
        booked = ", ".join(
            f"{b.collection_date.isoformat()} {b.study_id} (collection {b.collection_number})" for b in week.bookings
        )
        weeks.add_row(week.week.isoformat(), f"{week.collections_booked} of {week.collections_per_week}", booked)
    releases = Table(title="Expected releases", title_justify="left")
    for column in ("Expected release", "Study id", "Collected on"):
        releases.add_column(column)
    for booking in calendar.expected_releases:
        releases.add_row(booking.expected_release.isoformat(), booking.study_id, booking.collection_date.isoformat())
    console().print(weeks)
    console().print(releases)
