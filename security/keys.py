"""Keyrings: one active key id that encrypts or seals, and every older key that may still decrypt or verify.

The payload keys (AES-256-GCM, every payload sent through Temporal) and the command seal keys (HMAC-SHA256,
security/command_seal.py) share one document format, one loader and one rotation; only their purpose differs.

`{"active": "k2", "keys": {"k1": "<base64 of 32 bytes>", "k2": "..."}}` from `TRIALFLOW_PAYLOAD_KEYS` or the file
`TRIALFLOW_PAYLOAD_KEYS_FILE` (`python -m security rotate-key` adds one). Reprs, logs and errors show key ids only."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Final, Self, TypeVar

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, SecretBytes, SecretStr, ValidationError

from config.errors import ConfigurationError

KEYS_ENV: Final = "TRIALFLOW_PAYLOAD_KEYS"
KEYS_FILE_ENV: Final = "TRIALFLOW_PAYLOAD_KEYS_FILE"

KEY_BYTES: Final = 32  # AES-256
KEY_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,64}")
_KEY_ID_RULE: Final = "a key id is 1 to 64 letters, digits, '.', '_' or '-'"


class KeyringConfigurationError(ConfigurationError):
    """The payload keys are misconfigured; the message names every problem, never a key's value."""


def new_key() -> str:
    """A fresh random AES-256 key, base64-encoded as the configuration holds it."""
    return base64.b64encode(AESGCM.generate_key(bit_length=KEY_BYTES * 8)).decode("ascii")


def _plain_key_id(key_id: str) -> str:
    # Key ids travel in clear in every payload's metadata and in error messages: plain words only.
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise ValueError(_KEY_ID_RULE)
    return key_id


def _decoded_key(value: object) -> bytes:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not isinstance(value, str):
        raise ValueError("must be a base64 string")
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise ValueError(f"decodes to {len(raw)} bytes; a key is exactly {KEY_BYTES}")
    return raw


KeyId = Annotated[str, AfterValidator(_plain_key_id)]
AesKey = Annotated[SecretBytes, BeforeValidator(_decoded_key)]


class PayloadKeysDocument(BaseModel):
    """The configuration document: which key encrypts, and every key (base64) that may decrypt."""

    # hide_input_in_errors: a validation error must never quote a key.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    active: KeyId
    keys: dict[KeyId, AesKey]


def _described(error: ValidationError) -> list[str]:
    problems = []
    for issue in error.errors(include_url=False, include_input=False):
        location = issue["loc"]
        message = (
            str(issue.get("ctx", {}).get("error", issue["msg"])) if issue["type"] == "value_error" else issue["msg"]
        )
        if len(location) == 3 and location[0] == "keys" and location[2] == "[key]":
            problems.append(f"keys: the key id {str(location[1])[:70]!r} is not valid: {_KEY_ID_RULE}")
        elif len(location) == 2 and location[0] == "keys":
            problems.append(f"keys.{location[1]}: the key {message}")
        elif location == ("active",) and issue["type"] == "value_error":
            problems.append(f"active: not a valid key id: {_KEY_ID_RULE}")
        elif not location and issue["type"] == "model_type":
            problems.append('the document must be a JSON object: {"active": "<key id>", "keys": {"<key id>": "..."}}')
        elif issue["type"] == "missing":
            problems.append(f"{'.'.join(str(part) for part in location)}: is required")
        else:
            problems.append(f"{'.'.join(str(part) for part in location) or 'the document'}: {message}")
    return problems


def _active_key_problems(data: object) -> list[str]:
    """Checked on the raw document, so it is reported together with any bad key."""
    if not isinstance(data, Mapping):
        return []
    active, keys = data.get("active"), data.get("keys")
    if not isinstance(keys, Mapping):
        return []
    if not keys:
        return ["keys: at least one key is needed"]
    if isinstance(active, str) and active not in keys:
        known = ", ".join(sorted(str(key_id) for key_id in keys))
        return [f"active: the key id {active[:70]!r} is not among the configured keys ({known})"]
    return []


