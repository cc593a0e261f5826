"""Signing in and out: through the OpenID provider (authorization code with PKCE) when one is configured, else with
the personal credential `trial admin token new` printed, typed into a form. Either way the session keeps a credential
the API's own authenticator accepts, so the pages act with exactly the API's user and role."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from observability.logging import get_logger
from security.auth import AuthenticationFailed, Authenticator
from web.access import FormSession, SessionDep, sessions
from web.config import WebConfig
from web.cookies import (
    clear_session_cookie,
    clear_sign_in_cookie,
    set_session_cookie,
    set_sign_in_cookie,
)
from web.oidc_sign_in import OidcSignIn, SignInFailed
from web.rendering import gettext_for, page
from web.sessions import SIGN_IN_COOKIE, SignedInUser, WebSession

router = APIRouter(include_in_schema=False)
_log = get_logger("web.sign_in")

CALLBACK_PATH = "/auth/callback"


def _oidc(request: Request) -> OidcSignIn | None:
    found: OidcSignIn | None = request.app.state.web_oidc
    return found


def sign_in_page(
    request: Request, session: WebSession | None, problem: str | None = None, status_code: int = 200
) -> HTMLResponse:
    """The sign-in page, with an anonymous session (its form token) made when there is none."""
    made = session is None or session.user is not None
    if made:
        session = sessions(request).new()
    config: WebConfig = request.app.state.web_config
    idled = bool(getattr(request.state, "session_idled", False)) or request.query_params.get("idle") == "1"
    response = page(
        request,
        "sign_in.html",
        session,
        {
            "oidc": config.oidc is not None,
            "problem": problem,
            "idled": idled,
            "idle_minutes": int(config.idle_timeout.total_seconds() // 60),
        },
        status_code=status_code,
    )
    if made:
        assert session is not None
        set_session_cookie(request, response, session)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, session: SessionDep) -> Response:
    if session is not None and session.user is not None:
        return RedirectResponse("/", status_code=303)
    return sign_in_page(request, session)


async def _signed_in(
    request: Request, previous: WebSession | None, credential: str, refresh_token: str | None = None
) -> Response | None:
    """The session for `credential` and the answer that sets its cookie; None when the credential is refused."""
    auth: Authenticator = request.app.state.authenticator
    try:
        actor = await asyncio.to_thread(auth.actor_for, credential)
        printed_name = await asyncio.to_thread(auth.printed_name_for, credential) if actor else None
    except AuthenticationFailed as refused:
        _log.warning("web_sign_in_refused", reason=refused.reason)
        return None
    if actor is None:
        _log.warning("web_sign_in_refused", reason="unknown credential")
        return None
    session = sessions(request).sign_in(previous, SignedInUser(actor, credential, printed_name, refresh_token))
    _log.info("web_signed_in", user_id=actor.user_id, role=actor.role.value)
    # A page, not a redirect: after the provider's cross-site redirect, only a navigation started here carries the
    # SameSite=Strict cookie just set.
    response = page(request, "signed_in.html", session)
    set_session_cookie(request, response, session)
    return response


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in_with_credential(
    request: Request, session: FormSession, credential: Annotated[str, Form(max_length=4096)] = ""
) -> Response:
    _ = gettext_for(request)
    if not credential.strip():
        return sign_in_page(request, session, _("Enter your personal credential."), status_code=422)
    signed = await _signed_in(request, session, credential.strip())
    if signed is None:
        return sign_in_page(
            request, session, _("This credential was not accepted: it is unknown, expired or revoked."), 401
        )
    return signed


@router.post("/sign-in/oidc")
async def sign_in_with_provider(request: Request, session: FormSession) -> Response:
    oidc = _oidc(request)
    _ = gettext_for(request)
    if oidc is None:
        return sign_in_page(request, session, _("Sign-in through the hospital's identity provider is not set up."), 404)
    config: WebConfig = request.app.state.web_config
    redirect_uri = (config.public_url or str(request.base_url)).rstrip("/") + CALLBACK_PATH
    try:
        authorization = await oidc.authorization_request(redirect_uri)
    except SignInFailed as failed:
        _log.warning("web_sign_in_unavailable", reason=str(failed))
        return sign_in_page(request, session, _("The identity provider cannot be reached just now."), 503)
    attempt = sessions(request).start_attempt(authorization.state, authorization.code_verifier, redirect_uri)
    response = RedirectResponse(authorization.url, status_code=303)
    set_sign_in_cookie(request, response, attempt.id)
    return response


@router.get(CALLBACK_PATH, response_class=HTMLResponse)
async def provider_callback(
    request: Request, session: SessionDep, code: str | None = None, state: str | None = None, error: str | None = None
) -> Response:
    _ = gettext_for(request)
    attempt = sessions(request).finish_attempt(request.cookies.get(SIGN_IN_COOKIE), state)
    oidc = _oidc(request)
    response: Response
    if error is not None or attempt is None or oidc is None or not code:
        _log.warning("web_sign_in_callback_refused", provider_error=error, attempt_found=attempt is not None)
        response = sign_in_page(request, session, _("The sign-in did not complete. Please try again."), 400)
    else:
        try:
            tokens = await oidc.tokens(code, attempt.code_verifier, attempt.redirect_uri)
        except SignInFailed as failed:
            _log.warning("web_sign_in_failed", reason=str(failed))
            tokens = None
        signed = await _signed_in(request, session, tokens.access, tokens.refresh) if tokens else None
        response = signed or sign_in_page(request, session, _("The sign-in did not complete. Please try again."), 401)
    clear_sign_in_cookie(request, response)
    return response


@router.post("/sign-out")
async def sign_out(request: Request, session: FormSession) -> Response:
    sessions(request).end(session.id)
    if session.user is not None:
        _log.info("web_signed_out", user_id=session.user.actor.user_id)
    response = RedirectResponse("/sign-in", status_code=303)
    clear_session_cookie(request, response)
    return response
