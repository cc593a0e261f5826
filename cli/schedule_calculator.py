"""`trial schedule`: the visit calendar from an infusion date, with each window and, on a date, each visit's status."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.calculator_output import PANEL, options_given
from cli.common import (
    COLLECT_UNKNOWN_OPTIONS,
    JsonOption,
    Problems,
    ProtocolVersionOption,
    json_help,
    show,
)
from domain.protocol import FrozenModel, TrialProtocol
from domain.schedule import (
    ScheduledVisit,
    VisitStatus,
    chemotherapy_resumption_visit,
    efficacy_follow_up_end,
    follow_up_calendar,
    mrd_evaluation_visit,
    visit_status,
)

app = typer.Typer()


class ScheduleInput(FrozenModel):
    infusion_date: date
    status_on: date | None = None


_SCHEDULE_OPTIONS = {"infusion_date": "--infusion-date", "status_on": "--on"}


class CalendarEntry(FrozenModel):
    visit: ScheduledVisit
    status: VisitStatus | None  # only with --on: the visit's status on that date


class ScheduleReport(FrozenModel):
    """`trial schedule --json`: every visit and assessment, sorted by target date."""

    protocol_version: str
    infusion_date: date
    status_on: date | None
    efficacy_follow_up_end: date
    visits: tuple[CalendarEntry, ...]


def schedule_report(request: ScheduleInput, protocol: TrialProtocol) -> ScheduleReport:
    rules, infusion = protocol.schedule, request.infusion_date
    visits = sorted(
        (
            *follow_up_calendar(infusion, rules),
            mrd_evaluation_visit(infusion, rules),
            chemotherapy_resumption_visit(infusion, rules),
        ),
        key=lambda visit: visit.target_date,
    )
    on = request.status_on
    return ScheduleReport(
        protocol_version=protocol.version,
        infusion_date=infusion,
        status_on=on,
        efficacy_follow_up_end=efficacy_follow_up_end(infusion, rules),
        visits=tuple(
            CalendarEntry(visit=visit, status=visit_status(visit, on) if on is not None else None) for visit in visits
        ),
    )


_STATUS_STYLE = {
    VisitStatus.OPEN: "green",
    VisitStatus.CLOSING_SOON: "bold yellow",
    VisitStatus.MISSED: "bold red",
}


def _schedule_table(report: ScheduleReport) -> Table:
    table = Table(
        title=(
            f"Visit calendar: infusion (day 0) {report.infusion_date.isoformat()}, protocol {report.protocol_version}"
        ),
        title_justify="left",
        caption=(
            f"Efficacy follow-up ends {report.efficacy_follow_up_end.isoformat()}; "
            "long-term follow-up runs to the last visit. Window dates are inclusive."
        ),
        caption_justify="left",
    )
    for column in ("Code", "Visit", "Series", "Target", "Window opens", "Window closes", "Reminder"):
        table.add_column(column, no_wrap=column in ("Code", "Target", "Window opens", "Window closes", "Reminder"))
    if report.status_on is not None:
        table.add_column(f"Status on {report.status_on.isoformat()}", no_wrap=True)
    for entry in report.visits:
        visit = entry.visit
        cells = [
            Text(visit.code),
            Text(visit.label),
            Text(visit.series),
            Text(visit.target_date.isoformat()),
            Text(visit.window_opens.isoformat()),
            Text(visit.window_closes.isoformat()),
            Text(visit.remind_on.isoformat()),
        ]
        if entry.status is not None:
            cells.append(Text(entry.status.value.replace("_", " "), style=_STATUS_STYLE.get(entry.status, "")))
        table.add_row(*cells)
    return table


@app.command(
    rich_help_panel=PANEL,
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "The visit calendar from the infusion date to the end of long-term follow-up, with each window, the MRD "
        "evaluation and the resumption of chemotherapy; with --on, each visit's status on that date.\n\n"
        + json_help(ScheduleReport)
    ),
)
def schedule(
    context: typer.Context,
    infusion_date: Annotated[
        str | None,
        typer.Option("--infusion-date", metavar="YYYY-MM-DD", help="The CAR-T infusion date, day 0 (required)."),
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", metavar="YYYY-MM-DD", help="Show each visit's status on this date.")
    ] = None,
    protocol_version: ProtocolVersionOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    protocol = problems.protocol(protocol_version)
    request = problems.validated(
        ScheduleInput,
        options_given(infusion_date=infusion_date, status_on=on),
        labels=_SCHEDULE_OPTIONS,
        echo_input=True,
    )
    problems.exit_if_any(as_json)
    assert protocol is not None and request is not None
    report = schedule_report(request, protocol)
    show(report, lambda answer: [_schedule_table(answer)], as_json)
