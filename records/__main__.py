"""`python -m records migrate | check`: the trial record's schema from a shell (the compose stack's `migrate` job).

The database is `TRIALFLOW_DATABASE_URL` (config/settings.py); its password is never printed.
Exit codes: 0 done, 1 the database is unreachable or not at the newest schema, 2 the configuration is invalid.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from config.settings import SettingsError, load_settings
from records.engine import create_record_engine
from records.errors import SchemaNotReadyError
from records.migrate import current_revision, head_revision, upgrade_engine_to_head


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m records", description="The trial record's schema.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", help="bring the schema to the newest revision (idempotent)")
    commands.add_parser("check", help="exit 1 unless the schema is at the revision this code expects")
    return parser


def run(command: str, database_url: str) -> str:
    """Migrate or check the database at `database_url`; the line to print. Raises SchemaNotReadyError on check."""
    engine = create_record_engine(database_url)
    try:
        if command == "migrate":
            upgrade_engine_to_head(engine)
        current, expected = current_revision(engine), head_revision()
        if current != expected:
            raise SchemaNotReadyError(current, expected)
        return f"trial record {_shown(database_url)} is at schema revision {current}"
    finally:
        engine.dispose()


def _shown(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = argument_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        print(run(arguments.command, settings.database_url))
    except SchemaNotReadyError as error:
        print(f"error: {error}\n  (python -m records migrate does that)", file=sys.stderr)
        return 1
    except SQLAlchemyError as error:
        # The driver's own first line says what went wrong (refused, unknown host, bad password) without the URL.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print(
            f"error: cannot {arguments.command} the trial record at {_shown(settings.database_url)}: {reason}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
