"""The key provider a process's settings name (files, or Vault transit), the keys it serves (the payload keys and
the command seal keys), and the data converter the payload keys give every Temporal client."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import SecretStr
from temporalio.converter import DataConverter

from config.settings import ENV_PREFIX, Settings
from security.checkpoints import CheckpointLog
from security.data_converter import data_converter_for
from security.key_provider import (
    CHECKPOINT,
    PAYLOAD,
    SEAL,
    FileKeyProvider,
    KeyProvider,
    KeySource,
    VaultTransitKeyProvider,
)
from security.keys import CheckpointKeyring, KeyringConfigurationError, PayloadKeyring, SealKeyring, ensure_key_file

# Under the data directory: `make run` makes them on its first start.
DEFAULT_KEY_FILE_NAME: Final = "payload-keys.json"
DEFAULT_SEAL_KEY_FILE_NAME: Final = "seal-keys.json"
DEFAULT_CHECKPOINT_KEY_FILE_NAME: Final = "checkpoint-keys.json"
DEFAULT_CHECKPOINT_FILE_NAME: Final = "checkpoints.jsonl"


def default_key_file(settings: Settings) -> Path:
    return settings.data_dir / DEFAULT_KEY_FILE_NAME


def default_seal_key_file(settings: Settings) -> Path:
    return settings.data_dir / DEFAULT_SEAL_KEY_FILE_NAME


def default_checkpoint_key_file(settings: Settings) -> Path:
    return settings.data_dir / DEFAULT_CHECKPOINT_KEY_FILE_NAME


def file_key_sources(settings: Settings) -> dict[str, KeySource]:
    """Each purpose's key document or file. Payload: the configured keys; else the data directory's key file, if
    `make run` made one. Every process on one data directory (the stack, `trial`, `python -m workers`) so reads the
    same keys. The command seal keys likewise, from their own settings and file."""
    return {
        PAYLOAD: _source(settings.payload_keys, settings.payload_keys_file, default_key_file(settings)),
        SEAL: _source(settings.seal_keys, settings.seal_keys_file, default_seal_key_file(settings)),
        CHECKPOINT: _source(
            settings.checkpoint_keys, settings.checkpoint_keys_file, default_checkpoint_key_file(settings)
        ),
    }


def _source(document: SecretStr | None, file: Path | None, default_file: Path) -> KeySource:
    if document is None and file is None and default_file.exists():
        file = default_file
    return KeySource(document, file)


def vault_key_provider(settings: Settings) -> VaultTransitKeyProvider:
    """The Vault transit provider of the settings, or a KeyringConfigurationError naming every missing setting."""
    missing = [
        f"{ENV_PREFIX}{name}"
        for name, present in (
            ("VAULT_ADDRESS", bool(settings.vault_address)),
            (
                "VAULT_TOKEN or VAULT_TOKEN_FILE",
                settings.vault_token is not None or settings.vault_token_file is not None,
            ),
            ("VAULT_WRAPPED_KEYS_FILE", settings.vault_wrapped_keys_file is not None),
        )
        if not present
    ]
    if missing or settings.vault_wrapped_keys_file is None:
        raise KeyringConfigurationError(f"{ENV_PREFIX}KEY_PROVIDER=vault needs {', '.join(missing)}")
    import hvac  # only a process using Vault loads it

    if settings.vault_token is not None:
        token = settings.vault_token.get_secret_value()
    else:
        assert settings.vault_token_file is not None
        token = settings.vault_token_file.read_text(encoding="utf-8").strip()
    client = hvac.Client(
        url=settings.vault_address,
        token=token,
        verify=str(settings.vault_ca_file) if settings.vault_ca_file else True,
        namespace=settings.vault_namespace or None,
    )
    return VaultTransitKeyProvider(
        client, settings.vault_wrapped_keys_file, settings.vault_transit_key, settings.vault_transit_mount
    )


def key_provider(settings: Settings) -> KeyProvider:
    """Files by default; Vault transit with TRIALFLOW_KEY_PROVIDER=vault."""
    if settings.key_provider == "vault":
        return vault_key_provider(settings)
    return FileKeyProvider(file_key_sources(settings))


def payload_keyring(settings: Settings) -> PayloadKeyring | None:
    """The payload keys from the configured provider; None when none are configured (payloads in clear)."""
    keyring = key_provider(settings).keyring(PAYLOAD)
    return PayloadKeyring.of(keyring) if keyring is not None else None


def configured_data_converter(settings: Settings) -> DataConverter:
    """Payloads encrypted when keys are configured, so Temporal's storage holds no patient data."""
    return data_converter_for(payload_keyring(settings))


def with_payload_keys(settings: Settings) -> Settings:
    """`make run` encrypts by default: without configured keys, a key file made once under the data directory."""
    if settings.key_provider == "file" and settings.payload_keys is None and settings.payload_keys_file is None:
        ensure_key_file(default_key_file(settings))  # every process on this data directory reads it from there
    return settings


def seal_keyring(settings: Settings) -> SealKeyring | None:
    """The command seal keys from the configured provider; None when none are configured: commands are then not
    sealed, nor seals checked (development only: production refuses to start without them)."""
    keyring = key_provider(settings).keyring(SEAL)
    if keyring is None and settings.environment == "production":
        raise KeyringConfigurationError(
            f"{ENV_PREFIX}ENVIRONMENT=production refuses to start without command seal keys: set "
            f"{ENV_PREFIX}SEAL_KEYS_FILE (a Docker secret; `python -m security rotate-seal-key` makes one) or "
            f"{ENV_PREFIX}SEAL_KEYS, or a 'seal' entry in Vault's wrapped keys (`python -m security vault-new-key "
            "--purpose seal`)"
        )
    return SealKeyring.of(keyring) if keyring is not None else None


def with_seal_keys(settings: Settings) -> Settings:
    """`make run` seals commands by default: without configured seal keys, a key file made once under the data
    directory, where every process on it (the worker, the API) reads it."""
    if settings.key_provider == "file" and settings.seal_keys is None and settings.seal_keys_file is None:
        ensure_key_file(default_seal_key_file(settings), "s1", SealKeyring)
    return settings


def checkpoint_log(settings: Settings) -> CheckpointLog:
    """The record's checkpoint file (TRIALFLOW_CHECKPOINT_FILE, else checkpoints.jsonl under the data directory) and
    the Ed25519 keys that sign and check it (none configured: nothing is written, and verify says so; production
    refuses to start without them)."""
    keyring = key_provider(settings).keyring(CHECKPOINT)
    if keyring is None and settings.environment == "production":
        raise KeyringConfigurationError(
            f"{ENV_PREFIX}ENVIRONMENT=production refuses to start without checkpoint keys: set "
            f"{ENV_PREFIX}CHECKPOINT_KEYS_FILE (a Docker secret; `python -m security rotate-checkpoint-key` makes one) "
            f"or {ENV_PREFIX}CHECKPOINT_KEYS, or a 'checkpoint' entry in Vault's wrapped keys"
        )
    path = settings.checkpoint_file or settings.data_dir / DEFAULT_CHECKPOINT_FILE_NAME
    return CheckpointLog(path, CheckpointKeyring.of(keyring) if keyring is not None else None)


def with_checkpoint_keys(settings: Settings) -> Settings:
    """`make run` signs checkpoints by default: without configured keys, a key file made once under the data
    directory, where the worker (which writes checkpoints) and the API (which checks them) read it."""
    if settings.key_provider == "file" and settings.checkpoint_keys is None and settings.checkpoint_keys_file is None:
        ensure_key_file(default_checkpoint_key_file(settings), "c1", CheckpointKeyring)
    return settings
