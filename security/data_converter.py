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
    """The pydantic data converter with the encryption codec; failure messages and stack traces are encrypted too.

    In clear stay a failure's type name (e.g. ApplicationError's `type`) and "Encoded failure".
    """
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keyring, accept_unencrypted=accept_unencrypted),
        # A Failure's message and stack trace are strings out of the codec's reach: this moves them into a payload.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter_for(keyring: PayloadKeyring | None) -> DataConverter:
    """Encrypting when a keyring is configured; the plain pydantic converter when not (encryption not set up)."""
    return pydantic_data_converter if keyring is None else encrypted_data_converter(keyring)
