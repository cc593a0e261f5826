"""The time-skipping server's clock as the demo's staff see it: the facade's clock, moved from step to step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from workers.time_skipping import server_time, skip_time


@dataclass
class ServerClock:
    """The time-skipping server's time as last read: the facade's clock, and where every staff step is dated."""

    env: WorkflowEnvironment
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    async def move_to(self, moment: datetime) -> None:
        delta = moment - await server_time(self.env)
        if delta > timedelta(0):
            await skip_time(self.env, delta)  # the server skips ahead, firing every workflow timer on the way
        # Steps are dated at the moment asked for, not at the server's time read after the skip (the skip's margin
        # and some milliseconds of real time later): a timer set from a step's time (a report's deadline, the DLT
        # window's end) then falls on a moment a later skip passes with its margin, never a few milliseconds after
        # it, where it would fire in real time under the next step's task and hang this server
        # (workers/time_skipping.py, PAST_THE_MOMENT).
        self.now = max(self.now, moment)
