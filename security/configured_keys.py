"""The payload keys a process's settings name, and the data converter they give every Temporal client."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from temporalio.converter import DataConverter

from config.settings import Settings
from security.data_converter import data_converter_for
from security.keys import PayloadKeyring, ensure_key_file, load_keyring

DEFAULT_KEY_FILE_NAME: Final = "payload-keys.json"  # under the data directory: `make run` makes it on its first start


def default_key_file(settings: Settings) -> Path:
    return settings.data_dir / DEFAULT_KEY_FILE_NAME


def payload_keyring(settings: Settings) -> PayloadKeyring | None:
    """The configured payload keys; else the data directory's key file, if `make run` made one; else None (clear).

    Every process on one data directory (the stack, `trial`, `python -m workers`) so reads the same keys.
    """
    key_file = settings.payload_keys_file
    if settings.payload_keys is None and key_file is None and default_key_file(settings).exists():
        key_file = default_key_file(settings)
    return load_keyring(settings.payload_keys, key_file)


def configured_data_converter(settings: Settings) -> DataConverter:
    """Payloads encrypted when keys are configured, so Temporal's storage holds no patient data."""
    return data_converter_for(payload_keyring(settings))


def with_payload_keys(settings: Settings) -> Settings:
    """`make run` encrypts by default: without configured keys, a key file made once under the data directory."""
    if settings.payload_keys is None and settings.payload_keys_file is None:
        ensure_key_file(default_key_file(settings))  # every process on this data directory reads it from there
    return settings
