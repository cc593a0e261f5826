"""`GET /patients/{study_id}/audit`: the facade's audit trail as JSON lines or CSV, chosen by `?format=` or the
Accept header (quality values honoured; `*/*` and no header give JSON lines)."""

from __future__ import annotations

from typing import Any, Final

from fastapi import Response

from api.problems import Problem
from facade import AuditFormat, TrialClient
from facade.audit import MEDIA_TYPES, exported

# What an Accept header may name for each format (aliases in use for JSON lines included).
ACCEPTED_MEDIA_TYPES: Final[dict[str, AuditFormat | None]] = {
    "application/x-ndjson": AuditFormat.JSONL,
    "application/ndjson": AuditFormat.JSONL,
    "application/jsonl": AuditFormat.JSONL,
    "application/x-jsonlines": AuditFormat.JSONL,
    "text/csv": AuditFormat.CSV,
    "text/*": AuditFormat.CSV,
    "application/*": AuditFormat.JSONL,
    "*/*": None,  # anything: the default
}
DEFAULT_FORMAT: Final = AuditFormat.JSONL

# The OpenAPI description of the 200 answer's media types.
AUDIT_CONTENT: Final[dict[str, Any]] = {
    MEDIA_TYPES[AuditFormat.JSONL]: {"schema": {"type": "string", "description": "One AuditEntry object a line"}},
    MEDIA_TYPES[AuditFormat.CSV]: {"schema": {"type": "string", "description": "A header, then an AuditEntry a row"}},
}


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value), 0.0), 1.0)
            except ValueError:
                return 0.0
    return 1.0


def negotiated_format(accept: str | None) -> AuditFormat:
    """The format the Accept header prefers; 406 problem details when it accepts neither."""
    if accept is None or not accept.strip():
        return DEFAULT_FORMAT
    # Higher quality wins; between equals, a type named exactly over a wildcard, then the one listed first.
    offers: list[tuple[float, bool, int, AuditFormat]] = []
    for index, item in enumerate(accept.split(",")):
        media_type, *parameters = item.split(";")
        media_type = media_type.strip().lower()
        quality = _quality(parameters)
        if media_type in ACCEPTED_MEDIA_TYPES and quality > 0:
            chosen = ACCEPTED_MEDIA_TYPES[media_type] or DEFAULT_FORMAT
            offers.append((quality, not media_type.endswith("*"), -index, chosen))
    if not offers:
        offered = ", ".join(MEDIA_TYPES.values())
        raise Problem(
            406,
            "not_acceptable",
            "Not acceptable",
            f"the audit trail is offered as {offered}; the Accept header names neither (or ?format=jsonl|csv)",
        )
    return max(offers)[3]


async def audit_response(
    trial: TrialClient, study_id: str, audit_format: AuditFormat | None, accept: str | None
) -> Response:
    chosen = audit_format or negotiated_format(accept)
    entries = await trial.audit(study_id)
    return Response(
        exported(entries, chosen),
        media_type=MEDIA_TYPES[chosen],
        headers={"Content-Disposition": f'attachment; filename="audit-{study_id}.{chosen.value}"'},
    )
