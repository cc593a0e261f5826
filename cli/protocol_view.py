"""`trial protocol`: the protocol definition of a version as a table or JSON, and `trial protocol diff A B`: what an
amendment changes, parameter by parameter."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from domain.protocol import CURRENT_PROTOCOL, FrozenModel, TrialProtocol, protocol_for_version

app = typer.Typer(
    help="The protocol definition: every parameter the software applies (`diff` compares two versions).",
    invoke_without_command=True,
    no_args_is_help=False,
)

Path = tuple[str, ...]
NONE = "none"  # a parameter without a value (an empty list, or not given); a diff takes a missing one as this


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() else f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple | list):
        return ", ".join(_format_value(item) for item in value) or NONE
    if value is None:
        return NONE
    return str(value)


def protocol_rows(model: BaseModel, path: Path = ()) -> list[tuple[Path, str]]:
    """(path, value) for every number and text of the protocol; a path is the section names then the field."""
    rows: list[tuple[Path, str]] = []
    for field_name in type(model).model_fields:
        value = getattr(model, field_name)
        if isinstance(value, BaseModel):
            rows += protocol_rows(value, (*path, field_name))
        elif isinstance(value, tuple) and value and all(isinstance(item, BaseModel) for item in value):
            for index, item in enumerate(value):
                # A member with a name (a visit series) or a code (a visit's own window) is shown under it.
                key_field = next((k for k in ("name", "code") if isinstance(getattr(item, k, None), str)), None)
                key = getattr(item, key_field) if key_field else None
                member_rows = protocol_rows(item, (*path, f"{field_name}[{key or index}]"))
                rows += [row for row in member_rows if not (key_field and row[0][-1] == key_field)]
        else:
            rows.append(((*path, field_name), _format_value(value)))
    return rows


def _chosen(version: str | None, hint: str) -> TrialProtocol:
    try:
        return protocol_for_version(version) if version else CURRENT_PROTOCOL
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=hint) from None


def _protocol_table(protocol: TrialProtocol) -> Table:
    table = Table(title=f"Protocol {protocol.version}: {protocol.title}", title_justify="left", show_header=False)
    table.add_column("Parameter", overflow="fold")
    table.add_column("Value", overflow="fold", max_width=32)
    current_section: Path = ()
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


@app.callback()
def protocol(
    ctx: typer.Context,
    protocol_version: Annotated[
        str | None,
        typer.Option("--version", "-v", help="Protocol version; the current one if omitted."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The full definition as JSON.")] = False,
) -> None:
    """The protocol definition: every parameter the software applies."""
    if ctx.invoked_subcommand is not None:
        return
    chosen = _chosen(protocol_version, "--version")
    if as_json:
        typer.echo(json.dumps(chosen.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    Console().print(_protocol_table(chosen))


class ProtocolChange(FrozenModel):
    """One parameter an amendment changes: its path (sections, then the field), and its value in each version."""

    parameter: str
    before: str
    after: str


def protocol_changes(base: TrialProtocol, amended: TrialProtocol) -> list[ProtocolChange]:
    """Every parameter whose value differs, in the order of the definition (the base's, then new ones)."""
    before = {" › ".join(path): value for path, value in protocol_rows(base) if path != ("version",)}
    after = {" › ".join(path): value for path, value in protocol_rows(amended) if path != ("version",)}
    names = [*before, *(name for name in after if name not in before)]
    return [
        ProtocolChange(parameter=name, before=before.get(name, NONE), after=after.get(name, NONE))
        for name in names
        if before.get(name, NONE) != after.get(name, NONE)
    ]


@app.command()
def diff(
    base: Annotated[str, typer.Argument(help="The version compared from, e.g. 1.0.")],
    amended: Annotated[str, typer.Argument(help="The version compared to, e.g. 1.1.")],
    as_json: Annotated[bool, typer.Option("--json", help="The changes as a JSON list.")] = False,
) -> None:
    """What changes from one protocol version to another, parameter by parameter."""
    changes = protocol_changes(_chosen(base, "BASE"), _chosen(amended, "AMENDED"))
    if as_json:
        typer.echo(json.dumps([c.model_dump(mode="json") for c in changes], indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Protocol {base} → {amended}: {len(changes)} changes", title_justify="left")
    table.add_column("Parameter", overflow="fold")
    table.add_column(base, overflow="fold", max_width=32)
    table.add_column(amended, overflow="fold", max_width=32)
    for change in changes:
        table.add_row(Text(change.parameter), Text(change.before), Text(change.after))
    Console().print(table)
