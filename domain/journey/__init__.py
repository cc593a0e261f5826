"""The patient journey as a decider: commands in, events out, state folded from events."""

from domain.journey.context import CommandRejected
from domain.journey.decide import decide
from domain.journey.evolve import evolve, fold
from domain.journey.state import JourneyState, initial_state

__all__ = ["CommandRejected", "JourneyState", "decide", "evolve", "fold", "initial_state"]
