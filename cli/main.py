"""`trial`: the command line of trialflow. The version and the protocol live here; each group of commands
lives in its own small module and is added below.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import Annotated, Any, NoReturn

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli import admin, audit, calculators, dsmb, examples, exports, login, signing, staff, supervisor
from cli.common import JsonOption, json_help, print_json, run_app
from cli.trial_help import trial_level_help
from domain.protocol import CURRENT_PROTOCOL, PROTOCOLS, FrozenModel, TrialProtocol, protocol_for_version

app = typer.Typer(
    name="trial",
    help="trialflow: the durable workflow engine of the pediatric CD19/CD22 CAR-T trial.\n\n" + trial_level_help(),
    no_args_is_help=True,
    add_completion=False,
)
# Without a name, a module's commands join the top level: `trial dose`, `trial grade crs`, ...
app.add_typer(calculators.app)
app.add_typer(staff.app)
app.add_typer(supervisor.app)
app.add_typer(dsmb.app)
app.add_typer(audit.app)
app.add_typer(exports.app)
app.add_typer(login.app)
app.add_typer(signing.app)
app.add_typer(admin.app)
app.add_typer(examples.app)


def _trialflow_version() -> str:
    try:
        return distribution_version("trialflow")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


class VersionInfo(FrozenModel):
    """What `trial version --json` prints."""

    trialflow: str
    protocol_current: str
    protocols_known: tuple[str, ...]


@app.command(help=f"The trialflow version and the protocol versions it knows.\n\n{json_help(VersionInfo)}")
def version(as_json: JsonOption = False) -> None:
    info = VersionInfo(
        trialflow=_trialflow_version(),
        protocol_current=CURRENT_PROTOCOL.version,
        protocols_known=tuple(sorted(PROTOCOLS)),
    )
    if as_json:
        print_json(info)
        return
    typer.echo(f"trialflow {info.trialflow}")
    typer.echo(f"protocol {info.protocol_current} (current); known: {', '.join(info.protocols_known)}")


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple | list):
        return ", ".join(_format_value(item) for item in value)
    return str(value)


def protocol_rows(model: BaseModel, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """(path, value) for every number and text of the protocol; a path is the section names then the field."""
    rows: list[tuple[tuple[str, ...], str]] = []
    for field_name in type(model).model_fields:
        value = getattr(model, field_name)
        if isinstance(value, BaseModel):
            rows += protocol_rows(value, (*path, field_name))
        elif isinstance(value, tuple) and value and all(isinstance(item, BaseModel) for item in value):
            for index, item in enumerate(value):
                # A member with a name (a visit series) is shown under that name, not a number.
                key = getattr(item, "name", None)
                member_rows = protocol_rows(item, (*path, f"{field_name}[{key or index}]"))
                rows += [row for row in member_rows if not (key and row[0][-1] == "name")]
        else:
            rows.append(((*path, field_name), _format_value(value)))
    return rows


def _protocol_table(protocol: TrialProtocol) -> Table:
    table = Table(title=f"Protocol {protocol.version}: {protocol.title}", title_justify="left", show_header=False)
    table.add_column("Parameter", overflow="fold")
    table.add_column("Value", overflow="fold", max_width=32)
    current_section: tuple[str, ...] = ()
    for path, value in protocol_rows(protocol):
        section, parameter = path[:-1], path[-1]
        if not section:  # version and title are in the title
            continue
        if section != current_section:
            # Text, not markup: "[first month]" in a name is not a style tag.
            table.add_row(Text(" › ".join(section), style="bold"), "")
            current_section = section
        table.add_row(Text(f"  {parameter}"), Text(value))
    return table


@app.command()
def protocol(
    protocol_version: Annotated[
        str | None,
        typer.Option("--version", "-v", help="Protocol version; the current one if omitted."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The full definition as JSON.")] = False,
) -> None:
    """The protocol definition: every parameter the software applies."""
    try:
        chosen = protocol_for_version(protocol_version) if protocol_version else CURRENT_PROTOCOL
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--version") from None
    if as_json:
        typer.echo(json.dumps(chosen.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    Console().print(_protocol_table(chosen))


def main() -> NoReturn:
    """The `trial` command."""
    run_app(app)


if __name__ == "__main__":
    main()
