"""A Temporal PayloadCodec that compresses large payloads with zlib, before any encryption (ciphertext does not
compress).

Why: a journey's later runs start from the state the run before carried (about 27 KB of JSON at infusion, more with
every year), and the SDK keeps what it received of a run's input for the run's life, in more than one copy: a
worker's memory grew by about 6.7 KiB for each KB of a cached run's input, 4.0 KiB with the input compressed (a
probe; docs/performance.md, issue 19). JSON compresses about eightfold, so do the histories holding it, and the
trial's own carried state stays under Temporal's 2 MB payload limit for far more patients.

Small payloads (a staff command, an answer) stay as they are: compressing them saves nothing worth the CPU. A
payload that would decompress past `MAX_DECOMPRESSED_BYTES` is refused with an error, never inflated.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Final

from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING_METADATA_KEY: Final = "encoding"
COMPRESSED_ENCODING: Final = b"binary/zlib"
# Payloads from this size (serialized) are compressed: a journey's carried state, the trial's, a long history query.
COMPRESSED_FROM_BYTES: Final = 4 * 1024
# Far beyond any payload the trial writes (Temporal refuses payloads over 2 MB before compression counts).
MAX_DECOMPRESSED_BYTES: Final = 64 * 1024 * 1024


class PayloadDecompressionError(ValueError):
    """A compressed payload could not be read back. The message says why, never the payload's data."""


def is_compressed(payload: Payload) -> bool:
    return payload.metadata.get(ENCODING_METADATA_KEY) == COMPRESSED_ENCODING


def compress(payload: Payload) -> Payload:
    """The payload serialized whole (metadata too) and compressed, when that is worth it; else as it is."""
    serialized = payload.SerializeToString()
    if len(serialized) < COMPRESSED_FROM_BYTES:
        return payload
    return Payload(metadata={ENCODING_METADATA_KEY: COMPRESSED_ENCODING}, data=zlib.compress(serialized))


def decompress(payload: Payload) -> Payload:
    if not is_compressed(payload):
        return payload
    inflater = zlib.decompressobj()
    try:
        serialized = inflater.decompress(payload.data, MAX_DECOMPRESSED_BYTES)
    except zlib.error:
        raise PayloadDecompressionError("a compressed payload is not valid zlib data") from None
    if inflater.unconsumed_tail:
        raise PayloadDecompressionError(
            f"a compressed payload would decompress to more than {MAX_DECOMPRESSED_BYTES} bytes: refused"
        )
    if not inflater.eof:
        raise PayloadDecompressionError("a compressed payload is truncated")
    try:
        return Payload.FromString(serialized)
    except DecodeError:
        raise PayloadDecompressionError("a decompressed payload is not a serialized payload") from None


class CompressionCodec(PayloadCodec):
    """Compresses large payloads, then hands every payload to `then` (the encryption codec) if given; decodes in the
    opposite order."""

    def __init__(self, then: PayloadCodec | None = None) -> None:
        self.then = then

    def __repr__(self) -> str:
        return f"CompressionCodec(then={self.then!r})"

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        compressed = [compress(payload) for payload in payloads]
        return compressed if self.then is None else await self.then.encode(compressed)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = list(payloads) if self.then is None else await self.then.decode(payloads)
        return [decompress(payload) for payload in opened]
