"""Large payloads are compressed before they are encrypted (security/compression.py): a journey's carried state is
stored (and held by the SDK for its run's life) at a fraction of its JSON; small payloads stay as they were; what was
written before compression still reads; a payload that cannot be inflated safely is refused, saying why."""

from __future__ import annotations

import zlib

import pytest
from temporalio.api.common.v1 import Payload

import security.compression as compression
from bench.journey_steps import carried_at_infusion, infusion_moment
from security import (
    REFUSED_ENCODING,
    EncryptionCodec,
    PayloadKeyring,
    encrypted_data_converter,
    plain_data_converter,
    replay_data_converter,
)
from security.compression import (
    COMPRESSED_ENCODING,
    COMPRESSED_FROM_BYTES,
    CompressionCodec,
    PayloadDecompressionError,
    compress,
    decompress,
)

KEYRING = PayloadKeyring("k1", {"k1": bytes(range(32))})
MARKER = "Ada Lovelace, born 2017-12-10"


def large_text() -> str:
    return " ".join(f"{MARKER} visit {n}" for n in range(COMPRESSED_FROM_BYTES // 10))


async def test_a_journeys_carried_state_is_stored_at_a_fraction_of_its_json_and_reads_back_whole() -> None:
    carried = carried_at_infusion(infusion_moment())
    converter = plain_data_converter()

    [payload] = await converter.encode([carried])

    assert payload.metadata["encoding"] == COMPRESSED_ENCODING
    assert len(payload.data) < len(carried.model_dump_json()) / 4  # about an eighth, measured
    assert await converter.decode([payload], [type(carried)]) == [carried]


async def test_small_payloads_stay_as_they_were() -> None:
    [payload] = await plain_data_converter().encode([MARKER])

    assert payload.metadata["encoding"] == b"json/plain"
    assert MARKER.encode() in payload.data


async def test_with_keys_a_large_payload_is_compressed_then_encrypted_and_nothing_of_it_is_in_clear() -> None:
    converter = encrypted_data_converter(KEYRING)
    text = large_text()

    [payload] = await converter.encode([text])

    assert MARKER.encode() not in payload.SerializeToString()
    inner = EncryptionCodec(KEYRING).decrypt(payload)
    assert inner.metadata["encoding"] == COMPRESSED_ENCODING  # compressed before: ciphertext would not compress
    assert len(payload.data) < len(text) / 4
    assert await converter.decode([payload], [str]) == [text]


async def test_payloads_written_before_compression_still_read() -> None:
    text = large_text()
    [plain] = plain_data_converter().payload_converter.to_payloads([text])
    [encrypted] = await EncryptionCodec(KEYRING).encode([plain])

    assert await plain_data_converter().decode([plain], [str]) == [text]
    assert await encrypted_data_converter(KEYRING).decode([encrypted], [str]) == [text]
    assert await replay_data_converter(KEYRING).decode([plain], [str]) == [text]  # histories from before encryption


async def test_a_compressed_payload_sent_in_clear_is_still_refused_where_keys_are_configured() -> None:
    in_clear = compress(Payload(metadata={"encoding": b"json/plain"}, data=f'"{large_text()}"'.encode()))
    assert in_clear.metadata["encoding"] == COMPRESSED_ENCODING

    [decoded] = await CompressionCodec(then=EncryptionCodec(KEYRING)).decode([in_clear])

    assert decoded.metadata["encoding"] == REFUSED_ENCODING


def compressed(data: bytes) -> Payload:
    return Payload(metadata={"encoding": COMPRESSED_ENCODING}, data=data)


def test_a_payload_that_would_inflate_past_the_limit_is_refused_not_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compression, "MAX_DECOMPRESSED_BYTES", 1024 * 1024)
    bomb = compressed(zlib.compress(b"\0" * (2 * 1024 * 1024)))
    assert len(bomb.data) < 4 * 1024

    with pytest.raises(PayloadDecompressionError, match=r"more than 1048576 bytes: refused"):
        decompress(bomb)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not zlib at all", "is not valid zlib data"),
        (zlib.compress(Payload(data=b"x" * 5000).SerializeToString())[:-8], "is truncated"),
        (zlib.compress(b"\xff\xff\xff not a payload"), "is not a serialized payload"),
    ],
    ids=["not zlib", "truncated", "not a payload"],
)
def test_a_compressed_payload_that_cannot_be_read_is_refused_saying_why(data: bytes, reason: str) -> None:
    with pytest.raises(PayloadDecompressionError, match=reason):
        decompress(compressed(data))


def test_the_codec_names_what_it_hands_payloads_to_and_never_a_key() -> None:
    shown = repr(CompressionCodec(then=EncryptionCodec(KEYRING)))

    assert shown.startswith("CompressionCodec(then=EncryptionCodec(") and bytes(range(32)).hex() not in shown
