"""`trial token new | list | revoke`: the HTTP API's bearer tokens, kept in the token file as hashes only.

A new token is printed once, for its owner; the running API accepts it at once (it reads the file when it changes).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Final

import typer
from rich.table import Table
from rich.text import Text

from cli.common import JsonOption, Problems, json_help, print_json
from cli.staff import CONFIGURATION_EXIT_CODE, console, loaded_settings
from domain.protocol import FrozenModel
from domain.roles import Actor, Role
from security.auth import DEFAULT_TOKEN_LIFETIME, TokenConfigurationError, TokenEntry, utc_now
from security.token_file import TokenFile, token_file_path

PANEL = "API tokens (no server needed)"
DEFAULT_TOKEN_DAYS: Final = DEFAULT_TOKEN_LIFETIME.days
MAX_TOKEN_DAYS: Final = 366  # a person's access is looked at again at least once a year

app = typer.Typer()
token_app = typer.Typer(help="The HTTP API's bearer tokens: make one for a user, list them, revoke them.")
app.add_typer(token_app, name="token", rich_help_panel=PANEL)


class NewToken(FrozenModel):
    """`trial token new --json`: the token (shown this once), whom it identifies and until when it works."""

    token: str
    user_id: str
    role: Role
    expires_at: datetime | None
    token_file: str


class TokenHolder(FrozenModel):
    user_id: str
    role: Role
    sha256_prefix: str  # enough to tell two tokens of one user apart, never enough to use
    expires_at: datetime | None  # None: written into the configuration by hand without an expiry


class TokenListing(FrozenModel):
    """`trial token list --json`: the users holding tokens, with a prefix of each token's hash."""

    token_file: str
    tokens: tuple[TokenHolder, ...]


def _shown(moment: datetime | None) -> str:
    return "never (no expiry configured)" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _token_file() -> TokenFile:
    settings = loaded_settings()
    if settings.api_tokens.strip():
        typer.echo(
            "Error: TRIALFLOW_API_TOKENS holds the tokens itself; edit it, or unset it to use the token file.", err=True
        )
        raise typer.Exit(CONFIGURATION_EXIT_CODE)
    return TokenFile(token_file_path(settings))


def _entries(token_file: TokenFile) -> tuple[TokenEntry, ...]:
    try:
        return token_file.entries()
    except TokenConfigurationError as error:
        typer.echo(f"Error: {error}", err=True)
        raise typer.Exit(CONFIGURATION_EXIT_CODE) from None


@token_app.command(
    "new", help="A new token for USER with ROLE; printed once, only its hash is kept.\n\n" + json_help(NewToken)
)
def new(
    user: Annotated[str, typer.Option("--user", metavar="USER", help="Who the token identifies, e.g. nurse.wang")],
    role: Annotated[str, typer.Option("--role", metavar="ROLE", help="Their study role, e.g. nurse")],
    expires: Annotated[
        int,
        typer.Option(
            "--expires", metavar="DAYS", help=f"Days until the token stops working (default {DEFAULT_TOKEN_DAYS})"
        ),
    ] = DEFAULT_TOKEN_DAYS,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    if role == Role.SYSTEM.value:
        problems.add("--role", "system is the workflow's own role: no person acts as it")
    if not 1 <= expires <= MAX_TOKEN_DAYS:
        problems.add("--expires", f"a token works for 1 to {MAX_TOKEN_DAYS} days, not {expires}")
    # The user id is checked with a stand-in role when the role itself is refused: every problem named at once.
    shown_role = Role.NURSE if role == Role.SYSTEM.value else role
    actor = problems.validated(
        Actor, {"user_id": user, "role": shown_role}, labels={"user_id": "--user", "role": "--role"}, echo_input=True
    )
    problems.exit_if_any(as_json)
    assert actor is not None
    token_file = _token_file()
    _entries(token_file)  # a broken file is reported, never overwritten
    token, entry = token_file.issue(actor, timedelta(days=expires))
    result = NewToken(
        token=token,
        user_id=actor.user_id,
        role=actor.role,
        expires_at=entry.expires_at,
        token_file=str(token_file.path),
    )
    if as_json:
        print_json(result)
        return
    typer.echo(f"New API token for {actor.user_id} ({actor.role.value}); it is shown only this once:\n")
    typer.echo(f"  {token}\n")
    typer.echo(f"It works until {_shown(entry.expires_at)}. Its hash is in {token_file.path}.")
    typer.echo("Use it as: Authorization: Bearer <token>")


@token_app.command("list", help="Who holds API tokens (never the tokens).\n\n" + json_help(TokenListing))
def list_tokens(as_json: JsonOption = False) -> None:
    token_file = _token_file()
    rows = tuple(
        TokenHolder(
            user_id=entry.user_id, role=entry.role, sha256_prefix=entry.sha256[:12], expires_at=entry.expires_at
        )
        for entry in _entries(token_file)
    )
    if as_json:
        print_json(TokenListing(token_file=str(token_file.path), tokens=rows))
        return
    table = Table(title=f"API tokens in {token_file.path}", title_justify="left")
    for column in ("User", "Role", "Hash (first 12)", "Expires"):
        table.add_column(column)
    now = utc_now()
    for row in rows:
        expiry = _shown(row.expires_at) + (" (expired)" if row.expires_at is not None and row.expires_at <= now else "")
        table.add_row(Text(row.user_id), Text(row.role.value), Text(row.sha256_prefix), Text(expiry))
    console().print(table)


@token_app.command("revoke", help="Revoke every token of USER; the running API refuses them at once.")
def revoke(user: Annotated[str, typer.Option("--user", metavar="USER", help="Whose tokens to revoke")]) -> None:
    token_file = _token_file()
    _entries(token_file)
    removed = token_file.revoke(user)
    if not removed:
        typer.echo(f"Error: {user} holds no API token in {token_file.path}.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Revoked {removed} token{'' if removed == 1 else 's'} of {user}.")
