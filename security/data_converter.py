"""The data converter every Temporal client, worker and test environment uses when payload keys are configured:
pydantic payloads, encrypted by the codec, with failure messages and stack traces encrypted too.
"""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from security.codec import EncryptionCodec
from security.keys import PayloadKeyring


def encrypted_data_converter(keyring: PayloadKeyring, *, accept_unencrypted: bool = True) -> DataConverter:
    """The pydantic data converter with the encryption codec.

    A failure's message and stack trace are plain strings in Temporal's Failure, out of the codec's reach; the
    encoded-attributes failure converter moves them into a payload, which the codec then encrypts. What stays
    in clear is the failure's type name (e.g. ApplicationError's `type`) and "Encoded failure".
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring, accept_unencrypted=accept_unencrypted),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter_for(keyring: PayloadKeyring | None) -> DataConverter:
    """Encrypting when a keyring is configured; the plain pydantic converter when not (encryption not set up)."""
    return pydantic_data_converter if keyring is None else encrypted_data_converter(keyring)
