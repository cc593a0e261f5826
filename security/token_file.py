"""The API's token file: read again whenever it changes (a new user's token works without a restart), and written
by `trial admin token new` / `revoke`. It holds token hashes only; the token itself is shown once, to its owner.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from datetime import timedelta
from pathlib import Path

from config.settings import Settings
from domain.roles import Actor
from observability.logging import get_logger
from security.auth import (
    DEFAULT_TOKEN_LIFETIME,
    Authenticator,
    TokenAuthenticator,
    TokenConfigurationError,
    TokenEntry,
    hash_token,
    new_token,
    utc_now,
)
from security.oidc import CombinedAuthenticator, OidcAuthenticator

log = get_logger("security.token_file")

DEFAULT_TOKEN_FILE_NAME = "api-tokens.json"  # under the data directory, when no token configuration is given


class TokenFile:
    """A JSON token file `{"tokens": [...]}`; absent means no tokens (every request is refused)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None  # (mtime_ns, size) of the version loaded
        self._authenticator = TokenAuthenticator(())
        # The API checks tokens from worker threads: one of them reloads a changed file, the others wait for it.
        self._reloading = threading.Lock()

    # ------------------------------------------------------------ reading (the API, on every request)

    def entries(self) -> tuple[TokenEntry, ...]:
        if not self.path.exists():
            return ()
        return TokenAuthenticator.from_file(self.path).entries

    @property
    def configured(self) -> int:
        return self._current().configured

    def actor_for(self, token: str | None) -> Actor | None:
        return self._current().actor_for(token)

    def token_entry(self, token: str) -> TokenEntry | None:
        return self._current().token_entry(token)

    def printed_name_for(self, token: str) -> str | None:
        return self._current().printed_name_for(token)

    def _current(self) -> TokenAuthenticator:
        with self._reloading:
            return self._reloaded_if_changed()

    def _reloaded_if_changed(self) -> TokenAuthenticator:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._seen, self._authenticator = None, TokenAuthenticator(())
            return self._authenticator
        version = (stat.st_mtime_ns, stat.st_size)
        if version != self._seen:
            try:
                self._authenticator = TokenAuthenticator.from_file(self.path)
            except TokenConfigurationError as error:
                # Fail closed: a broken file must not leave a revoked token working.
                log.error("api_token_file_invalid", path=str(self.path), error=str(error))
                self._authenticator = TokenAuthenticator(())
            self._seen = version
        return self._authenticator

    # ------------------------------------------------------------ writing (`trial admin token ...`)

    def add(self, actor: Actor, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME, name: str | None = None) -> str:
        """A new token for `actor` that works for `lifetime`; see `issue`."""
        return self.issue(actor, lifetime, name)[0]

    def issue(
        self, actor: Actor, lifetime: timedelta = DEFAULT_TOKEN_LIFETIME, name: str | None = None
    ) -> tuple[str, TokenEntry]:
        """A new token for `actor` that works for `lifetime`, and its entry; only the hash is stored, the token
        itself is returned once. `name`: the person's printed name, shown on their electronic signatures."""
        token = new_token()
        expires_at = utc_now() + lifetime
        entry = TokenEntry(
            sha256=hash_token(token), user_id=actor.user_id, role=actor.role, expires_at=expires_at, name=name
        )
        self._write((*self.entries(), entry))
        return token, entry

    def revoke(self, user_id: str) -> int:
        """Remove every token of `user_id`; how many were removed."""
        entries = self.entries()
        kept = tuple(entry for entry in entries if entry.user_id != user_id)
        if len(kept) != len(entries):
            self._write(kept)
        return len(entries) - len(kept)

    def _write(self, entries: tuple[TokenEntry, ...]) -> None:
        """Atomically (a reader sees the old file or the new one), readable by its owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"tokens": [entry.model_dump(mode="json") for entry in entries]}
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(document, stream, indent=2)
                stream.write("\n")
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def token_file_path(settings: Settings) -> Path:
    return settings.api_tokens_file or settings.data_dir / DEFAULT_TOKEN_FILE_NAME


def static_authenticator_for(settings: Settings) -> Authenticator:
    """The static tokens: the document in TRIALFLOW_API_TOKENS if set, else the token file (read when changed).

    Raises TokenConfigurationError at start-up when either is invalid, naming every problem.
    """
    if settings.api_tokens.strip():
        return TokenAuthenticator.from_text(settings.api_tokens)
    token_file = TokenFile(token_file_path(settings))
    token_file.entries()  # refuse to start on a broken file
    return token_file


def authenticator_for(settings: Settings) -> Authenticator:
    """The static tokens, and with TRIALFLOW_OIDC_ISSUER set, JWTs of that issuer beside them; nothing is fetched here.

    Raises TokenConfigurationError at start-up when the static tokens are invalid, naming every problem.
    """
    static = static_authenticator_for(settings)
    if not settings.oidc_issuer:
        return static
    return CombinedAuthenticator(OidcAuthenticator.from_settings(settings), static)
