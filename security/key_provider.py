"""Where a process's keys come from: one small interface, a keyring per purpose (the payload keys; others, such as
the command seal's keys, through the same call), from files by default or from HashiCorp Vault's transit engine.

A keyring is an active key id and every key by id, each 32 random bytes. Whatever the source, it is validated as
`PayloadKeyring` validates a key document (security/keys.py), and only key ids ever reach a log or an error."""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from pydantic import SecretStr

from security.keys import (
    KEY_BYTES,
    CheckpointKeyring,
    Keyring,
    KeyringConfigurationError,
    PayloadKeyring,
    SealKeyring,
    load_keyring,
)

if TYPE_CHECKING:
    import hvac

PAYLOAD: Final = "payload"  # the AES-256-GCM keys of every payload sent through Temporal
SEAL: Final = "seal"  # the HMAC-SHA256 keys that seal every staff command (security/command_seal.py)
CHECKPOINT: Final = "checkpoint"  # the Ed25519 keys that sign the record's checkpoints (security/checkpoints.py)
KEYRING_TYPES: Final[Mapping[str, type[Keyring]]] = {
    PAYLOAD: PayloadKeyring,
    SEAL: SealKeyring,
    CHECKPOINT: CheckpointKeyring,
}


def _keyring_type(purpose: str) -> type[Keyring]:
    try:
        return KEYRING_TYPES[purpose]
    except KeyError:
        raise KeyringConfigurationError(
            f"no keys serve the purpose {purpose!r}; known: {', '.join(KEYRING_TYPES)}"
        ) from None


class KeyProvider(Protocol):
    """The keyring for a purpose, or None when no keys are configured for it (payloads then go in clear)."""

    def keyring(self, purpose: str) -> Keyring | None: ...


# ---------------------------------------------------------------- files (the default)


@dataclass(frozen=True)
class KeySource:
    """A purpose's key document given inline (preferred) or as a file; both None: no keys for that purpose."""

    document: SecretStr | None = None
    file: Path | None = None


@dataclass(frozen=True)
class FileKeyProvider:
    """Key documents (`{"active": id, "keys": {id: base64}}`) from settings or files, one source per purpose."""

    sources: Mapping[str, KeySource]

    def keyring(self, purpose: str) -> Keyring | None:
        source = self.sources.get(purpose)
        if source is None:
            return None
        # Its messages name the purpose ("invalid seal keys", "the payload key file ...").
        return load_keyring(source.document, source.file, _keyring_type(purpose))


# ---------------------------------------------------------------- HashiCorp Vault transit

WRAPPED_PREFIX: Final = "vault:v"  # how transit's ciphertexts begin (OpenBao's too)


def key_context(purpose: str, key_id: str) -> bytes:
    """Bound into each wrapped key (a derived transit key): one purpose's or id's key never unwraps as another's."""
    return f"trialflow:{purpose}:{key_id}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def read_wrapped_document(path: Path) -> dict[str, Any]:
    """The wrapped-keys file: `{"<purpose>": {"active": id, "keys": {id: "vault:v1:..."}}}`; {} when missing."""
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise KeyringConfigurationError(f"cannot read the wrapped key file {path}: {error}") from None
    if not isinstance(document, dict):
        raise KeyringConfigurationError(f"{path}: must be a JSON object of purposes")
    return document


def _wrapped_problems(purpose: str, entry: object) -> list[str]:
    if not isinstance(entry, dict) or not isinstance(entry.get("keys"), dict) or not entry["keys"]:
        return [f"{purpose}: must be {{'active': '<key id>', 'keys': {{'<key id>': 'vault:v1:...'}}}} with a key"]
    problems = [
        f"{purpose}.keys.{key_id}: not a transit ciphertext (vault:v<N>:...)"
        for key_id, wrapped in entry["keys"].items()
        if not (isinstance(wrapped, str) and wrapped.startswith(WRAPPED_PREFIX))
    ]
    if entry.get("active") not in entry["keys"]:
        problems.append(f"{purpose}.active: {entry.get('active')!r} is not among its keys")
    return problems


