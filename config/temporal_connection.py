"""The Temporal client every process uses (worker, API, CLI): the configured cluster with its TLS or API key.

The data converter is the caller's: `security.configured_data_converter(settings)` encrypts when keys are set.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import TLSConfig

from config.settings import Settings


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


async def connect(settings: Settings, data_converter: DataConverter, address: str | None = None) -> Client:
    """A client for the configured cluster: the embedded dev server, a self-hosted one, or Temporal Cloud."""
    return await Client.connect(
        address or settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
    )
