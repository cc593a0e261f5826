"""Tests of the trial record (records/), on SQLite and on PostgreSQL."""
