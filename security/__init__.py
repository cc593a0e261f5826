"""Protecting patient data in Temporal: AES-256-GCM payload encryption with rotating keys, and the codec server
that lets authorised staff read encrypted histories in the Temporal Web UI and CLI.
"""

from security.codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA_KEY,
    EncryptionCodec,
    PayloadDecryptionError,
    UnencryptedPayloadError,
    UnknownPayloadKeyError,
)
from security.data_converter import data_converter_for, encrypted_data_converter
from security.keys import (
    KEYS_ENV,
    KEYS_FILE_ENV,
    KeyringConfigurationError,
    PayloadKeyring,
    ensure_key_file,
    keyring_from_environment,
    load_keyring,
    new_key,
    rotate_key_file,
)

__all__ = [
    "ENCRYPTED_ENCODING",
    "KEYS_ENV",
    "KEYS_FILE_ENV",
    "KEY_ID_METADATA_KEY",
    "EncryptionCodec",
    "KeyringConfigurationError",
    "PayloadDecryptionError",
    "PayloadKeyring",
    "UnencryptedPayloadError",
    "UnknownPayloadKeyError",
    "data_converter_for",
    "encrypted_data_converter",
    "ensure_key_file",
    "keyring_from_environment",
    "load_keyring",
    "new_key",
    "rotate_key_file",
]
