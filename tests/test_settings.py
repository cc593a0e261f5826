"""Settings: another Temporal cluster (mTLS or Temporal Cloud) is configuration; bad values are named."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from config.settings import Settings, SettingsError, as_environment, load_settings
from config.startup import load_checked_settings
from config.temporal_connection import tls_config
from stack.run import CONFIGURATION_CHECKS


def test_the_embedded_default_dials_without_tls() -> None:
    settings = load_settings()
    assert settings.uses_tls is False
    assert tls_config(settings) is False


def test_a_client_certificate_and_key_give_mutual_tls(tmp_path: Path) -> None:
    cert, key, ca = tmp_path / "client.pem", tmp_path / "client.key", tmp_path / "ca.pem"
    cert.write_bytes(b"CERT")
    key.write_bytes(b"KEY")
    ca.write_bytes(b"CA")
    settings = load_settings(
        temporal_address="trial.tmprl.cloud:7233",
        temporal_tls_cert=cert,
        temporal_tls_key=key,
        temporal_tls_server_ca=ca,
        temporal_tls_server_name="trial.tmprl.cloud",
    )
    tls = tls_config(settings)
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key, tls.server_root_ca_cert) == (b"CERT", b"KEY", b"CA")
    assert tls.domain == "trial.tmprl.cloud"


def test_an_api_key_implies_tls_and_is_never_echoed_in_errors() -> None:
    settings = load_settings(temporal_api_key="secret-key-value")
    assert settings.uses_tls
    assert tls_config(settings) == TLSConfig()
    assert "secret-key-value" not in repr(settings)


def test_every_bad_tls_setting_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(temporal_tls_cert=tmp_path / "missing.pem", temporal_tls_key=tmp_path / "missing.key")
    message = str(refused.value)
    assert "TRIALFLOW_TEMPORAL_TLS_CERT" in message and "TRIALFLOW_TEMPORAL_TLS_KEY" in message


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_bytes(b"CERT")
    with pytest.raises(SettingsError, match="needs its key"):
        load_settings(temporal_tls_cert=cert)


def test_a_check_across_fields_never_echoes_the_input(tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_bytes(b"CERT")
    with pytest.raises(SettingsError) as refused:
        load_settings(temporal_tls_cert=cert, database_url="postgresql+psycopg://trial:S3CRETPW@db/trial_record")
    assert "needs its key" in str(refused.value)
    assert "S3CRETPW" not in str(refused.value)


def test_every_configuration_file_is_checked_before_a_server_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("TRIALFLOW_"):
            monkeypatch.delenv(name)
    directory = tmp_path / "staff.toml"
    directory.write_text('[[staff]]\nid = "x"\nroles = ["dean"]\n')
    monkeypatch.setenv("TRIALFLOW_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRIALFLOW_API_TOKENS", "{broken")
    monkeypatch.setenv("TRIALFLOW_STAFF_DIRECTORY", str(directory))
    monkeypatch.setenv("TRIALFLOW_PAYLOAD_KEYS", '{"active": "k9", "keys": {"k1": "short"}}')
    with pytest.raises(SettingsError) as refused:
        load_checked_settings(*CONFIGURATION_CHECKS)
    message = str(refused.value)
    assert "API token configuration" in message  # the tokens
    assert str(directory) in message  # the staff directory
    assert "k9" in message and "k1" in message  # the payload keys: the active one missing, k1 not a key
    assert "short" not in message


def test_a_child_process_given_the_settings_as_environment_runs_on_exactly_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `make run` hands its worker process: every setting, secrets and lists included, whatever the child's own
    environment or .env file would say."""
    chosen = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        temporal_address="127.0.0.1:7301",
        smtp_password="s3cret",
        smtp_username="mailer",
        webhook_signing_key="whsec-1",
        oidc_algorithms="RS256,EdDSA",
        smtp_starttls=False,
        webhook_timeout_seconds=7.5,
    )
    for name in [name for name in os.environ if name.startswith("TRIALFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TRIALFLOW_API_PORT", "9999")  # the child's own environment: overridden
    for name, value in as_environment(chosen).items():
        monkeypatch.setenv(name, value)

    assert load_settings(_env_file=None) == chosen


def test_protocol_effective_dates_are_read_from_the_environment_and_name_an_unknown_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRIALFLOW_PROTOCOL_EFFECTIVE_DATES", '{"1.1": "2027-01-15"}')
    assert load_settings().protocol_effective_dates == {"1.1": date(2027, 1, 15)}
    monkeypatch.delenv("TRIALFLOW_PROTOCOL_EFFECTIVE_DATES")
    assert load_settings(_env_file=None).protocol_effective_dates == {}  # unset: no amendment in effect
    with pytest.raises(SettingsError) as refused:
        load_settings(protocol_effective_dates={"1.0": date(2027, 1, 1), "2.0": date(2027, 1, 1)})
    assert "TRIALFLOW_PROTOCOL_EFFECTIVE_DATES" in str(refused.value)
    assert "not an amendment of the protocol: 1.0, 2.0; amendments: 1.1" in str(refused.value)
