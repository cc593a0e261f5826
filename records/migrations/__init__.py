"""Alembic migrations of the trial record (run through records.migrate)."""
