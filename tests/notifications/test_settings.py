"""Notification settings: SMTP and webhook configuration from TRIALFLOW_* variables, checked with the directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from config.settings import SettingsError, load_settings
from notifications import ChannelKind, NotificationConfigurationError
from notifications.from_settings import check_notification_settings, configured_channels, smtp_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "staff-directory.example.toml"


def test_nothing_configured_means_the_log_channel_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALFLOW_STAFF_DIRECTORY", "")
    settings = load_settings()
    assert settings.staff_directory is None and smtp_config(settings) is None
    assert configured_channels(settings) == set()
    assert check_notification_settings(settings).staff == ()


def test_smtp_settings_become_the_e_mail_channel(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(
        smtp_host="smtp.hospital.example",
        smtp_port=465,
        smtp_implicit_tls=True,
        smtp_username="trialflow",
        smtp_password="s3cret",
        smtp_sender="trialflow@hospital.example",
        smtp_timeout_seconds=20,
        smtp_ca_file=ca,
    )
    config = smtp_config(settings)
    assert config is not None
    assert (config.host, config.port, config.implicit_tls, config.starttls) == (
        "smtp.hospital.example",
        465,
        True,
        False,
    )
    assert (config.username, config.sender, config.timeout_seconds, config.ca_file) == (
        "trialflow",
        "trialflow@hospital.example",
        20,
        ca,
    )
    assert isinstance(config.password, SecretStr) and config.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_a_login_needs_both_halves_and_secrets_are_never_echoed() -> None:
    with pytest.raises(SettingsError, match="SMTP_USERNAME and SMTP_PASSWORD go together"):
        load_settings(smtp_host="smtp.hospital.example", smtp_username="trialflow")
    with pytest.raises(SettingsError) as refused:
        load_settings(smtp_password=["SECRET-PW"], webhook_signing_key=["SECRET-KEY"], smtp_port=0)
    message = str(refused.value)
    assert "TRIALFLOW_SMTP_PASSWORD" in message and "TRIALFLOW_WEBHOOK_SIGNING_KEY" in message
    assert "TRIALFLOW_SMTP_PORT" in message and "(got 0)" in message
    assert "SECRET-PW" not in message and "SECRET-KEY" not in message


def test_a_login_over_a_plain_connection_is_refused_unless_allowed_for_a_mail_catcher() -> None:
    login = {"smtp_host": "smtp.hospital.example", "smtp_username": "trialflow", "smtp_password": "s3cret"}
    with pytest.raises(SettingsError, match="would send the password unencrypted") as refused:
        load_settings(**login, smtp_starttls=False)
    assert "s3cret" not in str(refused.value)
    assert load_settings(**login).smtp_starttls  # STARTTLS is the default
    assert load_settings(**login, smtp_starttls=False, smtp_implicit_tls=True).smtp_implicit_tls
    catcher = load_settings(**login, smtp_starttls=False, smtp_allow_plaintext_login=True)
    assert smtp_config(catcher) is not None
    assert load_settings(smtp_host="mailpit", smtp_starttls=False).smtp_username is None  # no login: nothing to send


def test_the_directory_is_checked_with_the_channels_its_people_need(tmp_path: Path) -> None:
    with pytest.raises(NotificationConfigurationError) as refused:
        check_notification_settings(load_settings(staff_directory=EXAMPLE, smtp_host="smtp.hospital.example"))
    assert refused.value.problems == [
        f"the staff directory ({EXAMPLE}) lists webhooks but no signing key is configured: "
        "set TRIALFLOW_WEBHOOK_SIGNING_KEY"
    ]
    settings = load_settings(staff_directory=EXAMPLE, smtp_host="smtp.hospital.example", webhook_signing_key="k")
    assert configured_channels(settings) == {ChannelKind.EMAIL, ChannelKind.WEBHOOK}
    assert len(check_notification_settings(settings).staff) == 11  # the DSMB chair too
