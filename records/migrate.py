"""Schema migrations of the trial record, driven from Python: Alembic configured programmatically."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from records.engine import create_record_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """The packaged Alembic configuration (the database is handed in per call, never stored in it)."""
    return Config(str(MIGRATIONS_DIR / "alembic.ini"))


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the trial record ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it has never been migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_engine_to_head(engine: Engine) -> None:
    """Bring the database behind `engine` to the newest schema; a database already there is left as it is."""
    config = alembic_config()
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def upgrade_to_head(url: str | URL) -> None:
    """Bring the database at `url` to the newest schema (idempotent: safe at every start of a worker)."""
    engine = create_record_engine(url)
    try:
        upgrade_engine_to_head(engine)
    finally:
        engine.dispose()
