"""`Idempotency-Key` on the API's writes, as draft-ietf-httpapi-idempotency-key-header says: keys belong to the
authenticated user; the same key with the same request is answered as the first time (same status, same body), never
recorded twice; with a different request, 422 and nothing recorded; while the first is still running, 409.

The answers are kept in the trial record's database (records/idempotency_keys.py) for a day. A request that was
refused or failed keeps no answer: it recorded nothing, and the same key may be sent again. Behind this ledger the
command's Temporal update id is derived from the same (user, key) (facade/trial_client.py), so even a resend after
the ledger forgot, or after an API process died mid-request, is answered by the journey, never applied twice."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Annotated, Final

from fastapi import Header, Request, Response
from pydantic import BaseModel

from api.problems import Problem
from domain.canonical_json import canonical_json
from domain.roles import Actor
from facade import TrialClient
from records.idempotency_keys import ClaimOutcome, IdempotencyLedger

# A key travels into Temporal's update id and the record's audit: short and plain (a UUID fits).
IDEMPOTENCY_KEY_PATTERN: Final = r"^[A-Za-z0-9._:-]{1,128}$"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description=(
            "A key of your choosing (a UUID), one per request: resending the same request with the same key within "
            "24 h is answered as the first time and never recorded twice; the same key with a different request is "
            "refused (422), and while the first is still being processed, 409"
        ),
    ),
]


def request_fingerprint(operation: str, study_id: str, body: BaseModel) -> str:
    """SHA-256 of the canonical request: what it does, to whom, and its body. A signing PIN never enters it (its
    JSON form is masked), so a resend with the PIN typed again is the same request and no PIN is hashed here."""
    document = {"operation": operation, "study_id": study_id, "body": body.model_dump(mode="json")}
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def _ledger(request: Request, client: TrialClient) -> IdempotencyLedger:
    ledger: IdempotencyLedger | None = getattr(request.app.state, "idempotency_ledger", None)
    if ledger is None:
        ledger = request.app.state.idempotency_ledger = IdempotencyLedger(client.store.engine)
    return ledger


async def answered_once(
    request: Request,
    client: TrialClient,
    who: Actor,
    key: str | None,
    fingerprint: str,
    run: Callable[[], Awaitable[BaseModel]],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """`run()`'s answer as JSON; with a key, claimed first and kept, so a resend gets the same answer again."""
    if key is None:
        return _json(status_code, (await run()).model_dump_json(), headers)
    ledger = _ledger(request, client)
    claim = await asyncio.to_thread(ledger.claim, who.user_id, key, fingerprint)
    if claim.outcome is ClaimOutcome.REPLAY:
        assert claim.status is not None and claim.body is not None
        return _json(claim.status, claim.body, headers)
    if claim.outcome is ClaimOutcome.DIFFERENT_REQUEST:
        raise Problem(
            422,
            "idempotency_key_reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used for a different request; nothing was recorded: send a new request with a "
            "new key",
        )
    if claim.outcome is ClaimOutcome.IN_FLIGHT:
        raise Problem(
            409,
            "idempotency_key_in_flight",
            "Request in progress",
            "a request with this Idempotency-Key is still being processed; nothing more was recorded: resend it in a "
            "moment for its answer",
        )
    try:
        body = (await run()).model_dump_json()
    except BaseException:
        # Refused, or failed before an answer: nothing to replay. Whatever may have reached the journey is guarded
        # by the update id derived from the same key.
        await asyncio.shield(asyncio.to_thread(ledger.release, who.user_id, key))
        raise
    await asyncio.to_thread(ledger.complete, who.user_id, key, status_code, body)
    return _json(status_code, body, headers)


def _json(status_code: int, body: str, headers: dict[str, str] | None) -> Response:
    return Response(content=body, status_code=status_code, media_type="application/json", headers=headers)