@dataclass(frozen=True)
class VaultTransitKeyProvider:
    """Data keys wrapped by a transit key: the file holds only ciphertexts; Vault unwraps them at start.

    The transit key never leaves Vault (it need not be exportable); who may start a process is who Vault lets
    call `decrypt` on it, and Vault's audit log shows every unwrap. `new_wrapped_key` adds a key (rotation). The
    transit key is a derived one: each data key is wrapped under its purpose and id (`key_context`)."""

    client: hvac.Client
    wrapped_keys_file: Path
    transit_key: str
    mount_point: str = "transit"

    def keyring(self, purpose: str) -> Keyring | None:
        entry = read_wrapped_document(self.wrapped_keys_file).get(purpose)
        if entry is None:
            return None
        if problems := _wrapped_problems(purpose, entry):
            raise KeyringConfigurationError(f"{self.wrapped_keys_file}:\n  " + "\n  ".join(problems))
        keys, problems = {}, []
        for key_id, wrapped in sorted(entry["keys"].items()):
            context = _b64(key_context(purpose, key_id))
            try:
                response = self._call("decrypt_data", ciphertext=wrapped, context=context)
            except _Unwrappable as error:  # this key only: another purpose's or id's, or a damaged one
                problems.append(f"{purpose}.keys.{key_id}: Vault cannot unwrap it: {error}")
                continue
            keys[key_id] = self._plain_key(purpose, key_id, response["data"].get("plaintext", ""), problems)
        if problems:
            raise KeyringConfigurationError(f"{self.wrapped_keys_file}:\n  " + "\n  ".join(problems))
        return _keyring_type(purpose)(entry["active"], keys)

    def new_wrapped_key(self, purpose: str, key_id: str) -> Keyring:
        """A fresh data key from Vault, stored wrapped under `key_id` and made active; the others stay for reading."""
        document = read_wrapped_document(self.wrapped_keys_file)
        entry = document.get(purpose) or {"active": key_id, "keys": {}}
        if key_id in entry.get("keys", {}):
            raise KeyringConfigurationError(f"the key id {key_id!r} is already in use: a rotated key needs a new id")
        _keyring_type(purpose)(key_id, {key_id: bytes(KEY_BYTES)})  # the id's rule, before Vault is asked
        try:
            response = self._call(
                "generate_data_key", key_type="wrapped", bits=KEY_BYTES * 8, context=_b64(key_context(purpose, key_id))
            )
        except _Unwrappable as error:
            raise KeyringConfigurationError(
                f"Vault cannot make a data key with {self.transit_key!r} ({error}); it must be a derived aes256-gcm96 "
                f"transit key: write transit/keys/{self.transit_key} derived=true (docs/deployment.md)"
            ) from None
        document[purpose] = {
            "active": key_id,
            "keys": {**entry.get("keys", {}), key_id: response["data"]["ciphertext"]},
        }
        _write_json(self.wrapped_keys_file, document)
        keyring = self.keyring(purpose)
        assert keyring is not None
        return keyring

    def _plain_key(self, purpose: str, key_id: str, plaintext: str, problems: list[str]) -> bytes:
        try:
            key = base64.b64decode(plaintext, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            problems.append(f"{purpose}.keys.{key_id}: unwraps to {len(key)} bytes; a key is {KEY_BYTES}")
        return key

    def _call(self, operation: str, **arguments: Any) -> dict[str, Any]:
        import hvac.exceptions  # only a process using Vault loads hvac
        import requests

        try:
            method = getattr(self.client.secrets.transit, operation)
            response: dict[str, Any] = method(name=self.transit_key, mount_point=self.mount_point, **arguments)
        except hvac.exceptions.InvalidRequest as error:  # 400: this input, not the access
            raise _Unwrappable("; ".join(error.errors or []) or "invalid request") from None
        except hvac.exceptions.VaultError as error:
            name = operation.removesuffix("_data")
            raise KeyringConfigurationError(
                f"Vault refused transit {name} with key {self.transit_key!r} at mount {self.mount_point!r}: "
                f"{type(error).__name__}: {'; '.join(error.errors or []) or 'no reason given'}"
            ) from None
        except requests.RequestException as error:
            raise KeyringConfigurationError(
                f"cannot reach Vault at {self.client.url}: {type(error).__name__}"
            ) from None
        return response


class _Unwrappable(Exception):
    """Vault answered 400 for one key's request (e.g. a ciphertext under another context)."""


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # created with mode 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=2, sort_keys=True)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
