"""`trial admin ...`: the server's own administration, run on the server's machine with its files (never through
the API): the API's tokens (`token new | list | revoke`), the record's migrations, the rotation of the payload and
command seal keys, and verifying the record's database directly.

Each refuses to run without read access to the server's payload keys file (only its operators have it), and each
run is logged on the `trialflow.audit` logger with the operating-system user; token changes are kept in the record
too (`token_changes`)."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, NoReturn

import typer
from rich.table import Table
from rich.text import Text

from cli.common import JsonOption, Problems, json_help, print_json
from cli.staff import console
from cli.supervisor import print_verification
from config.settings import ENV_PREFIX, Settings, SettingsError, load_settings
from domain.protocol import FrozenModel
from domain.roles import Actor, Role
from domain.signature import PrintedName
from facade import VerificationReport
from facade.administration import AdminRecord, RecordUnavailable, existing_record, migrate_record, shown_url
from facade.trial_client import AUDIT_LOGGER
from observability.logging import configure_logging, get_logger
from security import KeyringConfigurationError, PayloadKeyring, default_key_file, rotate_key_file
from security.auth import DEFAULT_TOKEN_LIFETIME, TokenConfigurationError, TokenEntry, utc_now
from security.configured_keys import default_seal_key_file
from security.keys import SealKeyring
from security.token_file import TokenFile, token_file_path

PANEL = "Server administration (on the server, with its files; no sign-in)"
DEFAULT_TOKEN_DAYS: Final = DEFAULT_TOKEN_LIFETIME.days
MAX_TOKEN_DAYS: Final = 366  # a person's access is looked at again at least once a year
REFUSED_EXIT_CODE: Final = 1
CONFIGURATION_EXIT_CODE: Final = 2

app = typer.Typer()
admin_app = typer.Typer(
    help="The server's own administration: API tokens, migrations, key rotation, verifying the database. Run on "
    "the server with its files; every run is logged with your operating-system user.",
    no_args_is_help=True,
)
app.add_typer(admin_app, name="admin", rich_help_panel=PANEL)
token_app = typer.Typer(help="The HTTP API's bearer tokens: make one for a user, list them, revoke them.")
admin_app.add_typer(token_app, name="token")

log = get_logger(AUDIT_LOGGER)


def _fail(message: str, code: int = REFUSED_EXIT_CODE) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


@dataclass(frozen=True)
class Server:
    """The server's settings, once its key file was found readable, and who runs the command."""

    settings: Settings
    operator: str

    def record_shown(self) -> str:
        return shown_url(self.settings.database_url)

    @contextmanager
    def record(self, *, current: bool = False) -> Iterator[AdminRecord]:
        """The trial record's database, which must exist already: nothing here creates an empty one elsewhere.
        `current`: and at the schema this code writes."""
        where = (
            f": run this where the server's files are (the folder `make run` runs in), or set {ENV_PREFIX}DATABASE_URL"
            f" / {ENV_PREFIX}DATA_DIR"
        )
        try:
            with existing_record(self.settings.database_url, current=current, where=where) as record:
                yield record
        except RecordUnavailable as unavailable:
            _fail(str(unavailable))


def _key_file(settings: Settings) -> Path:
    return settings.payload_keys_file or default_key_file(settings)


def server_access(command: str, **logged: Any) -> Server:
    """The server's settings, or a refusal: the payload keys file must be readable (so only the server's operators
    run these). The run is logged with the operating-system user."""
    try:
        settings = load_settings()
    except SettingsError as error:
        _fail(str(error), CONFIGURATION_EXIT_CODE)
    # The log line goes to stderr, so `--json` output on stdout stays pure.
    configure_logging(settings.log_format, "INFO", stream=sys.stderr)
    logging.getLogger(AUDIT_LOGGER).setLevel(logging.INFO)
    operator = getpass.getuser()
    key_file = _key_file(settings)
    if settings.payload_keys is None:
        problem = None
        if not key_file.exists():
            problem = "it does not exist"
        elif not os.access(key_file, os.R_OK):
            problem = "you may not read it"
        else:
            try:
                PayloadKeyring.from_file(key_file)
            except KeyringConfigurationError as error:
                problem = str(error)
        if problem is not None:
            log.warning("admin_refused", command=command, os_user=operator, key_file=str(key_file), reason=problem)
            _fail(
                f"`trial admin {command}` needs the server's key files, and the payload keys file {key_file} cannot "
                f"be read ({problem}): run it on the server, in the folder `make run` runs in, as a user who may read "
                f"it (or set {ENV_PREFIX}PAYLOAD_KEYS_FILE / {ENV_PREFIX}DATA_DIR)"
            )
    log.info("admin_command", command=command, os_user=operator, **logged)
    return Server(settings, operator)


