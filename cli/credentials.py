"""Where `trial login` keeps a person's credential: one file in the user's config directory (platformdirs, or
TRIALFLOW_CONFIG_DIR), owner-only (file 0600, directory 0700), keyed by the API's URL and a profile name, so several
people on one machine (or one walk-through acting as several staff) each keep their own."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

import platformdirs
from pydantic import AwareDatetime, ValidationError

from domain.protocol import FrozenModel

CONFIG_DIR_ENV: Final = "TRIALFLOW_CONFIG_DIR"
CREDENTIALS_FILE: Final = "credentials.json"
DEFAULT_PROFILE: Final = "default"


class CredentialsFileError(Exception):
    """The credentials file cannot be read or written; the message says which file and why."""


class Credential(FrozenModel):
    """What a request to the API is sent with: a personal API token, or an OpenID provider's tokens."""

    kind: Literal["token", "oidc"]
    access_token: str
    user_id: str  # whom the API said the credential identifies when it was saved
    role: str
    # OIDC only: when the access token expires, and how to get a new one.
    expires_at: AwareDatetime | None = None
    refresh_token: str | None = None
    token_endpoint: str | None = None
    client_id: str | None = None
    issuer: str | None = None

    def expired(self, now: datetime, margin_seconds: float = 30) -> bool:
        return self.expires_at is not None and (self.expires_at - now).total_seconds() <= margin_seconds


def config_dir() -> Path:
    given = os.environ.get(CONFIG_DIR_ENV, "").strip()
    return Path(given).expanduser() if given else Path(platformdirs.user_config_dir("trialflow"))


def normalized_url(api_url: str) -> str:
    return api_url.strip().rstrip("/")


class CredentialStore:
    """`{"<api url>": {"<profile>": Credential}}` in one owner-only JSON file, written whole or not at all."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = self.directory / CREDENTIALS_FILE

    def _read(self) -> dict[str, dict[str, dict[str, object]]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise CredentialsFileError(f"cannot read {self.path}: {error.strerror}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise CredentialsFileError(
                f"{self.path} is not valid JSON: remove it and run `trial login` again"
            ) from None
        if not isinstance(document, dict):
            raise CredentialsFileError(f"{self.path} is not a credentials file: remove it and run `trial login` again")
        return document

    def get(self, api_url: str, profile: str) -> Credential | None:
        entry = self._read().get(normalized_url(api_url), {}).get(profile)
        if entry is None:
            return None
        try:
            return Credential.model_validate(entry)
        except ValidationError:
            raise CredentialsFileError(
                f"the credential for {api_url} (profile {profile}) in {self.path} is damaged: run `trial login` again"
            ) from None

    def put(self, api_url: str, profile: str, credential: Credential) -> None:
        document = self._read()
        document.setdefault(normalized_url(api_url), {})[profile] = credential.model_dump(mode="json")
        self._write(document)

    def remove(self, api_url: str, profile: str) -> bool:
        document = self._read()
        profiles = document.get(normalized_url(api_url), {})
        if profile not in profiles:
            return False
        del profiles[profile]
        if not profiles:
            del document[normalized_url(api_url)]
        self._write(document)
        return True

    def _write(self, document: dict[str, dict[str, dict[str, object]]]) -> None:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{CREDENTIALS_FILE}.")
        except OSError as error:
            raise CredentialsFileError(f"cannot write {self.path}: {error.strerror}") from None
        try:
            os.chmod(temporary, 0o600)  # before a secret is in it
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(document, stream, indent=2)
                stream.write("\n")
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def utc_now() -> datetime:
    return datetime.now(UTC)