class Keyring:
    """The active key id (encrypts or seals everything new) and every key by id (reads what older keys made)."""

    __slots__ = ("_active_key_id", "_keys")
    KIND: ClassVar[str] = "payload"  # whose keys, in every message: "invalid seal keys", "the payload key file"

    def __init__(self, active_key_id: str, keys: Mapping[str, bytes]) -> None:
        problems = [
            f"keys: the key id {key_id[:70]!r} is not valid: {_KEY_ID_RULE}"
            for key_id in keys
            if not KEY_ID_PATTERN.fullmatch(key_id)
        ]
        problems += [
            f"keys.{key_id}: the key is {len(key)} bytes; a {self.KIND} key is exactly {KEY_BYTES}"
            for key_id, key in keys.items()
            if len(key) != KEY_BYTES
        ]
        problems += _active_key_problems({"active": active_key_id, "keys": keys})
        if problems:
            raise KeyringConfigurationError(f"invalid {self.KIND} keys:\n  " + "\n  ".join(problems))
        self._active_key_id = active_key_id
        self._keys: dict[str, bytes] = {key_id: bytes(key) for key_id, key in keys.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(active={self._active_key_id!r}, key_ids={self.key_ids!r})"

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(sorted(self._keys))

    def knows(self, key_id: str) -> bool:
        return key_id in self._keys

    def key(self, key_id: str) -> bytes:
        """The key with this id; a KeyError (naming only the id) when it is not configured."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise KeyError(key_id) from None

    @property
    def active_key(self) -> bytes:
        return self._keys[self._active_key_id]

    @classmethod
    def new(cls, key_id: str) -> Self:
        """A keyring of one fresh random key."""
        return cls(key_id, {key_id: base64.b64decode(new_key())})

    @classmethod
    def of(cls, other: Keyring) -> Self:
        """`other`'s keys as this purpose's keyring (a key provider answers with a plain Keyring)."""
        return other if isinstance(other, cls) else cls(other.active_key_id, other._keys)

    def rotated(self, key_id: str, key: bytes | None = None) -> Self:
        """This keyring with `key` (a fresh one if None) added under `key_id` and made active; old keys kept."""
        if key_id in self._keys:
            raise KeyringConfigurationError(f"the key id {key_id!r} is already in use: a rotated key needs a new id")
        fresh = key if key is not None else base64.b64decode(new_key())
        return type(self)(key_id, {**self._keys, key_id: fresh})

    def to_document(self) -> dict[str, Any]:
        """The configuration document of this keyring. It holds the keys themselves: write it, never log it."""
        return {
            "active": self._active_key_id,
            "keys": {key_id: base64.b64encode(key).decode("ascii") for key_id, key in sorted(self._keys.items())},
        }

    # ---------------------------------------------------------------- loading

    @classmethod
    def from_document(cls, data: Any) -> Self:
        """From a parsed configuration document, or a KeyringConfigurationError naming every problem."""
        problems: list[str] = []
        document: PayloadKeysDocument | None = None
        try:
            document = PayloadKeysDocument.model_validate(data)
        except ValidationError as error:
            problems = _described(error)
        problems += _active_key_problems(data)
        if problems or document is None:
            raise KeyringConfigurationError(f"invalid {cls.KIND} keys:\n  " + "\n  ".join(problems))
        return cls(document.active, {key_id: key.get_secret_value() for key_id, key in document.keys.items()})

    @classmethod
    def from_text(cls, text: str | SecretStr) -> Self:
        plain = text.get_secret_value() if isinstance(text, SecretStr) else text
        try:
            data = json.loads(plain)
        except json.JSONDecodeError as error:
            # The position only: the message of a JSON error may quote the text, which holds keys.
            raise KeyringConfigurationError(
                f"the {cls.KIND} keys are not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
            ) from None
        return cls.from_document(data)

    @classmethod
    def from_file(cls, path: Path) -> Self:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise KeyringConfigurationError(f"cannot read the {cls.KIND} key file {path}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise KeyringConfigurationError(f"the {cls.KIND} key file {path} is not UTF-8 text") from None
        try:
            return cls.from_text(text)
        except KeyringConfigurationError as error:
            raise KeyringConfigurationError(f"{path}: {error}") from None


class PayloadKeyring(Keyring):
    """AES-256-GCM keys: the active one encrypts every new payload, each one decrypts what it encrypted."""

    __slots__ = ()
    KIND = "payload"


class SealKeyring(Keyring):
    """HMAC-SHA256 keys, separate from the payload keys: the active one seals every staff command the trial client
    sends (security/command_seal.py), each one verifies the seals it made (rotation)."""

    __slots__ = ()
    KIND = "seal"


class CheckpointKeyring(Keyring):
    """Ed25519 signing keys of the record's checkpoints (security/checkpoints.py): each 32-byte key is an Ed25519
    private key's seed; the active one signs new checkpoints, every one's public key checks those it signed."""

    __slots__ = ()
    KIND = "checkpoint"


KeyringT = TypeVar("KeyringT", bound=Keyring)


def load_keyring(
    document: str | SecretStr | None = None, file: Path | None = None, kind: type[KeyringT] = PayloadKeyring
) -> KeyringT | None:
    """The keyring from a document (preferred) or a file; None when neither is given (not set up)."""
    text = document.get_secret_value() if isinstance(document, SecretStr) else document
    if text and text.strip():
        return kind.from_text(text)
    if file is not None:
        return kind.from_file(file)
    return None


def keyring_from_environment(environ: Mapping[str, str] | None = None) -> PayloadKeyring | None:
    """From TRIALFLOW_PAYLOAD_KEYS or TRIALFLOW_PAYLOAD_KEYS_FILE; None when neither is set."""
    environ = os.environ if environ is None else environ
    file = environ.get(KEYS_FILE_ENV, "").strip()
    return load_keyring(environ.get(KEYS_ENV), Path(file) if file else None)


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Write the keyring's document to `path`, readable by its owner only, replacing any old file atomically."""
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


def rotate_key_file(path: Path, key_id: str, kind: type[KeyringT] = PayloadKeyring) -> KeyringT:
    """Add a fresh key under `key_id` to the key file (created if missing) and make it the active one."""
    keyring = kind.from_file(path).rotated(key_id) if path.exists() else kind.new(key_id)
    write_key_file(path, keyring)
    return keyring


def ensure_key_file(path: Path, key_id: str = "k1", kind: type[KeyringT] = PayloadKeyring) -> KeyringT:
    """The keyring in `path`, made with one fresh key first if the file does not exist (the dev stack's keys)."""
    return kind.from_file(path) if path.exists() else rotate_key_file(path, key_id, kind)
