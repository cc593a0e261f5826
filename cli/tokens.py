"""`trial token new | list | revoke`: the HTTP API's bearer tokens, kept in the token file as hashes only.

A new token is printed once, for its owner; the running API accepts it at once (it reads the file when it changes).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.common import JsonOption, Problems, json_help, print_json
from cli.staff import CONFIGURATION_EXIT_CODE, console, loaded_settings
from domain.protocol import FrozenModel
from domain.roles import Actor, Role
from security.auth import TokenConfigurationError, TokenEntry
from security.token_file import TokenFile, token_file_path

PANEL = "API tokens (no server needed)"

app = typer.Typer()
token_app = typer.Typer(help="The HTTP API's bearer tokens: make one for a user, list them, revoke them.")
app.add_typer(token_app, name="token", rich_help_panel=PANEL)


class NewToken(FrozenModel):
    """`trial token new --json`: the token (shown this once) and whom it identifies."""

    token: str
    user_id: str
    role: Role
    token_file: str


class TokenHolder(FrozenModel):
    user_id: str
    role: Role
    sha256_prefix: str  # enough to tell two tokens of one user apart, never enough to use


class TokenListing(FrozenModel):
    """`trial token list --json`: the users holding tokens, with a prefix of each token's hash."""

    token_file: str
    tokens: tuple[TokenHolder, ...]


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
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    if role == Role.SYSTEM.value:
        problems.add("--role", "system is the workflow's own role: no person acts as it")
    # The user id is checked with a stand-in role when the role itself is refused: every problem named at once.
    shown_role = Role.NURSE if role == Role.SYSTEM.value else role
    actor = problems.validated(
        Actor, {"user_id": user, "role": shown_role}, labels={"user_id": "--user", "role": "--role"}, echo_input=True
    )
    problems.exit_if_any(as_json)
    assert actor is not None
    token_file = _token_file()
    _entries(token_file)  # a broken file is reported, never overwritten
    token = token_file.add(actor)
    result = NewToken(token=token, user_id=actor.user_id, role=actor.role, token_file=str(token_file.path))
    if as_json:
        print_json(result)
        return
    typer.echo(f"New API token for {actor.user_id} ({actor.role.value}); it is shown only this once:\n")
    typer.echo(f"  {token}\n")
    typer.echo(f"Its hash is in {token_file.path}. Use it as: Authorization: Bearer <token>")


@token_app.command("list", help="Who holds API tokens (never the tokens).\n\n" + json_help(TokenListing))
def list_tokens(as_json: JsonOption = False) -> None:
    token_file = _token_file()
    rows = tuple(
        TokenHolder(user_id=entry.user_id, role=entry.role, sha256_prefix=entry.sha256[:12])
        for entry in _entries(token_file)
    )
    if as_json:
        print_json(TokenListing(token_file=str(token_file.path), tokens=rows))
        return
    table = Table(title=f"API tokens in {token_file.path}", title_justify="left")
    for column in ("User", "Role", "Hash (first 12)"):
        table.add_column(column)
    for row in rows:
        table.add_row(Text(row.user_id), Text(row.role.value), Text(row.sha256_prefix))
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
