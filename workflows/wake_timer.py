"""The journey's one timer for its next wake, kept across steps while the moment it wakes at stays the same.

A journey wakes at its next protocol timer or the end of the day an open item falls overdue; most staff steps leave
that moment where it was (17 of the 19 steps of the path to infusion). Re-armed at every step, the timer cost two
history events a step (started, then cancelled by the next step) and a timer task on the server each time; kept,
it is started again only when the moment moves. Not state: a new run starts its own."""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow


class WakeTimer:
    def __init__(self) -> None:
        self._at: datetime | None = None
        self._sleeping: asyncio.Task[None] | None = None

    def until(self, at: datetime) -> asyncio.Task[None]:
        """The timer that is done at `at`: the running one if it is set for that moment, else a new one (the old
        one cancelled). Call from workflow code, with `at` in the future."""
        if self._sleeping is not None and self._at == at and not self._sleeping.done():
            return self._sleeping
        self.cancel()
        self._at = at
        self._sleeping = asyncio.create_task(workflow.sleep(at - workflow.now()))
        return self._sleeping

    def cancel(self) -> None:
        """No wake is wanted any more (none is due, or the run ends): its timer cancelled if it still runs."""
        if self._sleeping is not None and not self._sleeping.done():
            self._sleeping.cancel()
        self._at = None
        self._sleeping = None
