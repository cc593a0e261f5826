"""The patient journey as a decider: commands in, events out, state folded from events.

The package's names are imported when first used (PEP 562): a light module of the package (its phases, views or
custody steps) must not pull in every handler of the decider, as `trial status` and `trial --help` need only those."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.journey.context import CommandRejected
    from domain.journey.decide import decide
    from domain.journey.evolve import evolve, fold
    from domain.journey.state import JourneyState, initial_state

_HOMES: dict[str, str] = {
    "CommandRejected": "domain.journey.context",
    "decide": "domain.journey.decide",
    "evolve": "domain.journey.evolve",
    "fold": "domain.journey.evolve",
    "JourneyState": "domain.journey.state",
    "initial_state": "domain.journey.state",
}

__all__ = ["CommandRejected", "JourneyState", "decide", "evolve", "fold", "initial_state"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'domain.journey' has no attribute {name!r}")
    # __import__, not importlib: inside a workflow sandbox it goes through the sandbox's importer.
    value = getattr(__import__(home, fromlist=[name]), name)
    globals()[name] = value  # once imported, a plain attribute
    return value
