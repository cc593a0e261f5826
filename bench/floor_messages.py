"""The floor workflow's contracts: pydantic models, so the floor pays the same data converter as the journey."""

from __future__ import annotations

from typing import Any, Literal

from domain.protocol import FrozenModel

# What each update waits for: nothing (the floor), a no-op activity (the floor of "an update that records
# something"), or a no-op local activity (what recording could cost without the activity's round trips).
UpdateWork = Literal["none", "activity", "local_activity"]


class FloorInput(FrozenModel):
    key: str
    per_update: UpdateWork = "none"
    first_activity: bool = False  # run a no-op activity first, as a journey appends its enrollment first
    # A journey's carried state (its JSON), held for the run's life as a journey's later runs hold theirs: what the
    # SDK keeps of a run that starts from a large input.
    carried: dict[str, Any] | None = None


class FloorStep(FrozenModel):
    number: int


class FloorStepResult(FrozenModel):
    steps_taken: int


class FloorState(FrozenModel):
    key: str
    steps_taken: int
