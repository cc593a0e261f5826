"""The data converter every Temporal client, worker and test environment uses: pydantic payloads, the large ones
compressed (security/compression.py); when payload keys are configured, encrypted by the codec, with failure messages
and stack traces encrypted too, and a payload that came in clear (the codec's refusal marker) cannot be read as a
value.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter, pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, EncodingPayloadConverter
from temporalio.exceptions import ApplicationError

from security.codec import REFUSED_ENCODING, EncryptionCodec
from security.compression import CompressionCodec
from security.keys import PayloadKeyring

# The failure type a payload in clear raises where it is read: a client tells it apart from a protocol refusal.
UNENCRYPTED_PAYLOAD_REFUSED: Final = "UnencryptedPayloadRefused"


class RefusedPayloadConverter(EncodingPayloadConverter):
    """Reads the codec's refusal marker as a non-retryable failure, never as a value; writes nothing.

    A failure error (not any other exception) is what the SDK needs: the update carrying it is rejected, and a start
    carrying it fails the workflow at once instead of retrying its first task for ever."""

    @property
    def encoding(self) -> str:
        return REFUSED_ENCODING.decode("ascii")

    def to_payload(self, value: Any) -> Payload | None:
        return None

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        raise ApplicationError(
            "a payload in clear was refused: only payloads encrypted with the trial's keys are accepted",
            type=UNENCRYPTED_PAYLOAD_REFUSED,
            non_retryable=True,
        )


class RefusingPayloadConverter(PydanticPayloadConverter):
    """The pydantic payload converter, with the refusal marker's reader."""

    def __init__(self) -> None:  # nullary: the SDK builds it from its class, and again for each context
        super().__init__()
        self._set_converters(*self.converters.values(), RefusedPayloadConverter())


def encrypted_data_converter(keyring: PayloadKeyring) -> DataConverter:
    """The pydantic data converter with the encryption codec; failure messages and stack traces are encrypted too.

    In clear stay a failure's type name (e.g. ApplicationError's `type`) and "Encoded failure". Large payloads are
    compressed before they are encrypted."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_converter_class=RefusingPayloadConverter,
        payload_codec=CompressionCodec(then=EncryptionCodec(keyring)),
        # A Failure's message and stack trace are strings out of the codec's reach: this moves them into a payload.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def replay_data_converter(keyring: PayloadKeyring) -> DataConverter:
    """For the Replayer only, never a worker or a client: the encrypting converter that also reads payloads in clear,
    so histories recorded before encryption (tests/histories) still replay. A worker that accepted them would let
    anyone who reaches Temporal hand the journey a command."""
    return dataclasses.replace(
        encrypted_data_converter(keyring),
        payload_codec=CompressionCodec(then=EncryptionCodec(keyring, accept_unencrypted=True)),
    )


def plain_data_converter() -> DataConverter:
    """The pydantic data converter with large payloads compressed: no encryption (none set up)."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=CompressionCodec())


def data_converter_for(keyring: PayloadKeyring | None) -> DataConverter:
    """Encrypting when a keyring is configured; not when none is (encryption not set up). Compressing either way."""
    return plain_data_converter() if keyring is None else encrypted_data_converter(keyring)
