"""Who is using the pages: the request's session (its cookie), the signed-in user checked again against the API's
authenticator on every request, and the form token every post must carry (CSRF)."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import replace
from typing import Annotated, Final

from fastapi import Depends, Request

from domain.roles import Actor
from observability.logging import get_logger
from security.auth import AuthenticationFailed, Authenticator
from web.oidc_sign_in import OidcSignIn, SignInFailed
from web.sessions import SESSION_COOKIE, SessionStore, SignedInUser, WebSession

CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"  # htmx sends it (hx-headers on the page body)

_log = get_logger("web.access")


class SignInRequired(Exception):
    """The page needs a signed-in user; `idle`: the session has just ended after its idle timeout."""

    def __init__(self, idle: bool = False) -> None:
        super().__init__("sign-in required")
        self.idle = idle


class FormRefused(Exception):
    """A form post without this session's form token: forged by another site, or from a page of an ended session."""


def sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.web_sessions
    return store


async def current_session(request: Request) -> WebSession | None:
    """The request's session, if its cookie names a live one; notes on the request when it just idled out."""
    session, idled = sessions(request).current(request.cookies.get(SESSION_COOKIE))
    if idled:
        request.state.session_idled = True
    return session


async def signed_in(request: Request, session: Annotated[WebSession | None, Depends(current_session)]) -> WebSession:
    """The session of a signed-in user whose credential still holds (not revoked, not expired; an expired OpenID
    access token is renewed with its refresh token), else SignInRequired."""
    if session is None or session.user is None:
        raise SignInRequired(idle=bool(getattr(request.state, "session_idled", False)))
    actor = await _checked(request, session.user.credential, session.user.actor)
    if actor is None and session.user.refresh_token is not None:
        renewed = await _renewed(request, session)
        if renewed is not None:
            return renewed
    if actor is None:
        sessions(request).end(session.id)
        raise SignInRequired()
    return session


async def _checked(request: Request, credential: str, was: Actor) -> Actor | None:
    """The actor `credential` identifies now; None once it is refused (AuthenticationUnavailable goes up: the API's
    handler answers 503 and the user stays signed in)."""
    auth: Authenticator = request.app.state.authenticator
    try:
        return await asyncio.to_thread(auth.actor_for, credential)
    except AuthenticationFailed as refused:
        _log.info("web_session_credential_refused", user_id=was.user_id, reason=refused.reason)
        return None


async def _renewed(request: Request, session: WebSession) -> WebSession | None:
    user = user_of(session)
    oidc: OidcSignIn | None = request.app.state.web_oidc
    if oidc is None or user.refresh_token is None:
        return None
    try:
        tokens = await oidc.renewed(user.refresh_token)
    except SignInFailed as failed:
        _log.info("web_session_not_renewed", user_id=user.actor.user_id, reason=str(failed))
        return None
    actor = await _checked(request, tokens.access, user.actor)
    if actor is None:
        return None
    _log.info("web_session_renewed", user_id=actor.user_id)
    renewed = replace(user, actor=actor, credential=tokens.access, refresh_token=tokens.refresh)
    return sessions(request).renewed(session, renewed)


async def form_session(request: Request, session: Annotated[WebSession | None, Depends(current_session)]) -> WebSession:
    """The session whose form token this post carries (a form field, or htmx's header), else FormRefused."""
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        presented = field if isinstance(field, str) else None
    if session is None or not presented or not secrets.compare_digest(presented, session.csrf_token):
        _log.warning("web_form_refused", path=request.url.path, session=session is not None)
        raise FormRefused()
    return session


def user_of(session: WebSession) -> SignedInUser:
    assert session.user is not None
    return session.user


def actor_of(session: WebSession) -> Actor:
    return user_of(session).actor


SessionDep = Annotated[WebSession | None, Depends(current_session)]
SignedIn = Annotated[WebSession, Depends(signed_in)]
FormSession = Annotated[WebSession, Depends(form_session)]
