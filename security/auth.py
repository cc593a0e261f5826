"""Who is calling the API: a bearer token mapped to an Actor (user id and role) by configuration.

Only token hashes are configured, as JSON or TOML (`TRIALFLOW_API_TOKENS`, or `security/token_file.py`):
`{"tokens": [{"sha256": "<hex>", "user_id": "nurse.lee", "role": "nurse"}, ...]}`, or a bare JSON list."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError, field_validator

from config.errors import ConfigurationError
from domain.protocol import FrozenModel
from domain.roles import Actor, Role


class TokenConfigurationError(ConfigurationError):
    """The token configuration is invalid; the message names every problem."""


class AuthenticationFailed(Exception):
    """A presented credential was refused; `reason` says why in words (expired, wrong audience, ...), never
    quoting the credential itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AuthenticationUnavailable(Exception):
    """The credential cannot be checked just now (the identity provider's keys cannot be fetched)."""


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token: what the configuration stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token to hand to one user (its hash goes into the configuration)."""
    return secrets.token_urlsafe(32)


# How long a token made by `trial admin token new` works unless told otherwise.
DEFAULT_TOKEN_LIFETIME = timedelta(days=90)


def utc_now() -> datetime:
    return datetime.now(UTC)


class TokenEntry(FrozenModel):
    """One configured credential: the token's hash, whom it identifies, and when it stops working (None: an entry
    written by hand into the configuration without an expiry)."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    user_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Role
    expires_at: AwareDatetime | None = None
    # The person's printed name, shown on their electronic signatures (None: the staff directory's display_name).
    name: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("role")
    @classmethod
    def _people_only(cls, role: Role) -> Role:
        # The system role belongs to the workflow's own timers: no credential may act as it.
        if role is Role.SYSTEM:
            raise ValueError("no API credential may act as the system: its commands are the workflow's own")
        return role

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, role=self.role)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


_ENTRIES = TypeAdapter(tuple[TokenEntry, ...])


class Authenticator(Protocol):
    """Whom a bearer token identifies; `actor_for` may block (fetching an issuer's keys): call it off the event loop.

    `actor_for`: None for a missing or unknown token; raises AuthenticationFailed (saying why, e.g. expired) or
    AuthenticationUnavailable. `printed_name_for`: the person's name as the credential gives it (for electronic
    signatures), None when it gives none; raises as `actor_for`. `configured`: how many credential sources (0: every
    request is refused)."""

    @property
    def configured(self) -> int: ...

    def actor_for(self, token: str | None) -> Actor | None: ...

    def printed_name_for(self, token: str) -> str | None: ...


class TokenAuthenticator:
    """Maps a presented bearer token to its Actor, comparing hashes in constant time."""

    def __init__(self, entries: Sequence[TokenEntry], clock: Callable[[], datetime] = utc_now) -> None:
        hashes = [entry.sha256 for entry in entries]
        if len(set(hashes)) != len(hashes):
            raise TokenConfigurationError("the same token hash is configured twice: one token, one user")
        self._entries = tuple(entries)
        self._clock = clock

    @property
    def configured(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> tuple[TokenEntry, ...]:
        return self._entries

    def actor_for(self, token: str | None) -> Actor | None:
        """The actor the token identifies, or None for a missing or unknown token; AuthenticationFailed once it
        has expired."""
        found = self._entry_for(token)
        return found.actor if found is not None else None

    def printed_name_for(self, token: str) -> str | None:
        found = self._entry_for(token)
        return found.name if found is not None else None

    def _entry_for(self, token: str | None) -> TokenEntry | None:
        if not token:
            return None
        found = self.token_entry(token)
        if found is None:
            return None
        if found.expired(self._clock()):
            assert found.expires_at is not None
            raise AuthenticationFailed(
                f"the token expired on {found.expires_at:%Y-%m-%d %H:%M} UTC; ask an administrator for a new one"
            )
        return found

    def token_entry(self, token: str) -> TokenEntry | None:
        """The entry whose hash `token` has, expired or not; None for an unknown token."""
        presented = hash_token(token).encode("ascii")
        found: TokenEntry | None = None
        # Every entry is compared, so the time taken does not tell how far a guess got.
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.sha256.encode("ascii")):
                found = entry
        return found

    @classmethod
    def from_document(cls, document: Any, clock: Callable[[], datetime] = utc_now) -> TokenAuthenticator:
        """From a parsed configuration: `{"tokens": [...]}` or a bare list of entries."""
        entries = document.get("tokens", []) if isinstance(document, Mapping) else document
        try:
            return cls(_ENTRIES.validate_python(entries), clock)
        except ValidationError as error:
            problems = [
                f"tokens.{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
                for issue in error.errors(include_url=False, include_input=False)
            ]
            raise TokenConfigurationError("invalid API token configuration:\n  " + "\n  ".join(problems)) from None

    @classmethod
    def from_text(cls, text: str, toml: bool = False, clock: Callable[[], datetime] = utc_now) -> TokenAuthenticator:
        try:
            document = tomllib.loads(text) if toml else json.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
            raise TokenConfigurationError(
                f"the API token configuration is not valid {'TOML' if toml else 'JSON'}: {error}"
            ) from None
        return cls.from_document(document, clock)

    @classmethod
    def from_file(cls, path: Path, clock: Callable[[], datetime] = utc_now) -> TokenAuthenticator:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise TokenConfigurationError(f"cannot read the API token file {path}: {error.strerror}") from None
        return cls.from_text(text, toml=path.suffix.lower() == ".toml", clock=clock)
