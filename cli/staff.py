"""`trial enroll` and `trial record`: what operators and staff ask of a patient's journey, through the one facade.

The acting user is `--by`/`--role` or TRIALFLOW_USER/TRIALFLOW_ROLE, never invented. Input problems exit 2 before
anything is sent; a refusal by the workflow or the trial client is printed with every reason and exits 1."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from typing import Annotated, Any, Final, TypeVar

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Table
from rich.text import Text
from temporalio.service import RPCError, RPCStatusCode

from cli.calculators import _read_text, _screening_document
from cli.common import COLLECT_UNKNOWN_OPTIONS, JsonOption, Problems, failed_criteria_table, json_help, print_json
from cli.steps import STEPS, RecordCommand
from config.settings import ENV_PREFIX, Settings, SettingsError, load_settings
from domain.identifiers import StudyId
from domain.journey.commands import EnrollPatient
from domain.roles import Actor, Role
from facade import EnrollmentResult, TrialClient, TrialError, open_trial_client
from facade.trial_client import AUDIT_LOGGER
from observability.logging import configure_logging
from security import KeyringConfigurationError, payload_keyring
from workflows.journey_messages import RecordResult

PANEL = "Operators and staff (server needed)"
REFUSED_EXIT_CODE: Final = 1  # the workflow or the trial client refused; 2 stays the input-problem code
CONFIGURATION_EXIT_CODE: Final = 2

T = TypeVar("T")

app = typer.Typer()


# ---------------------------------------------------------------- who acts


class IdentitySettings(BaseSettings):
    """TRIALFLOW_USER and TRIALFLOW_ROLE, from the environment or `.env`, as the other settings are."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)

    user: str | None = None
    role: str | None = None


ByOption = Annotated[
    str | None,
    typer.Option("--by", metavar="USER", help=f"Who acts; {ENV_PREFIX}USER when omitted.", show_default=False),
]
RoleOption = Annotated[
    str | None,
    typer.Option(
        "--role",
        metavar="ROLE",
        help=f"The acting user's study role ({', '.join(r.value for r in Role if r is not Role.SYSTEM)}); "
        f"{ENV_PREFIX}ROLE when omitted.",
        show_default=False,
    ),
]

# A valid actor put in while the real one is being refused, so the command's own problems are named too.
_STAND_IN_ACTOR = Actor(user_id="stand-in", role=Role.NURSE)


def acting_user(by: str | None, role: str | None, problems: Problems) -> Actor | None:
    """The actor from the options, else the configuration; every problem added, never a role made up."""
    configured = IdentitySettings()
    user_id, role_value = by or configured.user, role or configured.role
    if not user_id:
        problems.add("--by", f"who acts is required: give --by USER or set {ENV_PREFIX}USER")
    if not role_value:
        problems.add("--role", f"the acting user's role is required: give --role ROLE or set {ENV_PREFIX}ROLE")
    if not user_id or not role_value:
        return None
    if role_value == Role.SYSTEM.value:
        problems.add("--role", "system is the workflow's own role: no person acts as it")
        # The user id is still checked, with a stand-in role, so every problem is named at once.
        problems.validated(Actor, {"user_id": user_id, "role": Role.NURSE}, labels={"user_id": "--by"}, echo_input=True)
        return None
    return problems.validated(
        Actor, {"user_id": user_id, "role": role_value}, labels={"user_id": "--by", "role": "--role"}, echo_input=True
    )


def checked_study_id(study_id: str, problems: Problems, field: str = "STUDY_ID") -> str | None:
    try:
        return TypeAdapter(StudyId).validate_python(study_id)
    except ValidationError:
        problems.add(field, f"{study_id!r} is not a study id: capital letters or digits, a dash and more (TF-001)")
        return None


# ---------------------------------------------------------------- the server, and what it answers


def loaded_settings() -> Settings:
    try:
        settings = load_settings()
        payload_keyring(settings)  # what the Temporal client will need
        return settings
    except (SettingsError, KeyringConfigurationError) as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(CONFIGURATION_EXIT_CODE) from None


def _unreachable(settings: Settings) -> str:
    return (
        f"Error: cannot reach the Temporal server at {settings.temporal_address} "
        f"(namespace {settings.temporal_namespace}): is it running (`make run`), and is "
        f"{ENV_PREFIX}TEMPORAL_ADDRESS right?"
    )


def print_trial_error(error: TrialError, as_json: bool) -> None:
    """The facade's refusal in plain words with every reason; as a JSON object on stderr with --json."""
    if as_json:
        document = {"code": error.code, "study_id": error.study_id, "message": error.message, "reasons": error.reasons}
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False), err=True)
        return
    if len(error.reasons) > 1 or error.reasons[0] != error.message:
        count = len(error.reasons)
        typer.echo(f"Error: {error.study_id}: refused for {count} reason{'' if count == 1 else 's'}:", err=True)
        for reason in error.reasons:
            typer.echo(f"  - {reason}", err=True)
    else:
        typer.echo(f"Error: {error.message}", err=True)


