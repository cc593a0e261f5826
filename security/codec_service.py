"""The codec server as a `make run` service: the stack's payload keys and the API's tokens, on loopback."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from api.service import DEFAULT_API_HOST, serve
from api.token_file import authenticator_for
from security.codec_server import CodecServerSettings, create_codec_app
from security.keys import PayloadKeyring, ensure_key_file
from workers.settings import Settings
from workers.temporal_client import default_key_file, payload_keyring

if TYPE_CHECKING:
    from workers.run import Stack


def with_payload_keys(settings: Settings) -> Settings:
    """`make run` encrypts by default: without configured keys, a key file made once under the data directory."""
    if settings.payload_keys is not None or settings.payload_keys_file is not None:
        return settings
    ensure_key_file(default_key_file(settings))  # every process on this data directory reads it from there
    return settings


def stack_keyring(settings: Settings) -> PayloadKeyring:
    keyring = payload_keyring(settings)
    assert keyring is not None, "make run sets the payload keys before it starts its services"
    return keyring


def codec_url(settings: CodecServerSettings) -> str:
    return f"http://{DEFAULT_API_HOST}:{settings.port}"


async def codec_service(stack: Stack, ready: asyncio.Event | None = None) -> None:
    """Decodes the stack's payloads for authorised staff (Temporal CLI `--codec-endpoint`, or the Web UI)."""
    codec_settings = CodecServerSettings()
    # The stack's own Web UI may call it, unless other origins are configured.
    origins = (
        codec_settings.cors_origins
        if "cors_origins" in codec_settings.model_fields_set
        else (stack.temporal_ui_url, stack.temporal_ui_url.replace("127.0.0.1", "localhost"))
    )
    app = create_codec_app(stack_keyring(stack.settings), authenticator_for(stack.settings), cors_origins=origins)
    await serve(app, DEFAULT_API_HOST, codec_settings.port, started=ready)
