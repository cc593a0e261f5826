"""Protecting patient data in Temporal: AES-256-GCM payload encryption with rotating keys, the keys a process's
settings name, and who may call the API (bearer tokens, OIDC).
"""

from security.codec import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA_KEY,
    REFUSED_ENCODING,
    EncryptionCodec,
    PayloadDecryptionError,
    UnknownPayloadKeyError,
)
from security.configured_keys import configured_data_converter, default_key_file, payload_keyring
from security.data_converter import (
    UNENCRYPTED_PAYLOAD_REFUSED,
    data_converter_for,
    encrypted_data_converter,
    plain_data_converter,
    replay_data_converter,
)
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
    "REFUSED_ENCODING",
    "UNENCRYPTED_PAYLOAD_REFUSED",
    "EncryptionCodec",
    "KeyringConfigurationError",
    "PayloadDecryptionError",
    "PayloadKeyring",
    "UnknownPayloadKeyError",
    "configured_data_converter",
    "data_converter_for",
    "default_key_file",
    "encrypted_data_converter",
    "ensure_key_file",
    "keyring_from_environment",
    "load_keyring",
    "new_key",
    "payload_keyring",
    "plain_data_converter",
    "replay_data_converter",
    "rotate_key_file",
]
