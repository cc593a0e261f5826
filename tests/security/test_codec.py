"""The encryption codec: round trip, key rotation, tampering, unknown keys, and payloads from before encryption."""

from __future__ import annotations

import base64

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError

from security import (
    ENCRYPTED_ENCODING,
    KEY_ID_METADATA_KEY,
    REFUSED_ENCODING,
    UNENCRYPTED_PAYLOAD_REFUSED,
    EncryptionCodec,
    PayloadDecryptionError,
    PayloadKeyring,
    UnknownPayloadKeyError,
    data_converter_for,
    encrypted_data_converter,
    replay_data_converter,
)
from security.codec import NONCE_BYTES
from security.compression import CompressionCodec
from tests.security.marker_workflows import Marked

KEY_1 = bytes(range(32))
KEY_2 = bytes(range(32, 64))
MARKER = "Ada Lovelace, born 2017-12-10"


def plain_payload(text: str = MARKER) -> Payload:
    return Payload(metadata={"encoding": b"json/plain", "messageType": b"Marked"}, data=f'"{text}"'.encode())


@pytest.fixture
def keyring() -> PayloadKeyring:
    return PayloadKeyring("k1", {"k1": KEY_1})


async def test_a_payload_round_trips_and_nothing_of_it_is_in_clear(keyring: PayloadKeyring) -> None:
    codec = EncryptionCodec(keyring)
    original = plain_payload()

    [encrypted] = await codec.encode([original])
    [decoded] = await codec.decode([encrypted])

    assert decoded == original  # metadata too: the whole payload was serialized and encrypted
    assert dict(encrypted.metadata) == {"encoding": ENCRYPTED_ENCODING, KEY_ID_METADATA_KEY: b"k1"}
    serialized = encrypted.SerializeToString()
    assert MARKER.encode() not in serialized and b"json/plain" not in serialized and b"Marked" not in serialized


async def test_every_payload_gets_its_own_nonce(keyring: PayloadKeyring) -> None:
    codec = EncryptionCodec(keyring)
    first, second = await codec.encode([plain_payload(), plain_payload()])
    assert first.data[:NONCE_BYTES] != second.data[:NONCE_BYTES]
    assert first.data != second.data


async def test_rotation_keeps_old_payloads_readable_and_encrypts_new_ones_with_the_new_key(
    keyring: PayloadKeyring,
) -> None:
    [old] = await EncryptionCodec(keyring).encode([plain_payload("before rotation")])

    rotated = keyring.rotated("k2", KEY_2)
    codec = EncryptionCodec(rotated)
    [new] = await codec.encode([plain_payload("after rotation")])

    assert rotated.active_key_id == "k2" and rotated.key_ids == ("k1", "k2")
    assert old.metadata[KEY_ID_METADATA_KEY] == b"k1"
    assert new.metadata[KEY_ID_METADATA_KEY] == b"k2"
    assert await codec.decode([old, new]) == [plain_payload("before rotation"), plain_payload("after rotation")]
    # The new payload really is under k2: a keyring without k2 cannot read it.
    with pytest.raises(UnknownPayloadKeyError):
        await EncryptionCodec(keyring).decode([new])


async def test_an_unknown_key_id_is_named_in_a_clear_error_and_the_data_is_not(keyring: PayloadKeyring) -> None:
    [encrypted] = await EncryptionCodec(PayloadKeyring("2026-q3", {"2026-q3": KEY_2})).encode([plain_payload()])

    with pytest.raises(UnknownPayloadKeyError) as raised:
        await EncryptionCodec(keyring).decode([encrypted])

    message = str(raised.value)
    assert raised.value.key_id == "2026-q3"
    assert "'2026-q3'" in message and "not configured" in message and "k1" in message
    assert MARKER not in message and base64.b64encode(encrypted.data).decode() not in message


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda p: p.data[:-1] + bytes([p.data[-1] ^ 1]), id="ciphertext bit flipped"),
        pytest.param(lambda p: bytes([p.data[0] ^ 1]) + p.data[1:], id="nonce bit flipped"),
        pytest.param(lambda p: p.data[: NONCE_BYTES + 20], id="truncated"),
        pytest.param(lambda p: p.data[:NONCE_BYTES], id="nonce only"),
    ],
)
async def test_a_tampered_payload_is_refused(keyring: PayloadKeyring, tamper) -> None:  # type: ignore[no-untyped-def]
    codec = EncryptionCodec(keyring)
    [encrypted] = await codec.encode([plain_payload()])
    tampered = Payload(metadata=encrypted.metadata, data=tamper(encrypted))

    with pytest.raises(PayloadDecryptionError, match="'k1'") as raised:
        await codec.decode([tampered])
    assert MARKER not in str(raised.value)


