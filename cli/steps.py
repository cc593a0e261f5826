"""The steps `trial record` takes, from the command registry, and each step's own help (`trial record STUDY_ID STEP
--help`): what it records, who may record it, whether it is signed, and every field it takes, with its unit."""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Iterator, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand

from domain.journey.command_registry import STAFF_COMMANDS, CommandEntry, Signed
from domain.journey.commands import EnrollPatient

if TYPE_CHECKING:  # the click typer runs on: its own copy in recent versions
    from typer._click import Context, HelpFormatter

# Each staff step but enrollment (`trial enroll`), by its name on the command line: its kind with dashes.
STEPS: Final[dict[str, CommandEntry]] = {
    kind.replace("_", "-"): entry for kind, entry in STAFF_COMMANDS.items() if entry.model is not EnrollPatient
}

_RAW_ARGUMENTS = "trialflow.raw_arguments"


def _words(annotation: Any) -> str:
    """What a field's value is, in words."""
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _words(arguments[0])
    if origin in (Union, types.UnionType):
        return " or ".join(_words(argument) for argument in arguments if argument is not type(None))
    if origin is Literal:
        return "one of: " + ", ".join(str(argument) for argument in arguments)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of: " + ", ".join(str(member.value) for member in annotation)
    if origin in (tuple, list):
        return "a list (JSON)"
    named: dict[Any, str] = {
        bool: "true or false",
        int: "whole number",
        float: "number",
        str: "text",
        dt.date: "date (YYYY-MM-DD)",
        dt.datetime: "date and time with UTC offset",
    }
    return named.get(annotation, "a value")


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (or holds a list of), and whether it is a list."""
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        present = [argument for argument in arguments if argument is not type(None)]
        return _inner_model(present[0]) if len(present) == 1 else (None, False)
    if origin in (tuple, list) and arguments:
        model, _ = _inner_model(arguments[0])
        return model, True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def field_rows(
    model: type[BaseModel], entry: CommandEntry, prefix: str = "", required: bool = True
) -> Iterator[tuple[str, str, str, bool]]:
    """(dotted path, value in words, unit, required) for every field a person gives, nested fields included."""
    for name, info in model.model_fields.items():
        if not prefix and name in ("actor", "kind", "signature"):  # the credential and --sign give these
            continue
        path = prefix + name
        needed = required and info.is_required()
        inner, is_list = _inner_model(info.annotation)
        if inner is None:
            yield path, _words(info.annotation), entry.units.get(path, ""), needed
            continue
        if is_list:
            yield path, "a list (JSON) of objects with the fields below", "", needed
        yield from field_rows(inner, entry, f"{path}[]." if is_list else f"{path}.", needed)


def _fields_table(rows: Sequence[tuple[str, str, str, bool]]) -> Table:
    table = Table(
        title="Fields (--set FIELD=VALUE, or --file with a JSON object of them)", title_justify="left", box=None
    )
    table.add_column("Field", no_wrap=True)
    table.add_column("Value", overflow="fold")
    table.add_column("Unit", no_wrap=True)
    table.add_column("", no_wrap=True)
    for path, words, unit, required in rows:
        table.add_row(Text(path), Text(words), Text(unit), Text("required" if required else "optional"))
    return table


def step_help(step: str, entry: CommandEntry, options: Sequence[str]) -> Group:
    """The help of one step, as `trial record STUDY_ID STEP --help` prints it; `options`: `trial record`'s own."""
    roles = sorted(role.value.replace("_", " ") for role in entry.roles)
    signed = {
        Signed.ALWAYS: "yes, always (your signing PIN is asked for)",
        Signed.NEVER: "no",
        Signed.WHEN: f"when {entry.signed_when} (then add --sign)",
    }[entry.signed]
    facts = Text.assemble(
        (f"Usage: trial record STUDY_ID {step} [OPTIONS]\n\n", "bold"),
        f"{entry.help}\n\n",
        ("Recorded by: ", "bold"),
        f"{', '.join(roles)}\n",
        ("Electronically signed: ", "bold"),
        f"{signed}\n",
    )
    rows = list(field_rows(entry.model, entry))
    fields = _fields_table(rows) if rows else Text("Fields: none; the step itself is the record.")
    listed = Text(f"\nOptions: {', '.join(options)} (`trial record --help` explains them).")
    return Group(facts, fields, listed)


class RecordCommand(TyperCommand):
    """`trial record`, whose --help shows one step's help when a step is named."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        ctx.meta[_RAW_ARGUMENTS] = list(args)  # --help is answered while parsing, before the arguments are set
        return super().parse_args(ctx, args)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        raw: Sequence[str] = ctx.meta.get(_RAW_ARGUMENTS, ())
        step = next((argument for argument in raw if argument in STEPS), None)
        if step is None:
            super().format_help(ctx, formatter)
            return
        options = [
            param.opts[0]
            for param in self.get_params(ctx)
            if param.opts[0].startswith("--") and param.opts[0] != "--help"
        ]
        Console(highlight=False).print(step_help(step, STEPS[step], options))
