"""What a server process checks before it starts: the settings and every configuration file it reads, so a bad
value stops the start with every problem listed at once, never a traceback halfway up."""

from __future__ import annotations

from collections.abc import Callable

from config.errors import ConfigurationError
from config.settings import Settings, SettingsError, load_settings

# One check per configuration a process reads (its tokens, staff directory, payload keys ...): raises
# ConfigurationError naming every problem of that configuration.
ConfigurationCheck = Callable[[Settings], object]


def load_checked_settings(*checks: ConfigurationCheck) -> Settings:
    """The settings once every check passes; SettingsError lists the problems of every check that fails."""
    settings = load_settings()
    problems: list[str] = []
    for check in checks:
        try:
            check(settings)
        except ConfigurationError as error:
            problems.append(str(error))
    if problems:
        raise SettingsError("\n".join(problems))
    return settings
