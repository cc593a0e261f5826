"""`trial audit STUDY_ID`: a patient's audit trail from the trial record, as JSON lines or CSV, through the HTTP API.

Every event with its sequence, hash and previous hash (an auditor can recompute the chain: records/hashing.py),
then every refused attempt, marked `refused_attempt`. `trial verify` checks the chain."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from cli.api_client import DEFAULT_API_URL, ApiOption, ProfileOption, call_api
from cli.common import COLLECT_UNKNOWN_OPTIONS, Problems
from cli.credentials import DEFAULT_PROFILE
from cli.staff import checked_study_id
from cli.supervisor import PANEL
from facade import AuditFormat
from facade.audit import EVENT

app = typer.Typer()


# Where an export goes: a file only its owner may read, or stdout.
OutputFileOption = Annotated[
    str | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write to FILE (owner-only) instead of stdout."),
]


def output_file_problem(output: str) -> str | None:
    path = Path(output)
    if path.is_dir():
        return f"{output} is a directory: name the file to write"
    if not path.parent.is_dir():
        return f"the directory {path.parent} does not exist"
    return None


def write_privately(path: Path, data: str | bytes) -> None:
    """Whole or not at all, readable by its owner only: the payloads hold patient data (a birth date)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _counted(text: str, chosen: AuditFormat) -> str:
    if chosen is AuditFormat.CSV:
        kinds = [row.get("entry") for row in csv.DictReader(io.StringIO(text))]
    else:
        kinds = [json.loads(line).get("entry") for line in text.splitlines() if line.strip()]
    events = sum(1 for kind in kinds if kind == EVENT)
    refused = len(kinds) - events
    return f"{events} event{'' if events == 1 else 's'}, {refused} refused attempt{'' if refused == 1 else 's'}"


@app.command(
    rich_help_panel=PANEL,
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "A patient's audit trail from the trial record: every event (who, when, what, why for corrections) with its "
        "sequence, hash and previous hash, then every refused attempt (entry = refused_attempt). JSON lines (one "
        "AuditEntry object a line, facade/audit.py) or CSV (a header row of the same fields). Exit 1 for an "
        "unknown patient."
    ),
)
def audit(
    context: typer.Context,
    study_id: Annotated[str, typer.Argument(metavar="STUDY_ID", help="The patient's study id.")],
    audit_format: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="jsonl (default) or csv.", show_default=False)
    ] = AuditFormat.JSONL.value,
    output: OutputFileOption = None,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    checked_study_id(study_id, problems)
    chosen = {known.value: known for known in AuditFormat}.get(audit_format.strip().lower())
    if chosen is None:
        problems.add("--format", f"{audit_format!r} is not a format: jsonl or csv")
    if output is not None and (problem := output_file_problem(output)):
        problems.add("--output", problem)
    problems.exit_if_any(as_json=False)
    assert chosen is not None
    text = call_api(
        api,
        profile,
        lambda client: client.request("GET", f"/patients/{study_id}/audit", params={"format": chosen.value}).text,
        as_json=False,
        study_id=study_id,
    )
    if output is None:
        typer.echo(text, nl=False)
        return
    write_privately(Path(output), text)
    typer.echo(f"Wrote the audit trail of {study_id} to {output}: {_counted(text, chosen)} ({chosen.value}).", err=True)
