"""Runtime configuration of the processes: `TRIALFLOW_*` environment variables (or a `.env` file)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.errors import ConfigurationError
from domain.protocol import CURRENT_PROTOCOL, PROTOCOLS
from domain.slots import WORKING_DAYS_A_WEEK, SlotCapacity

ENV_PREFIX = "TRIALFLOW_"

# The one name of the SQLite trial record, under the data directory.
DEFAULT_DATABASE_FILE = "trial-record.db"

Port = Annotated[int, Field(ge=1, le=65535)]


def _split_commas(value: object) -> object:
    return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value


# A list given in the environment as "a,b,c" (not as JSON), blanks dropped.
CommaSeparated = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split_commas)]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


# JWT signature algorithms a public key can verify. `none` and HS* are never accepted: with HS*, whoever holds the
# issuer's public key (everyone) could sign a token.
OIDC_ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def oidc_url_problem(url: str) -> str | None:
    """Why `url` cannot name an issuer or its keys (https; plain http only on this machine), or None."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "must be an http(s) URL with a host"
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        return "must use https (plain http only to this machine: localhost, 127.0.0.1)"
    if parts.query or parts.fragment or parts.username or parts.password:
        return "must have no query, fragment or user part"
    return None


_NEVER_ECHOED = {
    "database_url",
    "temporal_api_key",
    "smtp_password",
    "webhook_signing_key",
    "payload_keys",
    "seal_keys",
    "checkpoint_keys",
    "vault_token",
}


DEFAULT_API_MAX_BODY_BYTES: Final = 256 * 1024


