"""What the web app is configured with: how people sign in, how long an idle session lasts, and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from config.settings import Settings

DEFAULT_IDLE_TIMEOUT: Final = timedelta(minutes=15)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OidcWebClient:
    """The issuer's public client the web app signs people in as (authorization code with PKCE)."""

    issuer: str
    client_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class WebConfig:
    """`oidc`: sign-in through this issuer; None: with the personal credential `trial admin token new` prints.
    `secure_cookies`: the cookies carry Secure (browsers accept it on http://127.0.0.1 and localhost too).
    `public_url`: the address browsers reach the app at (None: each request's own), for the OpenID redirect URI."""

    oidc: OidcWebClient | None = None
    public_url: str | None = None
    idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT
    clock: Callable[[], datetime] = field(default=utc_now)
    secure_cookies: bool = True


def web_config_for(settings: Settings) -> WebConfig:
    oidc = (
        OidcWebClient(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_web_client_id,
            scopes=tuple(settings.oidc_web_scopes.split()),
        )
        if settings.oidc_issuer
        else None
    )
    return WebConfig(
        oidc=oidc,
        idle_timeout=timedelta(minutes=settings.web_idle_timeout_minutes),
        public_url=settings.web_public_url or None,
    )