def run_with_trial(call: Callable[[TrialClient], Awaitable[T]], as_json: bool) -> T:
    """`call` on a trial client from the settings; every failure becomes plain words and an exit code."""
    settings = loaded_settings()
    # Log lines go to stderr, so `--json` output on stdout stays pure; routine lines only when debugging.
    configure_logging(settings.log_format, "DEBUG" if settings.log_level == "DEBUG" else "WARNING", stream=sys.stderr)
    # A refusal is printed in words (or as the --json problem document) and kept in the record's refused
    # attempts: its audit log line would only repeat it on the user's terminal.
    logging.getLogger(AUDIT_LOGGER).setLevel(logging.ERROR)

    async def connected() -> T:
        async with open_trial_client(settings) as trial:
            return await call(trial)

    try:
        return asyncio.run(connected())
    except TrialError as error:
        print_trial_error(error, as_json)
        raise typer.Exit(REFUSED_EXIT_CODE) from None
    except RuntimeError as error:
        if not str(error).startswith("Failed client connect"):
            raise
        typer.echo(_unreachable(settings), err=True)
        raise typer.Exit(REFUSED_EXIT_CODE) from None
    except RPCError as error:
        if error.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            typer.echo(_unreachable(settings), err=True)
        else:
            typer.echo(f"Error: the Temporal server could not do it ({error.status.name}): {error.message}", err=True)
        raise typer.Exit(REFUSED_EXIT_CODE) from None


def console() -> Console:
    return Console(highlight=False)


# ---------------------------------------------------------------- enroll


def _enrollment_output(result: EnrollmentResult) -> list[Table]:
    facts = Table(title=f"Enrollment of {result.study_id}", title_justify="left", show_header=False)
    facts.add_column("Item", style="bold", no_wrap=True)
    facts.add_column("Value", overflow="fold")
    verdict = (
        Text("ELIGIBLE: awaiting the investigator's confirmation", style="bold green")
        if result.eligible
        else Text(f"SCREEN FAILURE: {len(result.failed_criteria)} criteria failed; recorded", style="bold red")
    )
    facts.add_row("Result", verdict)
    facts.add_row("Phase", Text(result.phase.value.replace("_", " ")))
    facts.add_row("Workflow", Text(result.workflow_id))
    if result.eligible:
        return [facts]
    return [facts, failed_criteria_table(result.failed_criteria)]


@app.command(
    rich_help_panel=PANEL,
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "Enroll a patient from their screening data: eligibility is decided, and a screen failure is recorded "
        "with every reason (exit 0 either way). The file is a ScreeningData JSON object (domain/eligibility.py). "
        "The same study id twice is refused (exit 1).\n\n" + json_help(EnrollmentResult)
    ),
)
def enroll(
    context: typer.Context,
    study_id: Annotated[
        str | None, typer.Option("--study-id", metavar="ID", help="The patient's study id (required).")
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", "-f", metavar="PATH", help="The screening data as JSON; - reads it from stdin (required)."
        ),
    ] = None,
    by: ByOption = None,
    role: RoleOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    actor = acting_user(by, role, problems)
    if study_id is None:
        problems.add("--study-id", "is required: the patient's study id")
    else:
        checked_study_id(study_id, problems, "--study-id")
    command = None
    if file is None:
        problems.add("--file", "is required: the screening data as a JSON file, or - for stdin")
    else:
        text = _read_text(file, problems)
        document = _screening_document(text, problems) if text is not None else None
        if document is not None and study_id is not None:
            # No value from the file is quoted back: it holds a birth date (PHI).
            command = problems.validated(
                EnrollPatient,
                {"actor": actor or _STAND_IN_ACTOR, "study_id": study_id, "screening": document},
                labels={"study_id": "--study-id"},
            )
    problems.exit_if_any(as_json)
    assert command is not None
    result = run_with_trial(lambda trial: trial.enroll(command), as_json)
    if as_json:
        print_json(result)
        return
    out = console()
    for table in _enrollment_output(result):
        out.print(table)


# ---------------------------------------------------------------- record


# Each staff command's model by its step name (its kind with dashes); enrollment has its own command.
COMMAND_MODELS: Final[dict[str, type[BaseModel]]] = {step: entry.model for step, entry in STEPS.items()}


def _document(source: str, problems: Problems) -> dict[str, Any] | None:
    """The JSON object of the command's fields in `source` (a file, or - for stdin)."""
    text = _read_text(source, problems)
    if text is None:
        return None
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        problems.add("--file", f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}")
        return None
    if not isinstance(document, dict):
        problems.add("--file", "the command file must hold one JSON object of named fields")
        return None
    return document


def _set_value(text: str) -> Any:
    """A --set value: JSON for null, a list or an object; anything else is text the model converts itself."""
    if text == "null" or text[:1] in "[{":
        with suppress(json.JSONDecodeError):
            return json.loads(text)
    return text


