"""`trial dsmb-decision`: the data and safety monitoring board's signed decision on a trial the stopping rule paused."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.api_client import DEFAULT_API_URL, ApiOption, ProfileOption, call_api, fail
from cli.common import USAGE_ERROR_EXIT_CODE, JsonOption, print_json
from cli.credentials import DEFAULT_PROFILE
from cli.trial_help import TRIAL_PANEL
from domain.trial.reports import DsmbOutcome
from domain.trial.status import TrialStatus

PANEL = TRIAL_PANEL

app = typer.Typer()


@app.command(
    "dsmb-decision",
    rich_help_panel=PANEL,
    help="The DSMB's decision on a trial the safety stopping rule paused (`trial status --trial` shows the pause, "
    "the DLTs and the posterior): resume, resume under an amendment (--amendment VERSION), or stop. Only a DSMB "
    "member may record it; until then enrollment and new lymphodepletion stay stopped. Always signed: your "
    "signing PIN is asked for (or read from stdin with --pin-stdin). Sending the same --decision-id again changes "
    "nothing. Prints the trial's status.",
)
def dsmb_decision(
    outcome: Annotated[DsmbOutcome, typer.Option("--outcome", help="resume, resume_under_amendment or stop.")],
    decision_id: Annotated[str, typer.Option("--decision-id", help="The board's reference for this decision.")],
    rationale: Annotated[str, typer.Option("--rationale", help="Why, as the board minuted it.")],
    amendment: Annotated[
        str | None, typer.Option("--amendment", help="The protocol version enrollment resumes under.")
    ] = None,
    pin_stdin: Annotated[
        bool, typer.Option("--pin-stdin", help="Read your signing PIN from stdin's first line.")
    ] = False,
    as_json: JsonOption = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    if pin_stdin:
        pin = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        pin = typer.prompt("Your signing PIN (not shown)", hide_input=True, prompt_suffix=": ")
    else:
        fail("a DSMB decision is signed: give your signing PIN on stdin with --pin-stdin", USAGE_ERROR_EXIT_CODE)
    if not pin:
        fail("no signing PIN was given: nothing was sent", USAGE_ERROR_EXIT_CODE)
    body = {
        "decision_id": decision_id,
        "outcome": outcome.value,
        "amendment_version": amendment,
        "rationale": rationale,
        "signature": {"pin": pin},
    }
    answer = TrialStatus.model_validate(
        call_api(
            api, profile, lambda client: client.request("POST", "/trial/dsmb-decisions", body=body).json(), as_json
        )
    )
    if as_json:
        print_json(answer)
        return
    typer.echo(f"Recorded: enrollment is now {answer.enrollment.value}.")