# ---------------------------------------------------------------- tokens


class NewToken(FrozenModel):
    """`trial admin token new --json`: the token (shown this once), whom it identifies and until when it works."""

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
    last_used_at: datetime | None  # None: never used (the API notes a use at most once a minute)


class TokenListing(FrozenModel):
    """`trial admin token list --json`: the users holding tokens, with a prefix of each token's hash."""

    token_file: str
    tokens: tuple[TokenHolder, ...]


def _shown(moment: datetime | None, never: str = "never (no expiry configured)") -> str:
    return never if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _token_file(settings: Settings) -> TokenFile:
    if settings.api_tokens.strip():
        _fail(
            f"{ENV_PREFIX}API_TOKENS holds the tokens itself; edit it, or unset it to use the token file.",
            CONFIGURATION_EXIT_CODE,
        )
    return TokenFile(token_file_path(settings))


def _entries(token_file: TokenFile) -> tuple[TokenEntry, ...]:
    try:
        return token_file.entries()
    except TokenConfigurationError as error:
        _fail(str(error), CONFIGURATION_EXIT_CODE)


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
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="TEXT",
            help="The person's printed name, shown on their electronic signatures (e.g. 'Li Ming, MD'); without it, "
            "the staff directory's display name is used",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    if name is not None:
        problems.validated(PrintedNameInput, {"name": name}, labels={"name": "--name"})
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
    server = server_access("token new", user_id=actor.user_id, role=actor.role.value, expires_days=expires)
    token_file = _token_file(server.settings)
    _entries(token_file)  # a broken file is reported, never overwritten
    with server.record(current=True) as record:
        token, entry = token_file.issue(actor, timedelta(days=expires), name)
        record.note_token_change(
            operator=server.operator,
            action="issued",
            user_id=actor.user_id,
            role=actor.role.value,
            sha256_prefix=entry.sha256[:12],
            expires_at=entry.expires_at,
        )
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
    typer.echo("Its owner signs in with it: trial login (it is asked for, hidden), or trial login --token-stdin")


@token_app.command(
    "list", help="Who holds API tokens (never the tokens), with expiry and last use.\n\n" + json_help(TokenListing)
)
def list_tokens(as_json: JsonOption = False) -> None:
    server = server_access("token list")
    token_file = _token_file(server.settings)
    with server.record(current=True) as record:
        last_uses = record.token_last_uses()
    rows = tuple(
        TokenHolder(
            user_id=entry.user_id,
            role=entry.role,
            sha256_prefix=entry.sha256[:12],
            expires_at=entry.expires_at,
            last_used_at=last_uses.get(entry.sha256),
        )
        for entry in _entries(token_file)
    )
    if as_json:
        print_json(TokenListing(token_file=str(token_file.path), tokens=rows))
        return
    table = Table(title=f"API tokens in {token_file.path}", title_justify="left")
    for column in ("User", "Role", "Hash (first 12)", "Expires", "Last used"):
        table.add_column(column)
    now = utc_now()
    for row in rows:
        expiry = _shown(row.expires_at) + (" (expired)" if row.expires_at is not None and row.expires_at <= now else "")
        table.add_row(
            Text(row.user_id),
            Text(row.role.value),
            Text(row.sha256_prefix),
            Text(expiry),
            Text(_shown(row.last_used_at, never="never")),
        )
    console().print(table)


@token_app.command("revoke", help="Revoke every token of USER; the running API refuses them at once.")
def revoke(user: Annotated[str, typer.Option("--user", metavar="USER", help="Whose tokens to revoke")]) -> None:
    server = server_access("token revoke", user_id=user)
    token_file = _token_file(server.settings)
    _entries(token_file)
    with server.record(current=True) as record:
        removed = token_file.revoke(user)
        if removed:
            record.note_token_change(operator=server.operator, action="revoked", user_id=user)
    if not removed:
        _fail(f"{user} holds no API token in {token_file.path}.")
    typer.echo(f"Revoked {removed} token{'' if removed == 1 else 's'} of {user}.")


