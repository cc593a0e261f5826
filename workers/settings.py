"""Runtime configuration of the processes: `TRIALFLOW_*` environment variables (or a `.env` file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from records.engine import DEFAULT_DATABASE_FILE

ENV_PREFIX = "TRIALFLOW_"

Port = Annotated[int, Field(ge=1, le=65535)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


_NEVER_ECHOED = {"database_url", "temporal_api_key", "smtp_password", "webhook_signing_key", "payload_keys"}


class SettingsError(ValueError):
    """The configuration is invalid; the message names every bad variable."""


class Settings(BaseSettings):
    """Where Temporal and the trial record live, and how the processes log."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True)

    temporal_address: str = Field(default="localhost:7233", min_length=1)  # what clients and workers dial
    temporal_namespace: str = Field(default="default", min_length=1)
    # An existing cluster (self-hosted with mTLS, or Temporal Cloud) is configuration, not code:
    temporal_tls: bool = False  # TLS without a client certificate (implied by a certificate or an API key)
    temporal_tls_cert: FilePath | None = None  # client certificate (PEM) for mTLS
    temporal_tls_key: FilePath | None = None  # its private key (PEM)
    temporal_tls_server_ca: FilePath | None = None  # the server's CA (PEM), when not a public one
    temporal_tls_server_name: str | None = None  # SNI override, when the address is not the certificate's name
    temporal_api_key: SecretStr | None = None  # Temporal Cloud API key
    data_dir: Path = Path(".data")  # the dev server's database and the SQLite trial record
    temporal_port: Port = 7233  # the embedded dev server's gRPC port
    temporal_ui_port: Port = 8233  # the embedded dev server's Web UI
    api_port: Port = 8000  # the HTTP API, on 127.0.0.1
    # Bearer tokens by their SHA-256 hashes (api/auth.py): the JSON document itself, or a file that is read again
    # whenever it changes (default: api-tokens.json under data_dir, written by `trial token new`).
    api_tokens: str = ""
    api_tokens_file: Path | None = None
    # Empty means the SQLite file under data_dir; PostgreSQL in production.
    database_url: str = ""
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: LogLevel = "INFO"
    # Staff notifications. No directory: every notification goes to the log channel only (the dev stack).
    staff_directory: FilePath | None = None  # TOML: who holds each role and their channels
    smtp_host: str = ""  # empty: no e-mail channel
    smtp_port: Port = 587
    smtp_starttls: bool = True  # upgrade to TLS before logging in or sending (a plain connection only)
    smtp_implicit_tls: bool = False  # TLS from the first byte (port 465); STARTTLS then does not apply
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "trialflow@localhost"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    smtp_ca_file: FilePath | None = None  # the SMTP server's CA (PEM), when not a public one
    webhook_signing_key: SecretStr | None = None  # HMAC-SHA256 key; required when the directory lists webhooks
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Payload encryption (security/keys.py): the key document itself, or a file holding it; neither: payloads in
    # clear. A Path, not a FilePath: the keyring's own loader names a missing file with the other key problems.
    payload_keys: SecretStr | None = None
    payload_keys_file: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_in_lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _certificate_with_its_key(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("a client certificate needs its key: set both TLS_CERT and TLS_KEY, or neither")
        return self

    @field_validator(
        "staff_directory",
        "smtp_ca_file",
        "smtp_username",
        "smtp_password",
        "payload_keys",
        "payload_keys_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _smtp_login_is_complete(self) -> Settings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD go together: set both, or neither")
        return self

    @model_validator(mode="after")
    def _default_database_under_data_dir(self) -> Settings:
        if not self.database_url:
            default_url = f"sqlite:///{self.data_dir.as_posix()}/{DEFAULT_DATABASE_FILE}"
            object.__setattr__(self, "database_url", default_url)
        return self

    @property
    def uses_tls(self) -> bool:
        return bool(self.temporal_tls or self.temporal_tls_cert or self.temporal_tls_server_ca or self.temporal_api_key)

    @property
    def temporal_db_file(self) -> Path:
        return self.data_dir / "temporal.db"


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, or a `SettingsError` naming every bad variable and why."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            field = ".".join(str(part) for part in issue["loc"]) or "settings"
            # A database URL may carry a password: never echo it back; nor the whole input, which a check across
            # fields (no location) would show.
            shown = "" if not issue["loc"] or field in _NEVER_ECHOED else f" (got {issue.get('input')!r})"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {issue['msg']}{shown}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None
