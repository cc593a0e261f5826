"""What a server process checks before it starts: the settings and every configuration file they name, so a bad
value stops the start with every problem listed at once, never a traceback halfway up."""

from __future__ import annotations

from api.auth import TokenConfigurationError
from api.token_file import authenticator_for
from notifications.errors import NotificationConfigurationError
from notifications.from_settings import check_notification_settings
from security import KeyringConfigurationError
from workers.settings import Settings, SettingsError, load_settings
from workers.temporal_client import payload_keyring

CONFIGURATION_ERRORS = (
    SettingsError,
    TokenConfigurationError,
    NotificationConfigurationError,
    KeyringConfigurationError,
)


def load_checked_settings() -> Settings:
    """The settings once the API tokens, the staff directory and channels, and the payload keys all pass.

    Raises SettingsError listing the problems of every check, not just the first one that fails.
    """
    settings = load_settings()
    problems: list[str] = []
    for check in (
        authenticator_for,
        check_notification_settings,
        payload_keyring,
    ):
        try:
            check(settings)
        except CONFIGURATION_ERRORS as error:
            problems.append(str(error))
    if problems:
        raise SettingsError("\n".join(problems))
    return settings