async def test_the_key_id_is_bound_to_the_ciphertext() -> None:
    # Two ids for the same key: moving a payload to the other id must not decrypt, the id is authenticated.
    both = PayloadKeyring("k1", {"k1": KEY_1, "k1-copy": KEY_1})
    codec = EncryptionCodec(both)
    [encrypted] = await codec.encode([plain_payload()])
    relabelled = Payload(metadata={**encrypted.metadata, KEY_ID_METADATA_KEY: b"k1-copy"}, data=encrypted.data)

    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await codec.decode([relabelled])


async def test_an_encrypted_payload_without_a_key_id_is_refused(keyring: PayloadKeyring) -> None:
    [encrypted] = await EncryptionCodec(keyring).encode([plain_payload()])
    stripped = Payload(metadata={"encoding": ENCRYPTED_ENCODING}, data=encrypted.data)
    with pytest.raises(PayloadDecryptionError, match=KEY_ID_METADATA_KEY):
        await EncryptionCodec(keyring).decode([stripped])


async def test_a_payload_in_clear_is_never_decoded_as_a_value(keyring: PayloadKeyring) -> None:
    old = plain_payload()
    [marked] = await EncryptionCodec(keyring).decode([old])
    assert marked.metadata["encoding"] == REFUSED_ENCODING
    assert Payload.FromString(marked.data) == old  # kept whole for whoever investigates, but opaque
    converter = encrypted_data_converter(keyring)
    with pytest.raises(ApplicationError, match="payload in clear was refused") as raised:
        await converter.decode([old], [str])
    assert raised.value.type == UNENCRYPTED_PAYLOAD_REFUSED and raised.value.non_retryable
    # Only the replayer of old histories reads it.
    assert await replay_data_converter(keyring).decode([old], [str]) == [MARKER]


async def test_the_data_converter_encrypts_values_and_failure_messages(keyring: PayloadKeyring) -> None:
    converter = encrypted_data_converter(keyring)
    [payload] = await converter.encode([Marked(marker=MARKER)])
    assert payload.metadata["encoding"] == ENCRYPTED_ENCODING
    assert await converter.decode([payload], [Marked]) == [Marked(marker=MARKER)]

    failure = Failure()
    await converter.encode_failure(ApplicationError(f"refused for {MARKER}", Marked(marker=MARKER)), failure)
    assert MARKER.encode() not in failure.SerializeToString()
    assert failure.message == "Encoded failure"

    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == f"refused for {MARKER}"
    assert decoded.details == (Marked(marker=MARKER).model_dump(),)


def test_without_keys_the_converter_compresses_only_and_with_keys_it_compresses_then_encrypts(
    keyring: PayloadKeyring,
) -> None:
    plain = data_converter_for(None).payload_codec
    assert isinstance(plain, CompressionCodec) and plain.then is None
    assert data_converter_for(None).payload_converter_class is pydantic_data_converter.payload_converter_class
    encrypting = data_converter_for(keyring).payload_codec
    assert isinstance(encrypting, CompressionCodec) and isinstance(encrypting.then, EncryptionCodec)


def test_the_codec_and_keyring_never_show_a_key(keyring: PayloadKeyring) -> None:
    shown = repr(EncryptionCodec(keyring)) + repr(keyring) + str(keyring)
    assert "k1" in shown
    assert KEY_1.hex() not in shown and base64.b64encode(KEY_1).decode() not in shown and repr(KEY_1) not in shown
