"""Admissions asked together. Temporal runs one workflow's updates one workflow task after another, and refuses more
than 10 in flight on one workflow; with every enrollment asking the one TrialWorkflow, admissions sent one update
each queued behind each other (docs/performance.md, "Enrollment"). Here at most `in_flight` updates are out at once,
and the admissions that arrive meanwhile leave together in the next one: one update, one workflow task, for all of
them. An admission that finds a free place leaves at once, alone."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from workflows.trial_messages import AdmissionResult

Send = Callable[[tuple[str, ...], timedelta], Awaitable[Sequence[AdmissionResult]]]


class AdmissionQueue:
    def __init__(self, send: Send, in_flight: int, most_per_batch: int) -> None:
        self._send = send
        self._in_flight = in_flight
        self._most_per_batch = most_per_batch
        self._sending = 0
        self._waiting: list[tuple[str, timedelta, asyncio.Future[AdmissionResult]]] = []
        self._batches: set[asyncio.Task[None]] = set()

    async def ask(self, study_id: str, within: timedelta) -> AdmissionResult:
        """The trial's answer for `study_id`; raises what sending its batch raised (every admission in it alike)."""
        answer: asyncio.Future[AdmissionResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((study_id, within, answer))
        self._dispatch()
        return await answer

    def _dispatch(self) -> None:
        while self._waiting and self._sending < self._in_flight:
            batch, self._waiting = self._waiting[: self._most_per_batch], self._waiting[self._most_per_batch :]
            self._sending += 1
            task = asyncio.create_task(self._send_batch(batch))
            self._batches.add(task)
            task.add_done_callback(self._batches.discard)

    async def _send_batch(self, batch: list[tuple[str, timedelta, asyncio.Future[AdmissionResult]]]) -> None:
        try:
            results = await self._send(tuple(study_id for study_id, _, _ in batch), max(w for _, w, _ in batch))
            if len(results) != len(batch):
                raise RuntimeError(f"the trial answered {len(results)} admissions for {len(batch)} asked")
        except Exception as error:
            for _, _, answer in batch:
                if not answer.done():  # its caller may have given up
                    answer.set_exception(error)
        else:
            for (_, _, answer), result in zip(batch, results, strict=True):
                if not answer.done():
                    answer.set_result(result)
        finally:
            self._sending -= 1
            self._dispatch()
