"""`trial export odm` and `trial export sdtm`: the whole trial record in CDISC ODM 1.3.2, or as SDTM datasets (CSV
and SAS transport v5) with define.xml, through the HTTP API (supervisors)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Annotated, Final

import typer

from cli.api_client import DEFAULT_API_URL, ApiOption, ProfileOption, call_api, fail
from cli.audit import OutputFileOption, output_file_problem, write_privately
from cli.common import COLLECT_UNKNOWN_OPTIONS, Problems
from cli.credentials import DEFAULT_PROFILE
from cli.supervisor import PANEL

app = typer.Typer()
export_app = typer.Typer(help="The trial record in the standard formats: CDISC ODM 1.3.2, SDTM datasets.")
app.add_typer(export_app, name="export", rich_help_panel=PANEL)

# What the SDTM archive may hold: flat file names only (nothing is written outside DIR).
_ARCHIVE_MEMBER: Final = re.compile(r"^[a-z]{2}\.(csv|xpt)$|^define\.xml$")


def _directory_problem(output: str) -> str | None:
    path = Path(output)
    if path.exists() and not path.is_dir():
        return f"{output} is a file: name a directory (it is made if it does not exist)"
    if not path.exists() and not path.parent.is_dir():
        return f"the directory {path.parent} does not exist"
    return None


@export_app.command(
    "odm",
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "The whole trial record as one CDISC ODM 1.3.2 document: the study metadata from the protocol and the steps, "
        "every patient's events with their audit records (who, when, why) and electronic signatures. No names or "
        "birth dates. Supervisors only."
    ),
)
def odm(
    context: typer.Context,
    output: OutputFileOption = None,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    if output is not None and (problem := output_file_problem(output)):
        problems.add("--output", problem)
    problems.exit_if_any(as_json=False)
    document = call_api(api, profile, lambda client: client.request("GET", "/exports/odm").content, as_json=False)
    if output is None:
        typer.echo(document.decode("utf-8"), nl=False)
        return
    write_privately(Path(output), document)
    typer.echo(f"Wrote the trial record as CDISC ODM 1.3.2 to {output} ({len(document)} bytes).", err=True)


@export_app.command(
    "sdtm",
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "The trial record as SDTM datasets in DIR: dm, ds, ex, ae, rs and sv, each as .csv and .xpt (SAS transport "
        "version 5), with define.xml (Define-XML 2.1). DIR is made if it does not exist; files are owner-only. "
        "Supervisors only."
    ),
)
def sdtm(
    context: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", metavar="DIR", help="The directory to write into.")],
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    if problem := _directory_problem(output):
        problems.add("--output", problem)
    problems.exit_if_any(as_json=False)
    archive = call_api(api, profile, lambda client: client.request("GET", "/exports/sdtm").content, as_json=False)
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as files:
            members = files.namelist()
            if unexpected := [name for name in members if not _ARCHIVE_MEMBER.match(name)]:
                fail(f"the API's SDTM archive holds unexpected files ({', '.join(unexpected)}): nothing was written")
            contents = {name: files.read(name) for name in members}
    except zipfile.BadZipFile:
        fail("the API's answer is not a zip archive: nothing was written")
    directory = Path(output)
    directory.mkdir(mode=0o700, exist_ok=True)
    for name, data in sorted(contents.items()):
        write_privately(directory / name, data)
    typer.echo(f"Wrote {len(contents)} files to {output}: {', '.join(sorted(contents))}.", err=True)
