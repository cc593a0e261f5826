"""The seal keys: HMAC-SHA256 keys that seal every staff command the trial client sends (security/command_seal.py),
separate from the payload keys. One active key id seals; every older key still verifies (rotation).

`{"active": "s2", "keys": {"s1": "<base64 of 32 bytes>", "s2": "..."}}` from `TRIALFLOW_SEAL_KEYS` or the file
`TRIALFLOW_SEAL_KEYS_FILE` (default `seal-keys.json` under the data directory, made by `make run`'s first start);
`python -m security rotate-seal-key` adds one. Reprs, logs and errors show key ids only.

Every process that loads them comes through `seal_keyring(settings)`: the one place a key provider would plug in.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

from config.errors import ConfigurationError
from config.settings import Settings
from security.keys import KEY_ID_PATTERN

SEAL_KEYS_ENV: Final = "TRIALFLOW_SEAL_KEYS"
SEAL_KEYS_FILE_ENV: Final = "TRIALFLOW_SEAL_KEYS_FILE"
DEFAULT_SEAL_KEY_FILE_NAME: Final = "seal-keys.json"
SEAL_KEY_BYTES: Final = 32  # HMAC-SHA256: a key as long as the hash
_KEY_ID_RULE: Final = "a key id is 1 to 64 letters, digits, '.', '_' or '-'"


class SealKeyConfigurationError(ConfigurationError):
    """The seal keys are misconfigured; the message names every problem, never a key's value."""


class SealKeyring:
    """The active seal key id (seals every new command) and every key by id (verifies seals made before a rotation)."""

    __slots__ = ("_active_key_id", "_keys")

    def __init__(self, active_key_id: str, keys: Mapping[str, bytes]) -> None:
        problems = [f"keys: the key id {k[:70]!r} is not valid: {_KEY_ID_RULE}" for k in keys if not _valid_id(k)]
        problems += [
            f"keys.{k}: the key is {len(v)} bytes; a seal key is exactly {SEAL_KEY_BYTES}"
            for k, v in keys.items()
            if len(v) != SEAL_KEY_BYTES
        ]
        if not keys:
            problems.append("keys: at least one key is needed")
        elif active_key_id not in keys:
            problems.append(
                f"active: the key id {active_key_id[:70]!r} is not among the keys ({', '.join(sorted(keys))})"
            )
        if problems:
            raise SealKeyConfigurationError("invalid seal keys:\n  " + "\n  ".join(problems))
        self._active_key_id = active_key_id
        self._keys = {key_id: bytes(key) for key_id, key in keys.items()}

    @classmethod
    def new(cls, key_id: str) -> SealKeyring:
        """A keyring of one fresh random key."""
        return cls(key_id, {key_id: secrets.token_bytes(SEAL_KEY_BYTES)})

    def __repr__(self) -> str:
        return f"SealKeyring(active={self._active_key_id!r}, key_ids={self.key_ids!r})"

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def key(self, key_id: str) -> bytes | None:
        """The key with this id, or None when it is not configured."""
        return self._keys.get(key_id)

    def rotated(self, key_id: str) -> SealKeyring:
        """This keyring with a fresh key under `key_id`, made active; old keys kept so recent seals still verify."""
        if key_id in self._keys:
            raise SealKeyConfigurationError(f"the seal key id {key_id!r} is in use already: a new key needs a new id")
        return SealKeyring(key_id, {**self._keys, key_id: secrets.token_bytes(SEAL_KEY_BYTES)})

    def to_document(self) -> dict[str, Any]:
        """The configuration document. It holds the keys themselves: write it, never log it."""
        return {
            "active": self._active_key_id,
            "keys": {key_id: base64.b64encode(key).decode("ascii") for key_id, key in sorted(self._keys.items())},
        }

    @classmethod
    def from_document(cls, data: Any) -> SealKeyring:
        if not isinstance(data, Mapping) or not isinstance(data.get("keys"), Mapping):
            raise SealKeyConfigurationError(
                'invalid seal keys: the document must be {"active": "<key id>", "keys": {"<key id>": "<base64>"}}'
            )
        problems: list[str] = []
        active = data.get("active")
        if not isinstance(active, str):
            problems.append("active: must be the key id that seals")
        keys: dict[str, bytes] = {}
        for key_id, value in data["keys"].items():
            try:
                keys[str(key_id)] = base64.b64decode(value.strip(), validate=True)
            except (AttributeError, binascii.Error, ValueError):
                problems.append(f"keys.{str(key_id)[:70]}: the key is not a base64 string")
        try:  # the keys that decoded are checked too, so every problem is named at once
            keyring = cls(active if isinstance(active, str) else "", keys)
        except SealKeyConfigurationError as error:
            problems += [line.strip() for line in str(error).splitlines()[1:] if not line.strip().startswith("active")]
            if isinstance(active, str) and active not in data["keys"]:
                problems.append(f"active: the key id {active[:70]!r} is not among the keys")
        if problems:
            raise SealKeyConfigurationError("invalid seal keys:\n  " + "\n  ".join(problems))
        return keyring

    @classmethod
    def from_text(cls, text: str) -> SealKeyring:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            # The position only: the message of a JSON error may quote the text, which holds keys.
            raise SealKeyConfigurationError(
                f"the seal keys are not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
            ) from None
        return cls.from_document(data)

    @classmethod
    def from_file(cls, path: Path) -> SealKeyring:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise SealKeyConfigurationError(f"cannot read the seal key file {path}: {error.strerror}") from None
        try:
            return cls.from_text(text)
        except SealKeyConfigurationError as error:
            raise SealKeyConfigurationError(f"{path}: {error}") from None


def _valid_id(key_id: str) -> bool:
    return bool(KEY_ID_PATTERN.fullmatch(key_id))


def default_seal_key_file(settings: Settings) -> Path:
    return settings.data_dir / DEFAULT_SEAL_KEY_FILE_NAME


def seal_keyring(settings: Settings) -> SealKeyring | None:
    """The configured seal keys (the document, else its file, else the data directory's file if `make run` made
    one); None when none are configured: commands are then not sealed, nor seals checked (development only)."""
    document = settings.seal_keys.get_secret_value() if isinstance(settings.seal_keys, SecretStr) else None
    if document and document.strip():
        return SealKeyring.from_text(document)
    key_file = settings.seal_keys_file
    if key_file is None and default_seal_key_file(settings).exists():
        key_file = default_seal_key_file(settings)
    return SealKeyring.from_file(key_file) if key_file is not None else None


def write_seal_key_file(path: Path, keyring: SealKeyring) -> None:
    """Write the keyring to `path`, readable by its owner only, replacing any old file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created with mode 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(keyring.to_document(), file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def rotate_seal_key_file(path: Path, key_id: str) -> SealKeyring:
    """Add a fresh key under `key_id` to the seal key file (created if missing) and make it the active one."""
    keyring = SealKeyring.from_file(path).rotated(key_id) if path.exists() else SealKeyring.new(key_id)
    write_seal_key_file(path, keyring)
    return keyring


def with_seal_keys(settings: Settings) -> Settings:
    """`make run` seals commands by default: without configured seal keys, a key file made once under the data
    directory, where every process on it (the worker, the API, `trial`) reads it."""
    if settings.seal_keys is None and settings.seal_keys_file is None and not default_seal_key_file(settings).exists():
        rotate_seal_key_file(default_seal_key_file(settings), "s1")
    return settings
