"""One default trial-record database: the record's own default and the processes' settings name one file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config.settings import Settings
from records import DEFAULT_DATABASE_URL
from records.engine import DEFAULT_DATABASE_FILE, create_record_engine


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TRIALFLOW_* variables from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("TRIALFLOW_"):
            monkeypatch.delenv(name)


def test_the_settings_default_is_the_records_default(clean_env: None) -> None:
    assert DEFAULT_DATABASE_URL == "sqlite:///.data/trial-record.db"
    assert Settings(_env_file=None).database_url == DEFAULT_DATABASE_URL


def test_the_default_file_follows_the_data_directory(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALFLOW_DATA_DIR", "/srv/trialflow")
    settings = Settings(_env_file=None)
    assert settings.data_dir == Path("/srv/trialflow")
    assert settings.database_url == f"sqlite:////srv/trialflow/{DEFAULT_DATABASE_FILE}"


def _synchronous(url: str, **options: bool) -> int:
    engine = create_record_engine(url, **options)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("PRAGMA synchronous").scalar_one())
    finally:
        engine.dispose()


def test_the_record_is_durable_at_every_commit_unless_it_is_thrown_away(tmp_path: Path) -> None:
    full, off = 2, 0  # SQLite's values for PRAGMA synchronous
    assert _synchronous(f"sqlite:///{tmp_path / 'record.db'}") == full
    assert _synchronous(f"sqlite:///{tmp_path / 'demo.db'}", durable=False) == off
