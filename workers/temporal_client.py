"""The Temporal client every process uses (worker, API, CLI): the configured cluster, its TLS or API key, and the
data converter (pydantic models, encrypted when payload keys are configured)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.service import TLSConfig

from security import data_converter_for, load_keyring
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
        data_converter=data_converter_for(load_keyring(settings.payload_keys, settings.payload_keys_file)),
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
    )
