"""The cookies the web app sets: the session's (Strict), the sign-in attempt's (Lax: it must come back from the
provider), the language's."""

from __future__ import annotations

from typing import Final

from fastapi import Request, Response

from web.config import WebConfig
from web.i18n import LANGUAGE_COOKIE
from web.sessions import SESSION_COOKIE, SIGN_IN_COOKIE, SIGN_IN_LIFETIME, WebSession

LANGUAGE_COOKIE_SECONDS: Final = 365 * 24 * 3600


def _config(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.web_config
    return config


def set_session_cookie(request: Request, response: Response, session: WebSession) -> None:
    # No Max-Age: the cookie ends with the browser; the server ends the session after its idle timeout.
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        httponly=True,
        secure=_config(request).secure_cookies,
        samesite="strict",
        path="/",
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, secure=_config(request).secure_cookies, samesite="strict", path="/"
    )


def set_sign_in_cookie(request: Request, response: Response, attempt_id: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE,
        attempt_id,
        max_age=int(SIGN_IN_LIFETIME.total_seconds()),
        httponly=True,
        secure=_config(request).secure_cookies,
        samesite="lax",
        path="/auth/callback",
    )


def clear_sign_in_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SIGN_IN_COOKIE, httponly=True, secure=_config(request).secure_cookies, samesite="lax", path="/auth/callback"
    )


def set_language_cookie(request: Request, response: Response, language: str) -> None:
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_SECONDS,
        httponly=True,
        secure=_config(request).secure_cookies,
        samesite="lax",
        path="/",
    )
