"""The one kind of error a bad configuration raises, whichever floor found it, so a start lists every problem."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A setting or a file it names is invalid; the message names every problem."""