# ---------------------------------------------------------------- the record and the keys


@admin_app.command(help="Bring the trial record's schema to the newest revision (idempotent; creates the record).")
def migrate() -> None:
    server = server_access("migrate")
    try:
        revision = migrate_record(server.settings.database_url)
    except RecordUnavailable as unavailable:
        _fail(str(unavailable))
    log.info("admin_migrated", os_user=server.operator, revision=revision)
    typer.echo(f"The trial record {server.record_shown()} is at schema revision {revision}.")


class PrintedNameInput(FrozenModel):
    name: PrintedName


@admin_app.command(
    "signing-pin-reset",
    help="Remove USER's signing PIN and lift any signing lock, for a forgotten PIN: they set a new one with "
    "`trial signing-pin` before they sign again. Kept in the record with your operating-system user.",
)
def signing_pin_reset(
    user: Annotated[str, typer.Option("--user", metavar="USER", help="Whose signing PIN, e.g. dr.li")],
) -> None:
    server = server_access("signing-pin-reset", user_id=user)
    with server.record(current=True) as record:
        had_one = record.reset_signing_pin(user)
        if had_one:
            record.note_token_change(operator=server.operator, action="pin_reset", user_id=user)
    if not had_one:
        _fail(f"{user} has no signing PIN to reset: they set one with `trial signing-pin`")
    log.info("admin_signing_pin_reset", os_user=server.operator, user_id=user)
    typer.echo(f"{user}'s signing PIN is removed and any lock lifted: they set a new one with `trial signing-pin`.")


class KeysToRotate(StrEnum):
    PAYLOAD = "payload"
    SEAL = "seal"


@admin_app.command(
    "rotate-key",
    help="Add a fresh key and make it the active one: the payload keys (old payloads stay readable, new ones use the "
    "new key) or, with --keys seal, the command seal keys (seals made before still verify). Restart the worker and "
    "the API to use it.",
)
def rotate_key(
    key_id: Annotated[str, typer.Option("--key-id", metavar="ID", help="The new key's id, e.g. 2026-q3")],
    keys: Annotated[
        KeysToRotate, typer.Option("--keys", help="Which keys: the payload keys or the command seal keys.")
    ] = KeysToRotate.PAYLOAD,
) -> None:
    server = server_access("rotate-key", key_id=key_id, keys=keys.value)
    settings = server.settings
    if keys is KeysToRotate.SEAL:
        kind: type[PayloadKeyring | SealKeyring] = SealKeyring
        inline, variable = settings.seal_keys, "SEAL_KEYS"
        key_file = settings.seal_keys_file or default_seal_key_file(settings)
    else:
        kind, inline, variable, key_file = PayloadKeyring, settings.payload_keys, "PAYLOAD_KEYS", _key_file(settings)
    if inline is not None:
        _fail(f"{ENV_PREFIX}{variable} holds the keys itself: rotate them where it is set", CONFIGURATION_EXIT_CODE)
    try:
        keyring = rotate_key_file(key_file, key_id, kind)
    except KeyringConfigurationError as error:
        _fail(str(error), CONFIGURATION_EXIT_CODE)
    log.info(
        "admin_key_rotated",
        os_user=server.operator,
        keys=keys.value,
        key_file=str(key_file),
        active_key=keyring.active_key_id,
    )
    typer.echo(f"{key_file}: active key {keyring.active_key_id}; keys: {', '.join(keyring.key_ids)}")


@admin_app.command(
    "verify",
    help="Recompute the trial record's hash chain from its database directly (the API's `trial verify` goes through "
    "the server), compare every patient's head with their journey's workflow (when Temporal answers) and the last "
    "signed checkpoint, and fold every summary again: exit 0 when intact, 1 when any event was altered, deleted, "
    "inserted or reordered, a head or summary disagrees, or the checkpoint file is damaged. Refuses when there is "
    "no record here.\n\n" + json_help(VerificationReport),
)
def verify(as_json: JsonOption = False) -> None:
    server = server_access("verify")
    with server.record() as record:
        answer = record.verify(server.settings)
    log.info("admin_verified", os_user=server.operator, ok=answer.ok, problems=len(answer.problems))
    print_verification(answer, as_json)
