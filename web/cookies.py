"""The cookies the web app sets: the session's (Strict), the sign-in attempt's (Lax: it must come back from the
provider), the language's. Each is HttpOnly, and Secure unless the site is served over plain HTTP (the dev stack)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from fastapi import Request, Response

from web.config import WebConfig
from web.i18n import LANGUAGE_COOKIE
from web.sessions import SESSION_COOKIE, SIGN_IN_COOKIE, SIGN_IN_LIFETIME, WebSession

LANGUAGE_COOKIE_SECONDS: Final = 365 * 24 * 3600


@dataclass(frozen=True)
class _Cookie:
    name: str
    samesite: Literal["strict", "lax"]
    path: str
    max_age: int | None  # None: the cookie ends with the browser

    def set(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(
            self.name,
            value,
            max_age=self.max_age,
            httponly=True,
            secure=_config(request).secure_cookies,
            samesite=self.samesite,
            path=self.path,
        )

    def clear(self, request: Request, response: Response) -> None:
        secure = _config(request).secure_cookies
        response.delete_cookie(self.name, httponly=True, secure=secure, samesite=self.samesite, path=self.path)


# No Max-Age for the session: the server ends it after its idle timeout.
_SESSION: Final = _Cookie(SESSION_COOKIE, "strict", "/", None)
_SIGN_IN: Final = _Cookie(SIGN_IN_COOKIE, "lax", "/auth/callback", int(SIGN_IN_LIFETIME.total_seconds()))
_LANGUAGE: Final = _Cookie(LANGUAGE_COOKIE, "lax", "/", LANGUAGE_COOKIE_SECONDS)


def _config(request: Request) -> WebConfig:
    config: WebConfig = request.app.state.web_config
    return config


def set_session_cookie(request: Request, response: Response, session: WebSession) -> None:
    _SESSION.set(request, response, session.id)


def clear_session_cookie(request: Request, response: Response) -> None:
    _SESSION.clear(request, response)


def set_sign_in_cookie(request: Request, response: Response, attempt_id: str) -> None:
    _SIGN_IN.set(request, response, attempt_id)


def clear_sign_in_cookie(request: Request, response: Response) -> None:
    _SIGN_IN.clear(request, response)


def set_language_cookie(request: Request, response: Response, language: str) -> None:
    _LANGUAGE.set(request, response, language)
