"""The CLI's API client checks TLS for an https API with httpx's trust store, and reads no trust store for a
plain-http one (reading it cost every command 55-100 ms); what stands in for it trusts no certificate."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pytest

from cli.api_client import ApiClient, tls_trust_for
from cli.credentials import CredentialStore


class TrustStoreRead(Exception):
    pass


def _refuse_to_read_the_trust_store() -> str:
    raise TrustStoreRead


def test_an_https_api_is_checked_against_the_trust_store_and_a_plain_http_one_reads_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(certifi, "where", _refuse_to_read_the_trust_store)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    store = CredentialStore(tmp_path)
    ApiClient("http://127.0.0.1:8000", store=store).close()
    with pytest.raises(TrustStoreRead):
        ApiClient("https://trial.hospital.example", store=store)


def test_what_stands_in_for_plain_http_would_refuse_every_certificate() -> None:
    context = tls_trust_for("http://127.0.0.1:8000")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
    assert tls_trust_for("HTTPS://trial.hospital.example") is True
