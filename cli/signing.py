"""Electronic signatures from the command line (21 CFR Part 11): `trial signing-pin` sets the PIN that
re-authenticates a signer, and `trial record` signs a signed step with it (`--sign`, `--meaning`, `--pin-stdin`).

The PIN is asked for at the moment of signing, hidden, or read from the first line of stdin for scripts; it goes to
the API over the signed-in credential and nowhere else (never a file, an argument or a log)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from cli.api_client import DEFAULT_API_URL, ApiOption, ProfileOption, call_api, fail
from cli.common import USAGE_ERROR_EXIT_CODE
from cli.credentials import DEFAULT_PROFILE
from domain.journey.command_registry import STAFF_COMMANDS, Signed
from domain.signature import SignatureMeaning

PANEL = "Signing in (the API's credential)"

app = typer.Typer()

SignOption = Annotated[
    bool,
    typer.Option(
        "--sign",
        help="Sign this entry electronically. Steps always signed are signed without it; a step signed only in some "
        "cases (a grade 3 or higher, an SAE, a correction, the one-year response) needs it then.",
    ),
]
MeaningOption = Annotated[
    SignatureMeaning | None,
    typer.Option(
        "--meaning",
        help="What your signature means: author (you made the entry; the default), review or approval.",
        show_default=False,
    ),
]
PinStdinOption = Annotated[
    bool,
    typer.Option("--pin-stdin", help="Read your signing PIN from the first line of stdin instead of asking for it."),
]


def _stdin_line() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def signature_request(
    step_kind: str,
    sign: bool,
    meaning: SignatureMeaning | None,
    pin_stdin: bool,
    role: str,
    correcting: bool = False,
) -> Any:
    """The `signature` of a step's request body when it is signed (always, a correction, or asked for with --sign,
    --meaning or --pin-stdin): the PIN asked for now, hidden; None when the entry is not signed, or when the
    signed-in `role` may not record the step at all (the API then says why; nobody is asked for a PIN for a step they
    may not make)."""
    entry = STAFF_COMMANDS[step_kind]
    asked = sign or meaning is not None or pin_stdin or correcting
    if (not asked and entry.signed is not Signed.ALWAYS) or role not in {r.value for r in entry.roles}:
        return None
    signed = entry.signed
    if signed is Signed.NEVER:
        fail(f"{step_kind.replace('_', '-')} is never signed: record it without --sign", USAGE_ERROR_EXIT_CODE)
    if pin_stdin:
        pin = _stdin_line()
    elif sys.stdin.isatty():
        pin = typer.prompt("Your signing PIN (not shown)", hide_input=True, prompt_suffix=": ")
    else:
        fail(
            "this step is signed electronically and no terminal is here to ask for your signing PIN: give it on "
            "stdin with --pin-stdin",
            USAGE_ERROR_EXIT_CODE,
        )
    if not pin:
        fail("no signing PIN was given: nothing was sent", USAGE_ERROR_EXIT_CODE)
    return {"pin": pin, "meaning": (meaning or SignatureMeaning.AUTHOR).value}


@app.command(
    "signing-pin",
    rich_help_panel=PANEL,
    help="Set or change your signing PIN, which you give again each time you sign a step. To change it, your "
    "current PIN is asked for too (wrong ones count toward the signing lockout); an administrator resets a "
    "forgotten one (`trial admin signing-pin-reset`).",
)
def signing_pin(
    stdin: Annotated[
        bool,
        typer.Option(
            "--stdin", help="Read the new PIN from the first line of stdin and, to change it, the current one second."
        ),
    ] = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    if stdin:
        new_pin, current_pin = _stdin_line(), _stdin_line()
    else:
        current_pin = typer.prompt(
            "Your current signing PIN (press Enter if you have none)", default="", hide_input=True, show_default=False
        )
        new_pin = typer.prompt("Your new signing PIN", hide_input=True, confirmation_prompt=True)
    body = {"new_pin": new_pin, "current_pin": current_pin or None}
    call_api(api, profile, lambda client: client.request("PUT", "/me/signing-pin", body=body), as_json=False)
    typer.echo("Your signing PIN is set: you give it each time you sign a step.")
