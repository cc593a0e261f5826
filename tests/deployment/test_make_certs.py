"""deploy/make-certs.sh, run as an operator runs it: a CA, the Temporal server's certificate and one client
certificate per caller; every chain verifies, and they make a real mutual-TLS connection (the CA's clients only)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.deployment.compose_files import REPOSITORY

SCRIPT = REPOSITORY / "deploy" / "make-certs.sh"
CLIENTS = ("trialflow-worker", "trialflow-api", "temporal-ui", "temporal-admin")


def make_certs(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), str(directory)], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("stack") / "certs"
    made = make_certs(directory)
    assert made.returncode == 0, made.stderr
    return directory


def certificate(directory: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / f"{name}.pem").read_bytes())


def usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_every_certificate_is_issued_by_the_ca_for_its_use(certs: Path) -> None:
    ca = certificate(certs, "ca")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server = certificate(certs, "temporal-server")
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "temporal" in names.get_values_for_type(x509.DNSName)  # the name clients dial inside the stack
    # Internode traffic: the server is a TLS client of its own services too.
    assert usages(server) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    for client in CLIENTS:
        issued = certificate(certs, client)
        issued.verify_directly_issued_by(ca)
        assert usages(issued) == {ExtendedKeyUsageOID.CLIENT_AUTH}, client
        assert issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == client
    for name in ("ca", "temporal-server", *CLIENTS):
        verified = subprocess.run(
            ["openssl", "verify", "-CAfile", str(certs / "ca.pem"), str(certs / f"{name}.pem")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr


def test_keys_are_readable_by_their_owner_only(certs: Path) -> None:
    for key in certs.glob("*.key"):
        assert key.stat().st_mode & 0o077 == 0, key.name
    assert sorted(key.stem for key in certs.glob("*.key")) == sorted(("ca", "temporal-server", *CLIENTS))


def handshake(server_context: ssl.SSLContext, client_context: ssl.SSLContext) -> str:
    """A real TLS handshake over loopback; the client's CN as the server saw it, or the server's error."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[str] = []

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            with server_context.wrap_socket(connection, server_side=True) as tls:
                subject = dict(item[0] for item in tls.getpeercert()["subject"])
                seen.append(subject["commonName"])
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as error:
            seen.append(f"refused: {error}")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with (
            socket.create_connection(listener.getsockname(), timeout=30) as raw,
            client_context.wrap_socket(raw, server_hostname="temporal") as tls,
        ):
            tls.recv(2)
    except (ssl.SSLError, OSError):
        pass
    thread.join(timeout=30)
    listener.close()
    return seen[0]


def server_context(certs: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs / "ca.pem"))
    context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: TEMPORAL_TLS_REQUIRE_CLIENT_AUTH
    context.load_cert_chain(certs / "temporal-server.pem", certs / "temporal-server.key")
    return context


def client_context(ca_directory: Path, certs: Path, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_directory / "ca.pem"))
    context.load_cert_chain(certs / f"{name}.pem", certs / f"{name}.key")
    return context


def test_a_client_of_the_ca_connects_with_mutual_tls_and_another_cas_is_refused(certs: Path, tmp_path: Path) -> None:
    assert handshake(server_context(certs), client_context(certs, certs, "trialflow-worker")) == "trialflow-worker"

    other = tmp_path / "other"
    assert make_certs(other).returncode == 0
    refused = handshake(server_context(certs), client_context(certs, other, "trialflow-worker"))
    assert refused.startswith("refused:") and "certificate" in refused.lower()


def test_an_existing_directory_is_never_overwritten(certs: Path) -> None:
    before = (certs / "ca.pem").read_bytes()
    again = make_certs(certs)
    assert again.returncode == 2 and "exists" in again.stderr
    assert (certs / "ca.pem").read_bytes() == before