class SettingsError(ConfigurationError):
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
    # The largest request body the API reads (413 beyond, before the body is read or the credential checked): the
    # largest valid command is a few KiB.
    api_max_body_bytes: int = Field(default=DEFAULT_API_MAX_BODY_BYTES, ge=1024, le=64 * 1024 * 1024)
    # Bearer tokens by their SHA-256 hashes (security/auth.py): the JSON document itself, or a file that is read again
    # whenever it changes (default: api-tokens.json under data_dir, written by `trial admin token new`).
    api_tokens: str = ""
    api_tokens_file: Path | None = None
    # OpenID Connect (security/oidc.py): JWT bearer tokens from this issuer are accepted beside the static tokens (which
    # stay for service accounts). Empty issuer: static tokens only. Nothing is fetched until the first JWT arrives.
    oidc_issuer: str = ""  # the `iss` every token must carry exactly, e.g. https://login.example.org/realms/trial
    oidc_audience: str = ""  # the `aud` every token must name (this API's client id); required with an issuer
    oidc_jwks_url: str = ""  # the issuer's signing keys; empty: named by <issuer>/.well-known/openid-configuration
    oidc_user_claim: str = Field(default="preferred_username", min_length=1)  # who acts; `sub` when it is absent
    # The study role: a text claim, or a list claim (groups, roles) holding exactly one study role. A dotted name
    # reaches into an object (realm_access.roles); only values starting with the prefix count, prefix removed.
    oidc_role_claim: str = Field(default="trialflow_role", min_length=1)
    oidc_role_prefix: str = ""
    # Signature algorithms accepted (comma-separated): asymmetric only, never `none` or a shared-secret HS*.
    oidc_algorithms: CommaSeparated = ("RS256", "ES256")
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)  # clock skew allowed on exp, nbf and iat
    # What `trial login` asks the issuer for (GET /auth/config tells it): the CLI's public client (device flow) and
    # the scopes it requests; offline_access for a refresh token.
    oidc_cli_client_id: str = Field(default="trialflow-cli", min_length=1)
    oidc_cli_scopes: str = Field(default="openid profile offline_access", min_length=1)
    # The web app's sign-in with the issuer (authorization code with PKCE, web/oidc_sign_in.py): its public client
    # and the scopes it requests (offline_access: a refresh token renews the short-lived access token while the
    # session lasts). Its redirect URI is <the web app's address>/auth/callback.
    oidc_web_client_id: str = Field(default="trialflow-web", min_length=1)
    oidc_web_scopes: str = Field(default="openid profile offline_access", min_length=1)
    # The web app's sessions (web/sessions.py) end after this long without a request.
    web_idle_timeout_minutes: int = Field(default=15, ge=1, le=12 * 60)
    # The web app's address as browsers reach it (behind a reverse proxy: the proxy's https address); it names the
    # OpenID redirect URI, <address>/auth/callback. Empty: the address each request came to.
    web_public_url: str = ""
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
    # A login over a plain connection sends the password in the clear: only for a mail catcher on a private network.
    smtp_allow_plaintext_login: bool = False
    smtp_sender: str = "trialflow@localhost"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    smtp_ca_file: FilePath | None = None  # the SMTP server's CA (PEM), when not a public one
    webhook_signing_key: SecretStr | None = None  # HMAC-SHA256 key; required when the directory lists webhooks
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Payload encryption (security/keys.py): the key document itself, or a file holding it; neither: payloads in
    # clear. A Path, not a FilePath: the keyring's own loader names a missing file with the other key problems.
    payload_keys: SecretStr | None = None
    payload_keys_file: Path | None = None
    # Command seals (security/keys.py): HMAC keys of their own, as the document itself or a file; neither: the
    # data directory's seal-keys.json if `make run` made one, else commands are not sealed (development only).
    seal_keys: SecretStr | None = None
    seal_keys_file: Path | None = None
    # Signed checkpoints of every patient's chain head (security/checkpoints.py), written at each reconciliation:
    # the Ed25519 keys (a key document or a file, as the seal keys; neither: the data directory's
    # checkpoint-keys.json if `make run` made one, else no checkpoints), and the append-only file (default:
    # checkpoints.jsonl under data_dir; production puts it on write-once storage, docs/deployment.md).
    checkpoint_keys: SecretStr | None = None
    checkpoint_keys_file: Path | None = None
    checkpoint_file: Path | None = None
    # Where keys come from (security/key_provider.py): these settings' documents and files, or HashiCorp Vault's
    # transit engine, which unwraps data keys kept wrapped in `vault_wrapped_keys_file` (docs/deployment.md).
    key_provider: Literal["file", "vault"] = "file"
    vault_address: str = ""  # e.g. https://vault.example.org:8200
    vault_token: SecretStr | None = None  # the token itself, or:
    vault_token_file: FilePath | None = None  # a file holding it (a Docker secret)
    vault_ca_file: FilePath | None = None  # Vault's CA (PEM), when not a public one
    vault_namespace: str = ""  # Vault Enterprise / HCP namespace; empty: none
    vault_transit_mount: str = Field(default="transit", min_length=1)
    vault_transit_key: str = Field(default="trialflow", min_length=1)  # the key-encryption key's name in transit
    vault_wrapped_keys_file: Path | None = None  # {"<purpose>": {"active": id, "keys": {id: "vault:v1:..."}}}
    # production: a worker, the API or the codec server refuses to start without payload keys and TLS to Temporal
    # (config/production.py); development allows both to be missing (`make run` makes its own keys).
    environment: Literal["development", "production"] = "development"
    # Manufacturing capacity (domain/slots.py): the site's apheresis collections a week and products in manufacturing
    # at once; the protocol's defaults ("Product logistics") unless the site sets its own.
    slot_collections_per_week: int = Field(
        default=CURRENT_PROTOCOL.manufacturing.collections_per_week, ge=1, le=WORKING_DAYS_A_WEEK
    )
    slot_max_products_in_manufacturing: int = Field(
        default=CURRENT_PROTOCOL.manufacturing.max_products_in_manufacturing, ge=1
    )

    # Protocol amendments in effect at this site, by version, from the day the site's ethics committee approved them
    # ('{"1.1": "2027-01-15"}'): a screening on or after that day follows the amendment (domain.protocol
    # .protocol_in_effect). Unset: every new screening follows the base version. docs/amendments.md says why here.
    protocol_effective_dates: dict[str, date] = Field(default_factory=dict)

    @field_validator("protocol_effective_dates")
    @classmethod
    def _known_protocol_versions(cls, value: dict[str, date]) -> dict[str, date]:
        unknown = sorted(v for v in value if v not in PROTOCOLS or PROTOCOLS[v] is CURRENT_PROTOCOL)
        if unknown:
            raise ValueError(
                f"not an amendment of the protocol: {', '.join(unknown)}; amendments: "
                + ", ".join(v for v in sorted(PROTOCOLS) if PROTOCOLS[v] is not CURRENT_PROTOCOL)
            )
        return value

    @field_validator("environment", "key_provider", mode="before")
    @classmethod
    def _choice_in_lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("vault_token", "vault_token_file", "vault_ca_file", "vault_wrapped_keys_file", mode="before")
    @classmethod
    def _empty_vault_setting_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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
        "seal_keys",
        "seal_keys_file",
        "checkpoint_keys",
        "checkpoint_keys_file",
        "checkpoint_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "oidc_issuer", "oidc_jwks_url", "oidc_audience", "oidc_role_prefix", "web_public_url", mode="before"
    )
    @classmethod
    def _trimmed(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("oidc_issuer", "oidc_jwks_url", "web_public_url")
    @classmethod
    def _oidc_url(cls, value: str) -> str:
        problem = oidc_url_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: tuple[str, ...]) -> tuple[str, ...]:
        if not algorithms:
            raise ValueError(f"name at least one of {', '.join(OIDC_ALGORITHMS)}")
        refused = [name for name in algorithms if name not in OIDC_ALGORITHMS]
        if refused:
            raise ValueError(
                f"not allowed: {', '.join(refused)}; only asymmetric algorithms ({', '.join(OIDC_ALGORITHMS)}), "
                "never none or a shared-secret HS*"
            )
        return algorithms

    @model_validator(mode="after")
    def _oidc_is_complete(self) -> Settings:
        if self.oidc_issuer and not self.oidc_audience:
            raise ValueError(
                f"{ENV_PREFIX}OIDC_ISSUER needs {ENV_PREFIX}OIDC_AUDIENCE: the audience (client id) every token names"
            )
        if not self.oidc_issuer and (self.oidc_audience or self.oidc_jwks_url):
            raise ValueError(
                f"{ENV_PREFIX}OIDC_AUDIENCE and {ENV_PREFIX}OIDC_JWKS_URL need {ENV_PREFIX}OIDC_ISSUER: the issuer "
                "whose tokens are accepted"
            )
        return self

    @model_validator(mode="after")
    def _smtp_login_is_complete(self) -> Settings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD go together: set both, or neither")
        encrypted = self.smtp_starttls or self.smtp_implicit_tls
        if self.smtp_host and self.smtp_username is not None and not encrypted and not self.smtp_allow_plaintext_login:
            raise ValueError(
                f"the SMTP login would send the password unencrypted: set {ENV_PREFIX}SMTP_STARTTLS or "
                f"{ENV_PREFIX}SMTP_IMPLICIT_TLS, or {ENV_PREFIX}SMTP_ALLOW_PLAINTEXT_LOGIN for a mail catcher on a "
                "private network"
            )
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

    @property
    def slot_capacity(self) -> SlotCapacity:
        """The site's slot calendar capacity; the manufacturing time is the protocol's."""
        return SlotCapacity(
            collections_per_week=self.slot_collections_per_week,
            max_products_in_manufacturing=self.slot_max_products_in_manufacturing,
            manufacturing_days=CURRENT_PROTOCOL.manufacturing.manufacturing_days,
        )


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


def as_environment(settings: Settings) -> dict[str, str]:
    """Every setting as the `TRIALFLOW_*` variable that gives it: a child process (the worker `make run` starts)
    then runs on exactly these settings, whatever its environment or `.env` file say."""
    environment = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, tuple):
            value = ",".join(value)
        environment[f"{ENV_PREFIX}{name.upper()}"] = str(value)
    return environment
