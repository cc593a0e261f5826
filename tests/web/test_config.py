"""The web app's settings: sign-in through the issuer when one is configured, the idle timeout, the public address
(checked as an issuer's is: https, plain http only to this machine)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from config.settings import SettingsError, load_settings
from web import web_config_for
from web.config import OidcWebClient


def test_without_an_issuer_the_personal_credential_signs_in_with_a_15_minute_idle_timeout() -> None:
    config = web_config_for(load_settings(_env_file=None))
    assert config.oidc is None and config.idle_timeout == timedelta(minutes=15) and config.public_url is None


def test_with_an_issuer_the_web_client_signs_in_through_it() -> None:
    config = web_config_for(
        load_settings(
            _env_file=None,
            oidc_issuer="https://login.example.org/realms/trial",
            oidc_audience="trialflow-api",
            web_idle_timeout_minutes=5,
            web_public_url=" https://trial.example.org ",
        )
    )
    assert config.oidc == OidcWebClient(
        "https://login.example.org/realms/trial", "trialflow-web", ("openid", "profile", "offline_access")
    )
    assert config.idle_timeout == timedelta(minutes=5) and config.public_url == "https://trial.example.org"


def test_every_bad_web_setting_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, web_idle_timeout_minutes=0, web_public_url="http://trial.example.org")
    message = str(refused.value)
    assert "WEB_IDLE_TIMEOUT_MINUTES" in message and "WEB_PUBLIC_URL" in message and "must use https" in message
