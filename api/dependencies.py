"""What the API's routes are given by dependency injection: the trial client and the authenticated actor (both
from `app.state`, set by `create_app`), and the role guard of the audit export."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError

from api.problems import Problem
from domain.identifiers import STUDY_ID_PATTERN
from domain.roles import Actor, Role
from facade import TrialClient
from facade.audit import AUDIT_READER_ROLES
from observability.logging import get_logger
from records.token_uses import TokenUseLog
from security.auth import AuthenticationFailed, AuthenticationUnavailable, Authenticator
from security.oidc import token_entry_of

TrialSource = TrialClient | Callable[[], TrialClient | Awaitable[TrialClient]]


_bearer = HTTPBearer(auto_error=False, description="A token configured for one user and role")

_log = get_logger("security.auth")


async def trial_client(request: Request) -> TrialClient:
    """The request's trial client: made once per request by a factory (authentication may need it too)."""
    source: TrialSource = request.app.state.trial_source
    if isinstance(source, TrialClient):
        return source
    made: TrialClient | None = getattr(request.state, "trial_client", None)
    if made is None:
        produced = source()
        made = produced if isinstance(produced, TrialClient) else await produced
        request.state.trial_client = made
    return made


async def authenticated_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor of the bearer token, or 401 naming why: the one source of who acts. A static token's use is noted
    in the record (at most once a minute), for `trial admin token list`."""
    auth: Authenticator = request.app.state.authenticator
    token = credentials.credentials if credentials else None
    try:
        # Off the event loop: checking a JWT may fetch the issuer's keys.
        found = await asyncio.to_thread(auth.actor_for, token) if token else None
    except AuthenticationFailed as refused:
        _log.warning("authentication_refused", path=request.url.path, reason=refused.reason)
        raise _unauthenticated(f"the bearer token was refused: {refused.reason}", presented=True) from None
    except AuthenticationUnavailable as unavailable:
        _log.warning("authentication_unavailable", path=request.url.path, reason=str(unavailable))
        raise Problem(
            503,
            "authentication_unavailable",
            "Authentication unavailable",
            f"the bearer token cannot be checked just now: {unavailable}",
        ) from None
    if found is None:
        if credentials is None:
            raise _unauthenticated("no bearer token was given")
        _log.warning("authentication_refused", path=request.url.path, reason="unknown token")
        raise _unauthenticated("the bearer token is not recognised", presented=True)
    assert token is not None
    if getattr(request.app.state, "trial_source", None) is not None:  # the codec server keeps no record
        await asyncio.to_thread(_note_use, request, await trial_client(request), auth, token)
    return found


def _note_use(request: Request, client: TrialClient, auth: Authenticator, token: str) -> None:
    entry = token_entry_of(auth, token)
    if entry is None:
        return
    uses: TokenUseLog | None = getattr(request.app.state, "token_uses", None)
    if uses is None:
        uses = request.app.state.token_uses = TokenUseLog(client.store.engine)
    try:
        uses.used(entry.sha256, entry.user_id)
    except SQLAlchemyError as error:
        # The request is served: its last use is a convenience for administrators, not part of the record.
        _log.warning("token_use_not_noted", error_type=type(error).__name__)


async def credential_printed_name(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """The printed name the caller's credential gives (a token entry's `name`, an OIDC token's `name` claim), for
    their electronic signature; None when it gives none. Called after `authenticated_actor` accepted the token."""
    if credentials is None:
        return None
    auth: Authenticator = request.app.state.authenticator
    try:
        return await asyncio.to_thread(auth.printed_name_for, credentials.credentials)
    except (AuthenticationFailed, AuthenticationUnavailable):
        return None  # it was accepted a moment ago; the staff directory may still name the signer


def _unauthenticated(why: str, presented: bool = False) -> Problem:
    # RFC 6750 §3: `error` only when a token was presented and refused.
    challenge = 'Bearer realm="trialflow"' + (', error="invalid_token"' if presented else "")
    return Problem(
        401,
        "unauthenticated",
        "Not authenticated",
        f"{why}: send Authorization: Bearer <token> with a token configured for you",
        headers={"WWW-Authenticate": challenge},
    )


async def audit_reader(who: Annotated[Actor, Depends(authenticated_actor)]) -> Actor:
    """The authenticated actor, or 403 when the role may not read patient data."""
    if who.role not in AUDIT_READER_ROLES:
        role = who.role.value.replace("_", " ")
        raise Problem(403, "forbidden", "Not allowed", f"the {role} role may not export a patient's audit trail")
    return who


async def trial_exporter(who: Annotated[Actor, Depends(authenticated_actor)]) -> Actor:
    """The authenticated supervisor, or 403: the whole trial's data leaves only through a supervisor."""
    if who.role is not Role.SUPERVISOR:
        role = who.role.value.replace("_", " ")
        detail = f"the {role} role may not export the trial's data: a supervisor may"
        raise Problem(403, "forbidden", "Not allowed", detail)
    return who


TrialDep = Annotated[TrialClient, Depends(trial_client)]
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
Reader = Annotated[Actor, Depends(authenticated_actor)]
# Who writes is any authenticated actor: the decider refuses (403) a role that may not, and the attempt is kept.
Writer = Annotated[Actor, Depends(authenticated_actor)]
Auditor = Annotated[Actor, Depends(audit_reader)]
Exporter = Annotated[Actor, Depends(trial_exporter)]
StudyIdPath = Annotated[
    str, Path(pattern=STUDY_ID_PATTERN, description="The patient's study id, e.g. TF-001", examples=["TF-001"])
]
