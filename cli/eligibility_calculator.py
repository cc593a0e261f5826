"""`trial eligibility`: screening data checked against every inclusion and exclusion criterion; and the reading of a
screening file that `trial enroll` shares."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cli.calculator_output import PANEL, facts_table, plain_number
from cli.common import (
    COLLECT_UNKNOWN_OPTIONS,
    JsonOption,
    Problems,
    ProtocolVersionOption,
    failed_criteria_table,
    json_help,
    show,
)
from domain.eligibility import EligibilityResult, NewScreening, assess_eligibility
from domain.protocol import FrozenModel, TrialProtocol

app = typer.Typer()


class EligibilityReport(FrozenModel):
    """`trial eligibility --json`. The screening data (with its birth date) is never part of it."""

    protocol_version: str
    result: EligibilityResult


def read_text(source: str, problems: Problems) -> str | None:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add("--file", f"there is no file {source!r}")
    except IsADirectoryError:
        problems.add("--file", f"{source!r} is a folder, not a file")
    except UnicodeDecodeError:
        problems.add("--file", f"{source!r} is not a UTF-8 text file")
    except OSError as error:
        problems.add("--file", f"{source!r} cannot be read: {error.strerror}")
    return None


def screening_document(text: str, problems: Problems) -> dict[str, Any] | None:
    """The JSON object in `text`. No message quotes the file's content: it holds a birth date (PHI)."""
    if not text.strip():
        problems.add("--file", "the screening file is empty: it must hold one JSON object")
        return None
    repeated: list[str] = []

    def no_repeated_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        repeated.extend(sorted({name for name in names if names.count(name) > 1}))
        return dict(pairs)

    try:
        document = json.loads(text, object_pairs_hook=no_repeated_fields)
    except json.JSONDecodeError as error:
        problems.add("--file", f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}")
        return None
    for name in repeated:
        problems.add(name, "is given more than once: give each field once")
    if not isinstance(document, dict):
        problems.add("--file", "the screening file must hold one JSON object of named fields")
        return None
    return document


def _egfr_shown(value: float, threshold: float) -> str:
    """To one decimal unless that would put it on the other side of the threshold."""
    for decimals in range(1, 16):
        shown = round(value, decimals)
        if (shown < threshold) == (value < threshold):
            return plain_number(shown)
    return plain_number(value)


def _eligibility_output(report: EligibilityReport, protocol: TrialProtocol) -> list[Table]:
    result = report.result
    verdict = (
        Text("ELIGIBLE: every inclusion criterion is met and no exclusion criterion applies", style="bold green")
        if result.eligible
        else Text(
            f"NOT ELIGIBLE: {len(result.failed)} criteri{'on' if len(result.failed) == 1 else 'a'} failed",
            style="bold red",
        )
    )
    egfr = _egfr_shown(result.egfr_ml_min_173m2, protocol.eligibility.min_egfr_ml_min_173m2)
    summary = facts_table(
        f"Eligibility (protocol {report.protocol_version})",
        [
            ("Result", verdict),
            ("Age", f"{result.age_years} years"),
            ("eGFR (bedside Schwartz)", f"{egfr} mL/min/1.73 m²"),
            ("Performance scale", result.performance_scale.value.capitalize()),
            ("CNS3", "yes" if result.cns3 else "no"),
        ],
    )
    if result.eligible:
        return [summary]
    return [summary, failed_criteria_table(result.failed)]


@app.command(
    rich_help_panel=PANEL,
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "Check screening data against every inclusion and exclusion criterion: eligible, or every failed criterion "
        "with its reason. The file is a ScreeningData JSON object (domain/eligibility.py); its birth date is never "
        "shown. Exits 0 with a result, eligible or not.\n\n" + json_help(EligibilityReport)
    ),
)
def eligibility(
    context: typer.Context,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", "-f", metavar="PATH", help="The screening data as JSON; - reads it from stdin (required)."
        ),
    ] = None,
    protocol_version: ProtocolVersionOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    protocol = problems.protocol(protocol_version)
    data = None
    if file is None:
        problems.add("--file", "is required: the screening data as a JSON file, or - for stdin")
    else:
        text = read_text(file, problems)
        document = screening_document(text, problems) if text is not None else None
        if document is not None:
            # echo_input stays off: no value from the file is quoted back (the birth date is PHI).
            data = problems.validated(NewScreening, document)
    problems.exit_if_any(as_json)
    assert protocol is not None and data is not None
    report = EligibilityReport(protocol_version=protocol.version, result=assess_eligibility(data, protocol.eligibility))
    show(report, lambda answer: _eligibility_output(answer, protocol), as_json)
