"""The Temporal client every process uses (worker, API, CLI): the configured cluster, its TLS or API key, and the
data converter (pydantic models, encrypted when payload keys are configured)."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.service import TLSConfig

from security import PayloadKeyring, data_converter_for, load_keyring
from workers.settings import Settings


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS as configured: mTLS with a client certificate, a private CA, or plain TLS (for Cloud API keys)."""
    if not settings.uses_tls:
        return False
    return TLSConfig(
        client_cert=settings.temporal_tls_cert.read_bytes() if settings.temporal_tls_cert else None,
        client_private_key=settings.temporal_tls_key.read_bytes() if settings.temporal_tls_key else None,
        server_root_ca_cert=settings.temporal_tls_server_ca.read_bytes() if settings.temporal_tls_server_ca else None,
        domain=settings.temporal_tls_server_name,
    )


async def connect(settings: Settings, address: str | None = None) -> Client:
    """A client for the configured cluster: the embedded dev server, a self-hosted one, or Temporal Cloud."""
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        # Payloads encrypted when keys are configured (security/), so Temporal's storage holds no patient data.
        data_converter=data_converter_for(payload_keyring(settings)),
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
    )


DEFAULT_KEY_FILE_NAME = "payload-keys.json"  # under the data directory: `make run` makes it on its first start


def default_key_file(settings: Settings) -> Path:
    return settings.data_dir / DEFAULT_KEY_FILE_NAME


def payload_keyring(settings: Settings) -> PayloadKeyring | None:
    """The configured payload keys; else the data directory's key file, if `make run` made one; else None (clear).

    Every process on one data directory (the stack, `trial`, `python -m workers`) so reads the same keys.
    """
    key_file = settings.payload_keys_file
    if settings.payload_keys is None and key_file is None and default_key_file(settings).exists():
        key_file = default_key_file(settings)
    return load_keyring(settings.payload_keys, key_file)
