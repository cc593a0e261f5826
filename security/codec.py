"""A Temporal PayloadCodec that encrypts every payload with AES-256-GCM under the keyring's active key.

The whole payload is encrypted (its metadata too). A payload in clear is refused: anyone who can reach Temporal can
send one (`temporal workflow update/signal/start`), and it must never be taken for a command from the API. It is not
decoded but replaced by a refusal marker (`REFUSED_ENCODING`) that the data converter (security/data_converter.py)
turns into a non-retryable failure when something tries to read it: an update is rejected, a start fails at once,
and a signal (the journey has no signal handler, so its arguments are never read) is buffered and ignored; raising
here instead would fail the whole workflow task, and a signal in clear would wedge a journey for ever. Only the
replayer of histories recorded before encryption accepts payloads in clear. docs/deployment.md, "Payload encryption"."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from security.keys import PayloadKeyring

ENCODING_METADATA_KEY: Final = "encoding"
ENCRYPTED_ENCODING: Final = b"binary/encrypted"
KEY_ID_METADATA_KEY: Final = "encryption-key-id"
# What a payload in clear becomes: its original bytes kept (for whoever investigates), but never decoded as a value.
REFUSED_ENCODING: Final = b"binary/unencrypted-refused"

NONCE_BYTES: Final = 12  # 96 bits, fresh from os.urandom for every payload
TAG_BYTES: Final = 16
# Associated data: the format's version and the key id. Changing the key id in the metadata breaks the tag.
_ASSOCIATED_DATA_PREFIX: Final = b"trialflow-payload-v1:"


class PayloadDecryptionError(ValueError):
    """A payload could not be decrypted. The message names the key id, never the payload's data."""


class UnknownPayloadKeyError(PayloadDecryptionError):
    """The payload was encrypted with a key id this keyring does not hold."""

    def __init__(self, key_id: str, known: Sequence[str]) -> None:
        super().__init__(
            f"the payload was encrypted with key id {key_id!r}, which is not configured "
            f"(configured: {', '.join(known) or 'none'}); add that key to the payload keys to read it"
        )
        self.key_id = key_id


def _associated_data(key_id: str) -> bytes:
    return _ASSOCIATED_DATA_PREFIX + key_id.encode("ascii")


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get(ENCODING_METADATA_KEY) == ENCRYPTED_ENCODING


def refused(payload: Payload) -> Payload:
    """The refusal marker standing for a payload in clear: its whole serialized form as opaque data."""
    return Payload(metadata={ENCODING_METADATA_KEY: REFUSED_ENCODING}, data=payload.SerializeToString())


def is_refused(payload: Payload) -> bool:
    return payload.metadata.get(ENCODING_METADATA_KEY) == REFUSED_ENCODING


class EncryptionCodec(PayloadCodec):
    """Encrypts with the keyring's active key; decrypts with whichever configured key a payload names; a payload in
    clear comes out as the refusal marker, unless `accept_unencrypted` (the replayer of old histories only)."""

    def __init__(self, keyring: PayloadKeyring, *, accept_unencrypted: bool = False) -> None:
        self.keyring = keyring
        self.accept_unencrypted = accept_unencrypted
        self._ciphers: dict[str, AESGCM] = {}

    def __repr__(self) -> str:
        return f"EncryptionCodec({self.keyring!r}, accept_unencrypted={self.accept_unencrypted})"

    def _cipher(self, key_id: str) -> AESGCM:
        if key_id not in self._ciphers:
            if not self.keyring.knows(key_id):
                raise UnknownPayloadKeyError(key_id, self.keyring.key_ids)
            self._ciphers[key_id] = AESGCM(self.keyring.key(key_id))
        return self._ciphers[key_id]

    def encrypt(self, payload: Payload) -> Payload:
        # `data`: the nonce, then the ciphertext (tag included) of the payload serialized whole, so its metadata
        # (encoding, pydantic type) is hidden too; in clear only the encoding and the key id.
        key_id = self.keyring.active_key_id
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._cipher(key_id).encrypt(nonce, payload.SerializeToString(), _associated_data(key_id))
        return Payload(
            metadata={ENCODING_METADATA_KEY: ENCRYPTED_ENCODING, KEY_ID_METADATA_KEY: key_id.encode("ascii")},
            data=nonce + ciphertext,
        )

    def decrypt(self, payload: Payload) -> Payload:
        if not is_encrypted(payload):
            if self.accept_unencrypted or is_refused(payload):
                return payload
            return refused(payload)
        raw_key_id = payload.metadata.get(KEY_ID_METADATA_KEY)
        if not raw_key_id:
            raise PayloadDecryptionError(f"an encrypted payload carries no {KEY_ID_METADATA_KEY!r}")
        try:
            key_id = raw_key_id.decode("ascii")
        except UnicodeDecodeError:
            raise PayloadDecryptionError(f"an encrypted payload's {KEY_ID_METADATA_KEY!r} is not plain text") from None
        cipher = self._cipher(key_id)
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(f"a payload encrypted with key id {key_id!r} is truncated")
        nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plaintext = cipher.decrypt(nonce, ciphertext, _associated_data(key_id))
        except InvalidTag:
            raise PayloadDecryptionError(
                f"a payload encrypted with key id {key_id!r} failed authentication: it was altered, "
                "or encrypted with a different key under that id"
            ) from None
        try:
            return Payload.FromString(plaintext)
        except DecodeError:
            raise PayloadDecryptionError(
                f"a payload decrypted with key id {key_id!r} is not a serialized payload"
            ) from None

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(payload) for payload in payloads]
