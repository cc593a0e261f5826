"""The time-skipping server's clock as the demo's staff see it: the facade's clock, moved from step to step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.testing import WorkflowEnvironment

from workers.time_skipping import skip_time


@dataclass
class ServerClock:
    """The time-skipping server's time as last read: the facade's clock, and where every staff step is dated."""

    env: WorkflowEnvironment
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    async def move_to(self, moment: datetime) -> None:
        delta = moment - await self.env.get_current_time()
        if delta > timedelta(0):
            await skip_time(self.env, delta)  # the server skips ahead, firing every workflow timer on the way
        self.now = await self.env.get_current_time()
