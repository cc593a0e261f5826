"""What production settings (`TRIALFLOW_ENVIRONMENT=production`) must hold before a worker, the API or the codec
server starts: payload keys, so no patient data reaches Temporal in clear, and an authenticated TLS connection to
Temporal. Development (`make run`) allows both to be missing; production refuses to start, naming what is missing."""

from __future__ import annotations

from config.errors import ConfigurationError
from config.settings import ENV_PREFIX, Settings


class ProductionSettingsError(ConfigurationError):
    """Production settings lack payload keys or TLS to Temporal; the message names each missing piece."""


def _payload_keys_problem(settings: Settings) -> str | None:
    if settings.key_provider == "vault":
        missing = [
            f"{ENV_PREFIX}{name.upper()}"
            for name, present in (
                ("vault_address", bool(settings.vault_address)),
                ("vault_token_file", settings.vault_token is not None or settings.vault_token_file is not None),
                ("vault_wrapped_keys_file", settings.vault_wrapped_keys_file is not None),
            )
            if not present
        ]
        return f"no payload keys: the Vault key provider needs {', '.join(missing)}" if missing else None
    if settings.payload_keys is None and settings.payload_keys_file is None:
        return (
            f"no payload keys: set {ENV_PREFIX}PAYLOAD_KEYS_FILE (a Docker secret; `python -m security rotate-key` "
            f"makes one) or {ENV_PREFIX}PAYLOAD_KEYS, or {ENV_PREFIX}KEY_PROVIDER=vault with Vault's settings"
        )
    return None


def _temporal_tls_problem(settings: Settings) -> str | None:
    if settings.temporal_api_key is not None or settings.temporal_tls_cert is not None:
        return None  # TLS follows from either, and the server knows who calls
    return (
        f"no authenticated TLS to Temporal: set {ENV_PREFIX}TEMPORAL_TLS_CERT and {ENV_PREFIX}TEMPORAL_TLS_KEY "
        f"(mutual TLS; {ENV_PREFIX}TEMPORAL_TLS_SERVER_CA for a private CA) or {ENV_PREFIX}TEMPORAL_API_KEY"
    )


def production_problems(settings: Settings, *, dials_temporal: bool = True) -> list[str]:
    """Each thing production settings lack, as a sentence naming the settings to set; empty in development.
    `dials_temporal=False` for a process that never connects to Temporal (the codec server): its keys only."""
    if settings.environment != "production":
        return []
    problems = [_payload_keys_problem(settings), _temporal_tls_problem(settings) if dials_temporal else None]
    return [problem for problem in problems if problem]


def _refuse(problems: list[str]) -> None:
    if problems:
        raise ProductionSettingsError(
            f"{ENV_PREFIX}ENVIRONMENT=production refuses to start:\n  " + "\n  ".join(problems)
        )


def check_production_settings(settings: Settings) -> None:
    """A ConfigurationCheck (config/startup.py) of a Temporal client (worker, API): keys and TLS to Temporal."""
    _refuse(production_problems(settings))


def check_production_payload_keys(settings: Settings) -> None:
    """The ConfigurationCheck of a process that holds the keys but never dials Temporal (the codec server)."""
    _refuse(production_problems(settings, dials_temporal=False))