def _apply_set(values: dict[str, Any], pair: str, problems: Problems) -> None:
    """`field=value` or `nested.field=value` into `values`."""
    path, equals, text = pair.partition("=")
    names = path.strip().split(".")
    if not equals or not all(names):
        problems.add("--set", f"{pair!r} is not field=value (a nested field is written findings.hypotension=true)")
        return
    target = values
    for name in names[:-1]:
        inner = target.setdefault(name, {})
        if not isinstance(inner, dict):
            problems.add("--set", f"{path}: {name} is not a group of fields")
            return
        target = inner
    target[names[-1]] = _set_value(text)


def command_fields(
    step: str,
    model: type[BaseModel],
    document: Mapping[str, Any],
    pairs: list[str],
    reason: str | None,
    corrects: int | None,
    problems: Problems,
) -> dict[str, Any]:
    """The command's fields from the file, the --set pairs, --reason and --corrects; every misuse added."""
    values: dict[str, Any] = {key: value for key, value in document.items() if key not in ("actor", "kind")}
    if "actor" in document:
        problems.add("actor", "the acting user comes from --by/--role or the configuration, never from the input")
    kind = model.model_fields["kind"].default
    if "kind" in document and document["kind"] != kind:
        problems.add("kind", f"the input is a {document['kind']!r} command, not {kind!r} ({step})")
    for pair in pairs:
        _apply_set(values, pair, problems)
    fields = model.model_fields
    if corrects is not None:
        if "correction" not in fields:
            problems.add("--corrects", f"{step} is not a command that corrects an earlier entry")
        elif reason is None:
            problems.add("--reason", "a correction needs its reason")
        else:
            values["correction"] = {"supersedes_sequence": corrects, "reason": reason}
    elif reason is not None:
        where = next((name for name in ("reason", "deviation_reason") if name in fields), None)
        if where is not None:
            values[where] = reason
        elif "correction" in fields:
            problems.add("--reason", f"a reason on {step} belongs to a correction: give --corrects SEQUENCE too")
        else:
            problems.add("--reason", f"{step} has no reason to give")
    return values


def _result_table(study_id: str, step: str, result: RecordResult) -> Table:
    title = f"{study_id}: {step} recorded"
    table = Table(title=title, title_justify="left", min_width=len(title))
    table.add_column("#", justify="right")
    table.add_column("Event", no_wrap=True)
    table.add_column("Details", overflow="fold")
    for event in result.events:
        details = event.payload.model_dump(mode="json", exclude={"type"})
        shown = ", ".join(f"{key}={value}" for key, value in details.items() if value not in (None, [], {}))
        table.add_row(str(event.sequence), Text(event.type), Text(shown))
    return table


def _steps_help() -> str:
    return ", ".join(COMMAND_MODELS)


@app.command(
    cls=RecordCommand,
    rich_help_panel=PANEL,
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "Record one step of a patient's journey; a refusal prints every reason and exits 1.\n\n"
        "STEP is the command's kind with dashes ("
        + _steps_help()
        + "); `trial record STUDY_ID STEP --help` shows what the step records, who may record it and its fields "
        "with their units. The fields come from --file and --set field=value (a nested field: "
        "findings.max_temperature_c=39.4). --reason goes where the command has one (with --corrects SEQUENCE, the "
        "reason of a correction).\n\n" + json_help(RecordResult)
    ),
)
def record(
    context: typer.Context,
    study_id: Annotated[str, typer.Argument(metavar="STUDY_ID", help="The patient's study id.")],
    step: Annotated[str, typer.Argument(metavar="STEP", help="The command, e.g. record-consent, assess-crs.")],
    file: Annotated[
        str | None,
        typer.Option("--file", "-f", metavar="PATH", help="The command's fields as a JSON object; - reads stdin."),
    ] = None,
    set_pairs: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", metavar="FIELD=VALUE", help="One field (repeatable); wins over the file."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", metavar="TEXT", help="The reason, for a decision or a correction.")
    ] = None,
    corrects: Annotated[
        int | None,
        typer.Option("--corrects", metavar="SEQUENCE", help="The sequence number of the entry this one corrects."),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key", metavar="KEY", help="Resending with the same key is answered again, never applied."
        ),
    ] = None,
    by: ByOption = None,
    role: RoleOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    actor = acting_user(by, role, problems)
    checked_study_id(study_id, problems)
    model = COMMAND_MODELS.get(step)
    command = None
    if model is None:
        known = "enroll is its own command (trial enroll)" if step == "enroll-patient" else f"one of: {_steps_help()}"
        problems.add("STEP", f"{step!r} is not a step staff record; {known}")
    document = _document(file, problems) if file is not None else {}
    if model is not None and document is not None:
        values = command_fields(step, model, document, set_pairs or [], reason, corrects, problems)
        command = problems.validated(model, {**values, "actor": actor or _STAND_IN_ACTOR})
    problems.exit_if_any(as_json)
    assert command is not None
    staff_command: Any = command
    result = run_with_trial(lambda trial: trial.record(study_id, staff_command, idempotency_key), as_json)
    if as_json:
        print_json(result)
        return
    console().print(_result_table(study_id, step, result))
