"""TRIALFLOW_ENVIRONMENT=production, as compose sets it: a worker, the API or the codec server started without
payload keys (or, for a Temporal client, without command seal keys or authenticated TLS to Temporal) refuses to
start, exit code 2, with a sentence naming what is missing, before it dials anything. Each is started as the
container starts it."""

from __future__ import annotations

from pathlib import Path

import pytest

from security.keys import CheckpointKeyring, PayloadKeyring, SealKeyring, ensure_key_file
from tests.deployment.test_entry_points import run_module
from workers.dev_server import free_port

ENTRY_POINTS = {"worker": ("workers",), "api": ("api",), "codec server": ("api.codec_server",)}
NO_KEYS = "no payload keys: set TRIALFLOW_PAYLOAD_KEYS_FILE"
NO_CHECKPOINT_KEYS = "refuses to start without checkpoint keys: set TRIALFLOW_CHECKPOINT_KEYS_FILE"
NO_SEAL_KEYS = "refuses to start without command seal keys: set TRIALFLOW_SEAL_KEYS_FILE"
NO_TLS = "no authenticated TLS to Temporal: set TRIALFLOW_TEMPORAL_TLS_CERT and TRIALFLOW_TEMPORAL_TLS_KEY"


def key_file(folder: Path, kind: type[PayloadKeyring | SealKeyring | CheckpointKeyring] = PayloadKeyring) -> Path:
    path = folder / f"{kind.KIND}-keys.json"
    ensure_key_file(path, "k1", kind)
    return path


@pytest.mark.parametrize("process", sorted(ENTRY_POINTS))
def test_production_without_keys_refuses_to_start_naming_what_is_missing(process: str, tmp_path: Path) -> None:
    refused = run_module(
        *ENTRY_POINTS[process],
        cwd=tmp_path,
        environment="production",
        temporal_address=f"127.0.0.1:{free_port()}",
        database_url=f"sqlite:///{tmp_path / 'record.db'}",
    )

    assert refused.returncode == 2, refused.stderr
    assert "TRIALFLOW_ENVIRONMENT=production refuses to start" in refused.stderr
    assert NO_KEYS in refused.stderr
    # The codec server never dials Temporal nor sends commands: only its payload keys are asked for.
    assert (NO_TLS in refused.stderr) == (process != "codec server")
    assert (NO_SEAL_KEYS in refused.stderr) == (process != "codec server")
    assert (NO_CHECKPOINT_KEYS in refused.stderr) == (process != "codec server")
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "record.db").exists(), "refused before touching the record"


@pytest.mark.parametrize("process", ["worker", "api"])
def test_production_with_keys_but_no_tls_still_refuses(process: str, tmp_path: Path) -> None:
    refused = run_module(
        *ENTRY_POINTS[process],
        cwd=tmp_path,
        environment="production",
        payload_keys_file=str(key_file(tmp_path)),
        temporal_address=f"127.0.0.1:{free_port()}",
        database_url=f"sqlite:///{tmp_path / 'record.db'}",
    )

    assert refused.returncode == 2
    assert NO_TLS in refused.stderr and "no payload keys" not in refused.stderr


def test_with_keys_and_a_client_certificate_the_api_passes_the_check_and_goes_on_to_dial(tmp_path: Path) -> None:
    certificate, key = tmp_path / "client.pem", tmp_path / "client.key"
    certificate.write_text("stands in for a certificate: the check asks for the setting, the dial reads it")
    key.write_text("stands in for a key")

    started = run_module(
        "api",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        environment="production",
        payload_keys_file=str(key_file(tmp_path)),
        seal_keys_file=str(key_file(tmp_path, SealKeyring)),
        checkpoint_keys_file=str(key_file(tmp_path, CheckpointKeyring)),
        temporal_tls_cert=str(certificate),
        temporal_tls_key=str(key),
        temporal_address=f"127.0.0.1:{free_port()}",
        database_url=f"sqlite:///{tmp_path / 'record.db'}",
    )

    assert "refuses to start" not in started.stderr
    assert started.returncode == 1 and "error: the API could not start" in started.stderr


def test_development_allows_what_production_refuses(tmp_path: Path) -> None:
    # No keys, no TLS, an unreachable Temporal: development gets past the check and fails only on the dial.
    started = run_module(
        "api",
        "--port",
        str(free_port()),
        cwd=tmp_path,
        temporal_address=f"127.0.0.1:{free_port()}",
        database_url=f"sqlite:///{tmp_path / 'record.db'}",
    )

    assert "refuses to start" not in started.stderr
    assert started.returncode == 1
