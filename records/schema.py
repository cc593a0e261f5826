"""The trial record's tables as SQLAlchemy Core metadata (queries use these; migrations create them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

HASH_LENGTH = 64  # hex SHA-256


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in time-zone aware and comes out in UTC, on SQLite (no native time zones) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"timestamp {value.isoformat()} has no time zone; the trial record needs one")
        utc = value.astimezone(UTC)
        # SQLite stores text without an offset: keep it UTC, read it back as UTC.
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

trial_events = Table(
    "trial_events",
    metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("study_id", String(32), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("actor_user_id", String(64), nullable=False),
    Column("actor_role", String(64), nullable=False),
    Column("protocol_version", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("reason", Text, nullable=True),  # why, in the person's words; NULL when none was given
    Column("previous_hash", String(HASH_LENGTH), nullable=False),
    Column("hash", String(HASH_LENGTH), nullable=False),
    UniqueConstraint("study_id", "sequence", name="uq_trial_events_study_sequence"),
    CheckConstraint("sequence >= 1", name="ck_trial_events_sequence_positive"),
)

patient_summaries = Table(
    "patient_summaries",
    metadata,
    Column("study_id", String(32), primary_key=True),
    Column("phase", String(64), nullable=True),
    Column("updated_through_sequence", Integer, nullable=False),
    Column("rebuilt_at", UtcDateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_patient_summaries_phase", "phase"),
    Index("ix_patient_summaries_updated_through_sequence", "updated_through_sequence"),
)

# Staff notifications sent (or not) per recipient and channel: a retried activity skips what was sent, and
# supervisors see what failed. Recipients are staff addresses; a webhook is stored by host and digest only,
# since its URL is often a secret.
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("notification_key", String(200), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("study_id", String(32), nullable=False),
    Column("role", String(64), nullable=False),
    Column("staff_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("permanent_failure", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("first_attempt_at", UtcDateTime, nullable=False),
    Column("last_attempt_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("escalated_at", UtcDateTime, nullable=True),
    Column("escalation_key", String(200), nullable=True),
    UniqueConstraint("notification_key", "recipient", "channel", name="uq_notification_deliveries_target"),
    CheckConstraint("status IN ('sent', 'failed')", name="ck_notification_deliveries_status"),
    CheckConstraint("attempts >= 1", name="ck_notification_deliveries_attempts"),
    Index("ix_notification_deliveries_status", "status", "last_attempt_at"),
    Index("ix_notification_deliveries_study_id", "study_id"),
)

# Who is sending a delivery right now: a notify attempt claims (notification, recipient, channel) before it sends,
# until `claimed_until`; another attempt waits while the claim is live, so one that outlives its activity's timeout
# and its retry never both send. Operational, like the ledger: the row is taken over once its lease has passed.
notification_claims = Table(
    "notification_claims",
    metadata,
    Column("notification_key", String(200), primary_key=True),
    Column("recipient", String(320), primary_key=True),
    Column("channel", String(16), primary_key=True),
    Column("attempt_id", String(200), nullable=False),
    Column("claimed_until", UtcDateTime, nullable=False),
)

# Every write the trial client refused (by role or by the protocol): who tried what, on which patient, and why it
# was refused. Append-only like the events (migration 0003 adds the guards), but outside the hash chain: an attempt
# changed nothing in the patient's record. Reasons are protocol text, never a value typed in.
refused_attempts = Table(
    "refused_attempts",
    metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("study_id", String(32), nullable=False),
    Column("actor_user_id", String(64), nullable=False),
    Column("actor_role", String(64), nullable=False),
    Column("command_kind", String(64), nullable=False),
    Column("refusal", String(32), nullable=False),
    Column("reasons", Text, nullable=False),  # a JSON array of sentences
    Column("update_id", String(128), nullable=True),
    Index("ix_refused_attempts_study_id", "study_id", "attempted_at"),
    Index("ix_refused_attempts_attempted_at", "attempted_at"),
)

# When each API token was last used (the API writes it at most once a minute per token), for `trial admin token
# list`. Keyed by the token's hash, which is what the token file keeps; never the token itself.
token_uses = Table(
    "token_uses",
    metadata,
    Column("sha256", String(HASH_LENGTH), primary_key=True),
    Column("user_id", String(64), nullable=False),
    Column("last_used_at", UtcDateTime, nullable=False),
)

# Every change to the API tokens (`trial admin token new | revoke`): when, by which operating-system user, for whom.
# Append-only like the refused attempts (migration 0005 adds the guards).
token_changes = Table(
    "token_changes",
    metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("changed_at", UtcDateTime, nullable=False),
    Column("operator", String(64), nullable=False),  # the operating-system user who ran the command
    Column("action", String(16), nullable=False),  # issued | revoked
    Column("user_id", String(64), nullable=False),
    Column("role", String(64), nullable=True),
    Column("sha256_prefix", String(12), nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Index("ix_token_changes_changed_at", "changed_at"),
)

# Each person's signing PIN, as an argon2id hash (never the PIN), and the state of their signing lockout: wrong
# PINs in a row since the last right one, and until when signing is locked. Outside the hash chain: it is
# credentials, not the trial's facts; each refused signing is also kept in refused_attempts.
signing_pins = Table(
    "signing_pins",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("pin_hash", Text, nullable=True),  # NULL: reset by an administrator; the user sets a new one
    Column("pin_set_at", UtcDateTime, nullable=True),
    Column("failed_attempts", Integer, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
    CheckConstraint("failed_attempts >= 0", name="ck_signing_pins_failed_attempts"),
)

# Idempotency-Key ledger of the HTTP API (draft-ietf-httpapi-idempotency-key-header): one row per (user, key),
# claimed before the request runs (in_flight), then holding the answer given (done). Outside the hash chain: it is
# the API's memory of its answers, not the trial's facts; rows past their expiry (24 h) are deleted.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("idempotency_key", String(128), primary_key=True),
    Column("fingerprint", String(HASH_LENGTH), nullable=False),  # SHA-256 of the canonical request
    Column("status", String(16), nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_body", Text, nullable=True),  # the JSON answer given, replayed to a resend
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('in_flight', 'done')", name="ck_idempotency_keys_status"),
    Index("ix_idempotency_keys_created_at", "created_at"),
)

# The manufacturing slot calendar (domain/slots.py): one row per (patient, collection number), the key a retried
# booking finds again. No two live bookings share a collection slot (week, slot number): a cancelled one gives its
# slot back. Outside the hash chain: the chain records each booking as the patient's `slot_booked` event.
slot_bookings = Table(
    "slot_bookings",
    metadata,
    Column("study_id", String(32), primary_key=True),
    Column("collection_number", Integer, primary_key=True),
    Column("week", Date, nullable=False),  # the Monday of the collection's week
    Column("slot_number", Integer, nullable=False),
    Column("collection_date", Date, nullable=False),
    Column("expected_release", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("manufacturing_ended", Date, nullable=True),
    Column("booked_at", UtcDateTime, nullable=False),
    CheckConstraint("status IN ('booked', 'released', 'failed', 'cancelled')", name="ck_slot_bookings_status"),
    Index(
        "uq_slot_bookings_collection_slot",
        "week",
        "slot_number",
        unique=True,
        sqlite_where=text("status != 'cancelled'"),
        postgresql_where=text("status != 'cancelled'"),
    ),
)
