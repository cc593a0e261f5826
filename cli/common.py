"""What every `trial` command shares: the --protocol-version and --json options, JSON output, and input problems.

A command reports every problem with its input (unknown options included) at once in plain words and exits 2,
the usage-error code; nothing is calculated from input that has a problem."""

from __future__ import annotations

import difflib
import json
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, NoReturn, TypeVar, Union, get_args, get_origin

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from config.process_exit import exit_without_finalizing
from domain.identifiers import StudyId
from domain.protocol import CURRENT_PROTOCOL, FrozenModel, TrialProtocol, protocol_for_version
from facade.plain_words import plain_validation_message

if TYPE_CHECKING:  # imported where used: `trial version` and `trial dose` need neither
    from rich.console import Console
    from rich.table import Table

    from domain.eligibility import FailedCriterion

USAGE_ERROR_EXIT_CODE: Final = 2

# The parser would refuse the first unknown option alone; the command reports it with every other problem.
COLLECT_UNKNOWN_OPTIONS: Final[dict[str, Any]] = {"ignore_unknown_options": True, "allow_extra_args": True}

ProtocolVersionOption = Annotated[
    str | None,
    typer.Option(
        "--protocol-version",
        metavar="VERSION",
        help=f"Protocol version the calculation follows; the current one ({CURRENT_PROTOCOL.version}) if omitted.",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print the result as JSON (its shape is given above); problems go to stderr as JSON."),
]

ModelT = TypeVar("ModelT", bound=BaseModel)


class InputProblem(FrozenModel):
    """One thing wrong with the input: the option or field it concerns (None: the input as a whole)."""

    field: str | None
    message: str


class InputProblems(FrozenModel):
    """What `--json` prints on stderr when the input is refused."""

    problems: tuple[InputProblem, ...]


def print_json(model: BaseModel) -> None:
    typer.echo(json.dumps(model.model_dump(mode="json"), indent=2, ensure_ascii=False))


def show(answer: ModelT, tables: Callable[[ModelT], Iterable[Any]], as_json: bool) -> None:
    """The answer as JSON with --json, otherwise as the tables `tables` makes of it."""
    if as_json:
        print_json(answer)
        return
    out = console()
    for table in tables(answer):
        out.print(table)


def json_help(model: type[BaseModel]) -> str:
    """The --json paragraph of a command's help, written from the model itself so it cannot drift from it."""
    return (
        f"JSON (--json): {model.__name__}.model_dump(mode='json') ({model.__module__}), shaped "
        f"{json_shape(model)}. Dates are YYYY-MM-DD; numbers are plain JSON numbers."
    )


def json_shape(model: type[BaseModel]) -> str:
    """{field, field: {nested fields}, field: a|b|c, ...}: the keys `model_dump(mode="json")` writes."""
    return "{" + ", ".join(name + _value_shape(field.annotation) for name, field in model.model_fields.items()) + "}"


def _value_shape(annotation: Any) -> str:
    origin, arguments = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        present = [argument for argument in arguments if argument is not type(None)]
        shape = _value_shape(present[0]) if len(present) == 1 else ""
        if len(present) == len(arguments):
            return shape
        return f"{shape} or null" if shape else " (or null)"
    if origin is Literal:
        return ": " + "|".join(str(argument) for argument in arguments)
    if origin in (tuple, list) and arguments:
        item = _value_shape(arguments[0])
        return f": list of {item.removeprefix(': ')}" if item else ": list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ": " + json_shape(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ": " + "|".join(str(member.value) for member in annotation)
    return ""


class Problems:
    """Collects every problem with a command's input; `exit_if_any` reports them all and stops the command."""

    def __init__(self) -> None:
        self.found: list[InputProblem] = []

    def add(self, field: str | None, message: str) -> None:
        self.found.append(InputProblem(field=field, message=message))

    def protocol(self, version: str | None) -> TrialProtocol | None:
        """The protocol the command follows: `version`, or the current one."""
        if version is None:
            return CURRENT_PROTOCOL
        try:
            return protocol_for_version(version)
        except ValueError as error:
            self.add("--protocol-version", str(error))
            return None

    def validated(
        self,
        model: type[ModelT],
        values: Mapping[str, Any],
        *,
        labels: Mapping[str, str] | None = None,
        echo_input: bool = False,
        stand_ins: Mapping[str, Any] | None = None,
    ) -> ModelT | None:
        """`values` as a `model`, or None with every validation problem added. `labels`: each field as the user knows
        it (its option). `echo_input`: quote a refused value from `values` (never from the error, which may hold PHI).
        `stand_ins`: a valid value per field that may be refused, so the model's cross-field check runs in this report.
        """
        try:
            return model.model_validate(dict(values))
        except ValidationError as error:
            for detail in error.errors(include_url=False, include_input=False):
                self._add_validation_error(model, detail, values, labels or {}, echo_input)
            # A model checks its fields' consistency only once each is valid: stand-ins let that run in this report.
            consistency = _with_stand_ins(model, values, stand_ins or {}, error)
            if isinstance(consistency, ValidationError):
                for detail in consistency.errors(include_url=False, include_input=False):
                    if not detail["loc"]:
                        self._add_validation_error(model, detail, values, labels or {}, echo_input)
            return None

    def _add_validation_error(
        self,
        model: type[BaseModel],
        detail: ErrorDetails,
        values: Mapping[str, Any],
        labels: Mapping[str, str],
        echo_input: bool,
    ) -> None:
        location = detail["loc"]
        field = None
        if location:
            head = str(location[0])
            field = ".".join([labels.get(head, head), *(str(part) for part in location[1:])])
        if detail["type"] == "value_error":
            # A model's consistency check joins its problems with "; ": one line each.
            for message in str(detail.get("ctx", {}).get("error", detail["msg"])).split("; "):
                self.add(field, message)
            return
        message = plain_validation_message(detail)
        if detail["type"] == "extra_forbidden" and location:
            close = difflib.get_close_matches(str(location[0]), list(model.model_fields), n=1)
            message += f" (did you mean {close[0]}?)" if close else ""
        elif echo_input and len(location) == 1 and values.get(str(location[0])) is not None:
            message += f"; given {str(values[str(location[0])])!r}"
        self.add(field, message)

    def unknown_arguments(self, context: typer.Context) -> None:
        """Each option the command does not have (with the closest one it has), and each stray argument."""
        known = [name for param in context.command.get_params(context) for name in (*param.opts, *param.secondary_opts)]
        tokens = list(context.args)
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.startswith("-") and not _is_number(token):
                name = token.split("=", 1)[0]
                close = difflib.get_close_matches(name, known, n=1)
                self.add(name, "no such option" + (f" (did you mean {close[0]}?)" if close else ""))
                following = tokens[index + 1] if index + 1 < len(tokens) else None
                if "=" not in token and following is not None and not following.startswith("--"):
                    index += 1  # the unknown option's value: not a second problem
            else:
                self.add(None, f"unexpected argument {token!r}: every value is given with its option")
            index += 1

    def exit_if_any(self, as_json: bool) -> None:
        """Report every problem found on stderr and exit 2; return quietly when there is none."""
        if not self.found:
            return
        if as_json:
            typer.echo(
                json.dumps(InputProblems(problems=tuple(self.found)).model_dump(mode="json"), indent=2), err=True
            )
        else:
            count = len(self.found)
            typer.echo(
                f"Error: {count} problem{'' if count == 1 else 's'} with the input; nothing was calculated.", err=True
            )
            for problem in self.found:
                typer.echo(
                    f"  {problem.field}: {problem.message}" if problem.field else f"  {problem.message}", err=True
                )
        raise typer.Exit(USAGE_ERROR_EXIT_CODE)


def validated_with_stand_ins(
    model: type[ModelT], values: Mapping[str, Any], stand_ins: Mapping[str, Any]
) -> ModelT | None:
    """`values` as a `model` once each refused field is replaced by its stand-in; None if that is still invalid.

    For checks that need a whole model (ICANS scale against age) while another field is being refused.
    """
    try:
        return model.model_validate(dict(values))
    except ValidationError as error:
        result = _with_stand_ins(model, values, stand_ins, error)
        return result if isinstance(result, model) else None


def _with_stand_ins(
    model: type[ModelT], values: Mapping[str, Any], stand_ins: Mapping[str, Any], error: ValidationError
) -> ModelT | ValidationError | None:
    """Validate again with stand-ins for the fields `error` refused: the model, its new error, or None (no stand-in)."""
    refused = {
        str(detail["loc"][0]) for detail in error.errors(include_url=False, include_input=False) if detail["loc"]
    }
    if not refused or not refused <= stand_ins.keys():
        return None
    try:
        return model.model_validate({**values, **{field: stand_ins[field] for field in refused}})
    except ValidationError as consistency:
        return consistency


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def checked_study_id(study_id: str, problems: Problems, field: str = "STUDY_ID") -> str | None:
    try:
        return TypeAdapter(StudyId).validate_python(study_id)
    except ValidationError:
        problems.add(field, f"{study_id!r} is not a study id: capital letters or digits, a dash and more (TF-001)")
        return None


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def failed_criteria_table(criteria: Iterable[FailedCriterion]) -> Table:
    """Every failed eligibility criterion with its reason, as `trial eligibility` and `trial enroll` show them."""
    from rich.table import Table
    from rich.text import Text

    failed = Table(title="Failed criteria", title_justify="left")
    failed.add_column("Kind", no_wrap=True)
    failed.add_column("Criterion", no_wrap=True)
    failed.add_column("Reason", overflow="fold")
    for criterion in criteria:
        failed.add_row(Text(criterion.kind.value), Text(criterion.code), Text(criterion.reason))
    return failed


def run_app(app: typer.Typer) -> NoReturn:
    """Run a command line, then exit without finalizing the interpreter once its output is flushed: a command that
    used the Temporal client could otherwise crash at exit after printing its answer (the SDK's Rust threads,
    temporalio/sdk-python#300), so a nurse would see a failure for a step that was recorded."""
    try:
        app()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if isinstance(code, str):  # sys.exit("message"): printed, exit 1, as the interpreter does
        print(code, file=sys.stderr)
    exit_without_finalizing(code if isinstance(code, int) else 0 if code is None else 1)
