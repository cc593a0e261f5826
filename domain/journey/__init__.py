"""The patient journey as a decider: commands in, events out, state folded from events.

The package's names are imported when first used (PEP 562): a light module of the package (its phases, views or
custody steps) must not pull in every handler of the decider, as `trial status` and `trial --help` need only those."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.lazy_names import lazy_names

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


__getattr__ = lazy_names(__name__, _HOMES, globals())
