"""The data converter every Temporal client, worker and test environment uses: pydantic payloads with one cache
of type adapters for the whole process, and when payload keys are configured, encrypted by the codec, with failure
messages and stack traces encrypted too.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from pydantic import TypeAdapter
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

from security.codec import EncryptionCodec
from security.keys import PayloadKeyring

# Far more than the project's types: every workflow, update, query and activity argument and result.
SHARED_TYPE_ADAPTERS = 1024


@functools.lru_cache(maxsize=SHARED_TYPE_ADAPTERS)
def shared_type_adapter(type_hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_hint)


class SharedAdaptersJSONConverter(PydanticJSONPlainPayloadConverter):
    """pydantic JSON whose type adapters are built once per process. The SDK makes a new payload converter for every
    workflow it runs or replays, and the stock one caches adapters per converter: each patient's workflow built its
    own (a few hundred microseconds and tens of KiB each for the union of staff commands)."""

    def __init__(self) -> None:
        super().__init__()
        self._type_adapter = shared_type_adapter


class TrialPayloadConverter(CompositePayloadConverter):
    """The SDK's pydantic payload converter, with the shared type adapters."""

    def __init__(self) -> None:
        super().__init__(
            *(
                SharedAdaptersJSONConverter() if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


trial_data_converter = DataConverter(payload_converter_class=TrialPayloadConverter)


def encrypted_data_converter(keyring: PayloadKeyring, *, accept_unencrypted: bool = True) -> DataConverter:
    """The pydantic data converter with the encryption codec.

    A failure's message and stack trace are plain strings in Temporal's Failure, out of the codec's reach; the
    encoded-attributes failure converter moves them into a payload, which the codec then encrypts. What stays
    in clear is the failure's type name (e.g. ApplicationError's `type`) and "Encoded failure".
    """
    return dataclasses.replace(
        trial_data_converter,
        payload_codec=EncryptionCodec(keyring, accept_unencrypted=accept_unencrypted),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter_for(keyring: PayloadKeyring | None) -> DataConverter:
    """Encrypting when a keyring is configured; the plain pydantic converter when not (encryption not set up)."""
    return trial_data_converter if keyring is None else encrypted_data_converter(keyring)
