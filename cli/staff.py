"""`trial enroll` and `trial record`: what operators and staff ask of a patient's journey, through the HTTP API.

Who acts is whoever signed in (`trial login`): the API takes the user and role from the credential alone. Input
problems exit 2 before anything is sent; a refusal by the API is printed with every reason and exits 1."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from typing import Annotated, Any, Final

import typer
from pydantic import BaseModel
from rich.table import Table
from rich.text import Text

from cli.api_client import DEFAULT_API_URL as DEFAULT_API_URL
from cli.api_client import (
    IDEMPOTENCY_KEY_OPTION,
    REFUSED_EXIT_CODE,
    ApiClient,
    ApiOption,
    ProfileOption,
    call_api,
    new_idempotency_key,
    retry_command,
)
from cli.common import (
    COLLECT_UNKNOWN_OPTIONS,
    JsonOption,
    Problems,
    checked_study_id,
    console,
    failed_criteria_table,
    json_help,
    print_json,
    show,
)
from cli.credentials import DEFAULT_PROFILE
from cli.eligibility_calculator import read_text, screening_document
from cli.signing import MeaningOption, PinStdinOption, SignOption, signature_request
from cli.steps import STEPS, RecordCommand
from domain.journey.commands import EnrollPatient
from domain.roles import Actor, Role
from facade import EnrollmentResult
from workflows.journey_messages import RecordResult

PANEL = "Operators and staff (signed in: `trial login`)"
CONFIGURATION_EXIT_CODE: Final = 2
__all__ = ["REFUSED_EXIT_CODE"]

app = typer.Typer()

IdempotencyKeyOption = Annotated[
    str | None,
    typer.Option(
        IDEMPOTENCY_KEY_OPTION,
        metavar="KEY",
        help=(
            "The key the request is sent with (default: a new one). After a lost answer (exit 75), the command to "
            "run again is printed with it: the API answers a resend as the first time and never records it twice."
        ),
    ),
]

# A valid actor the command is checked with before it is sent: the API puts in the signed-in one.
_STAND_IN_ACTOR = Actor(user_id="stand-in", role=Role.NURSE)


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
    idempotency_key: IdempotencyKeyOption = None,
    as_json: JsonOption = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    if study_id is None:
        problems.add("--study-id", "is required: the patient's study id")
    else:
        checked_study_id(study_id, problems, "--study-id")
    command = None
    if file is None:
        problems.add("--file", "is required: the screening data as a JSON file, or - for stdin")
    else:
        text = read_text(file, problems)
        document = screening_document(text, problems) if text is not None else None
        if document is not None and study_id is not None:
            # No value from the file is quoted back: it holds a birth date (PHI).
            command = problems.validated(
                EnrollPatient,
                {"actor": _STAND_IN_ACTOR, "study_id": study_id, "screening": document},
                labels={"study_id": "--study-id"},
            )
    problems.exit_if_any(as_json)
    assert command is not None
    body = {"study_id": command.study_id, "screening": command.screening.model_dump(mode="json")}
    key = idempotency_key or new_idempotency_key()
    answer = call_api(
        api,
        profile,
        lambda client: client.post("/patients", body, key),
        as_json,
        study_id=command.study_id,
        write=f"the enrollment of {command.study_id}",
        retry=retry_command(context, key),
    )
    result = EnrollmentResult.model_validate(answer)
    show(result, _enrollment_output, as_json)


# ---------------------------------------------------------------- record


# Each staff command's model by its step name (its kind with dashes); enrollment has its own command.
COMMAND_MODELS: Final[dict[str, type[BaseModel]]] = {step: entry.model for step, entry in STEPS.items()}


def _document(source: str, problems: Problems) -> dict[str, Any] | None:
    """The JSON object of the command's fields in `source` (a file, or - for stdin)."""
    text = read_text(source, problems)
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
        problems.add("actor", "the acting user is whoever signed in (`trial login`), never from the input")
    kind = model.model_fields["kind"].default
    if "kind" in document and document["kind"] != kind:
        problems.add("kind", f"the input is a {document['kind']!r} command, not {kind!r} ({step})")
    for pair in pairs:
        _apply_set(values, pair, problems)
    if values.pop("signature", None) is not None:
        problems.add(
            "signature",
            "an entry is signed with --sign: your signing PIN is asked for then, never taken from the input",
        )
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


def record_request(command: BaseModel, signature: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The body of `POST /patients/{study_id}/commands`: the checked command's fields and kind, without the actor
    (the API takes it from the credential), and the signature's PIN and meaning when the entry is signed. The one
    place a step's request is built."""
    body = command.model_dump(mode="json", exclude={"actor", "signature"})
    return {**body, "signature": dict(signature)} if signature is not None else body


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
    idempotency_key: IdempotencyKeyOption = None,
    sign: SignOption = False,
    meaning: MeaningOption = None,
    pin_stdin: PinStdinOption = False,
    as_json: JsonOption = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    checked_study_id(study_id, problems)
    if pin_stdin and file == "-":
        problems.add("--pin-stdin", "--file - reads the step from stdin: give the fields in a file to sign with it")
    model = COMMAND_MODELS.get(step)
    command = None
    if model is None:
        known = "enroll is its own command (trial enroll)" if step == "enroll-patient" else f"one of: {_steps_help()}"
        problems.add("STEP", f"{step!r} is not a step staff record; {known}")
    document = _document(file, problems) if file is not None else {}
    if model is not None and document is not None:
        values = command_fields(step, model, document, set_pairs or [], reason, corrects, problems)
        command = problems.validated(model, {**values, "actor": _STAND_IN_ACTOR})
    problems.exit_if_any(as_json)
    assert command is not None
    key = idempotency_key or new_idempotency_key()

    def send(client: ApiClient) -> Any:
        correcting = getattr(command, "correction", None) is not None  # a correction is always signed
        signature = signature_request(command.kind, sign, meaning, pin_stdin, client.credential().role, correcting)
        return client.post(f"/patients/{study_id}/commands", record_request(command, signature), key)

    answer = call_api(
        api,
        profile,
        send,
        as_json,
        study_id=study_id,
        write=f"{step} for {study_id}",
        retry=retry_command(context, key),
    )
    result = RecordResult.model_validate(answer)
    if as_json:
        print_json(result)
        return
    console().print(_result_table(study_id, step, result))
