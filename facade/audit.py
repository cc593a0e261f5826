"""A patient's audit trail: every recorded event (who, when, what, why) with its place in the hash chain, then
every refused attempt, as JSON lines or CSV, for `trial audit` and `GET /patients/{id}/audit`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Final, Literal

from pydantic import AwareDatetime, Field, field_serializer

from domain.journey.envelope import split_stored_payload
from domain.protocol import FrozenModel
from domain.roles import Role
from records.hashing import utc_timestamp
from records.refusals import RefusedAttempt
from records.verification import ChainRow

# Who may export a patient's audit trail (the API and the web pages): its payloads hold what a decoded history
# holds (the birth date among it), so the same roles as the codec server's readers of patient data
# (api/codec_server.py PHI_READER_ROLES).
AUDIT_READER_ROLES: Final = frozenset(
    {Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR, Role.PHYSICIAN, Role.NURSE, Role.SUPERVISOR}
)

EVENT: Final = "event"
REFUSED_ATTEMPT: Final = "refused_attempt"


class AuditFormat(StrEnum):
    JSONL = "jsonl"  # one JSON object per line (application/x-ndjson)
    CSV = "csv"  # RFC 4180, a header row first (text/csv)


MEDIA_TYPES: Final[dict[AuditFormat, str]] = {
    AuditFormat.JSONL: "application/x-ndjson",
    AuditFormat.CSV: "text/csv",
}


class AuditEntry(FrozenModel):
    """One line of the audit trail: a recorded event, or a refused attempt (clearly marked by `entry`)."""

    # An auditor re-verifies an event from its own row: the columns are the hashed document's keys (records/hashing.py),
    # timestamps in the hashed spelling (UTC, microseconds, trailing Z), and `payload` the stored JSON text itself.

    entry: Literal["event", "refused_attempt"] = Field(
        description="event: a fact in the hash-chained record; refused_attempt: a write that was refused and changed "
        "nothing (outside the chain)"
    )
    study_id: str
    sequence: int | None = Field(description="The event's place in the patient's chain; null for a refused attempt")
    occurred_at: AwareDatetime = Field(description="When it happened (a refused attempt: when it was tried)")
    recorded_at: AwareDatetime = Field(description="When the record received it")
    actor_user_id: str = Field(description="Who")
    actor_role: str = Field(description="In which study role")
    event_type: str | None = Field(description="What happened; null for a refused attempt")
    protocol_version: str | None
    payload: str | None = Field(description="The event's payload as the stored JSON text the hash covers")
    reason: str | None = Field(description="Why, in the person's words (corrections and decisions); else null")
    previous_hash: str | None = Field(description="The hash of the event before it (64 zeros for the first)")
    hash: str | None = Field(description="SHA-256 of the hashed document (records/hashing.py)")
    refused_command: str | None = Field(description="The kind of command that was refused; null for an event")
    refusal: str | None = Field(description="Why it was refused, in one word (forbidden, command_refused, ...)")
    refusal_reasons: tuple[str, ...] | None = Field(description="Every reason it was refused (CSV: a JSON array)")
    # The electronic signature's manifestation (21 CFR Part 11 §11.50), read from the payload the hash covers.
    signer_user_id: str | None = Field(default=None, description="Who signed the entry; null when it was not signed")
    signer_printed_name: str | None = Field(default=None, description="The signer's printed name")
    signed_at: str | None = Field(
        default=None, description="When it was signed, ISO 8601 with the site's UTC offset (as the signer saw it)"
    )
    signature_meaning: str | None = Field(default=None, description="What it means: author, review, approval")
    signed_sha256: str | None = Field(
        default=None, description="SHA-256 of the entry signed (its command as canonical JSON, without the signature)"
    )

    @field_serializer("occurred_at", "recorded_at")
    def _hashed_spelling(self, moment: datetime) -> str:
        return utc_timestamp(moment)


CSV_COLUMNS: Final = tuple(AuditEntry.model_fields)


def event_entry(row: ChainRow) -> AuditEntry:
    return AuditEntry(
        entry=EVENT,
        **row.columns(),
        refused_command=None,
        refusal=None,
        refusal_reasons=None,
        **_signature_columns(row.payload),
    )


def _signature_columns(payload_text: str) -> dict[str, str | None]:
    """The signature kept in a stored payload, as the export's columns; none for an entry not signed (or a payload
    that is not an object: `trial verify` reports a damaged row, the export still shows it)."""
    try:
        _, signature = split_stored_payload(json.loads(payload_text))
    except (ValueError, TypeError, AttributeError):
        return {}
    if signature is None:
        return {}
    return {
        "signer_user_id": signature.signer_user_id,
        "signer_printed_name": signature.printed_name,
        "signed_at": signature.signed_at.isoformat(),
        "signature_meaning": signature.meaning.value,
        "signed_sha256": signature.signed_sha256,
    }


def refused_entry(attempt: RefusedAttempt) -> AuditEntry:
    return AuditEntry(
        entry=REFUSED_ATTEMPT,
        study_id=attempt.study_id,
        sequence=None,
        occurred_at=attempt.attempted_at,
        recorded_at=attempt.attempted_at,
        actor_user_id=attempt.actor_user_id,
        actor_role=attempt.actor_role,
        event_type=None,
        protocol_version=None,
        payload=None,
        reason=None,
        previous_hash=None,
        hash=None,
        refused_command=attempt.command_kind,
        refusal=attempt.refusal,
        refusal_reasons=attempt.reasons,
    )


def audit_entries(chain: Iterable[ChainRow], refused: Iterable[RefusedAttempt]) -> list[AuditEntry]:
    """The chain in sequence order, then the refused attempts oldest first."""
    return [*(event_entry(row) for row in chain), *(refused_entry(attempt) for attempt in refused)]


def jsonl_lines(entries: Iterable[AuditEntry]) -> Iterator[str]:
    """One JSON object per entry, each line ending in a newline."""
    for entry in entries:
        yield json.dumps(entry.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")) + "\n"


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return json.dumps(list(value), ensure_ascii=False)
    return str(value)


def csv_text(entries: Sequence[AuditEntry]) -> str:
    """A header row of the AuditEntry fields, then one row per entry; null is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        document = entry.model_dump(mode="json")
        writer.writerow([_csv_cell(document[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


def exported(entries: Sequence[AuditEntry], audit_format: AuditFormat) -> str:
    """The whole trail in `audit_format`."""
    return csv_text(entries) if audit_format is AuditFormat.CSV else "".join(jsonl_lines(entries))
