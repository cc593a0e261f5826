"""`trial status`, `list`, `timeline`, `report`, `verify` and `notifications`: what supervisors read, through the
HTTP API with the signed-in credential.

Readable tables, or with `--json` the API's answer as the same models; errors as plain words with the study id (exit 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import RootModel, TypeAdapter
from rich.table import Table
from rich.text import Text

from cli.api_client import DEFAULT_API_URL, REFUSED_EXIT_CODE, ApiOption, ProfileOption, call_api
from cli.common import JsonOption, Problems, checked_study_id, console, json_help, print_json
from cli.credentials import DEFAULT_PROFILE
from cli.report_plots import write_report_plots
from cli.report_view import facts_table as _facts
from cli.report_view import print_report
from cli.status import PANEL, _day, _words, _yes, signature_words
from cli.trial_help import TRIAL_PANEL
from domain.journey.phases import Phase
from domain.slots import SlotCalendarView
from facade import DeliveryRecord, PatientListing, Timeline, TrialReport, VerificationReport

app = typer.Typer()


class PatientList(RootModel[tuple[PatientListing, ...]]):
    """`trial list --json`: a JSON array of PatientListing."""


_LISTINGS = TypeAdapter(tuple[PatientListing, ...])
_DELIVERIES = TypeAdapter(tuple[DeliveryRecord, ...])


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
            Text("\n".join(x for x in (entry.reason, *entry.details) if x)),
            Text(signature_words(entry.signature)),
        )
    console().print(table)


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


@app.command(
    rich_help_panel=PANEL,
    help=(
        "The trial report from the trial record: enrollment by phase, CR rate at 1 year by intention to treat and "
        "per protocol with Clopper-Pearson confidence intervals, the secondary endpoints (event-free and overall "
        "survival by Kaplan-Meier, MRD-negativity at day 28, CRS/ICANS incidence), CRS/ICANS grade counts, the "
        "stopping rule. With --plot DIR, also the survival curves and the stopping rule's posterior as PNG "
        "images.\n\n" + json_help(TrialReport)
    ),
)
def report(
    as_json: JsonOption = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="DIR",
            file_okay=False,
            help="Write event_free_survival.png, overall_survival.png and stopping_rule_posterior.png here.",
        ),
    ] = None,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    answer = TrialReport.model_validate(call_api(api, profile, lambda client: client.get("/report"), as_json))
    written = write_report_plots(answer, plot) if plot is not None else []
    if as_json:
        print_json(answer)
        return
    print_report(console(), answer)
    for path in written:
        console().print(Text(f"wrote {path}"))


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
    rich_help_panel=TRIAL_PANEL,
    help=(
        "The manufacturing slot calendar: apheresis collections booked per week against the site's capacity, "
        "products in manufacturing today, and the expected releases still to come. Supervisors use it to find a "
        "collection day when a consented patient's status says no slot is booked.\n\n" + json_help(SlotCalendarView)
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
