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


_NEVER_ECHOED = {"database_url", "temporal_api_key"}


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
            # A database URL may carry a password: never echo it back.
            shown = "" if field in _NEVER_ECHOED else f" (got {issue.get('input')!r})"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {issue['msg']}{shown}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None
