"""A command reaching a run that is handing over to the next is turned away (ResendToNewRun), or gets NOT_FOUND
once that run has gone: it is resent with the same update id while the journey runs, for a bounded time.
(On a real server the handover is too short to hit on purpose; these fakes stand in for its answers.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from config.journey_ids import journey_workflow_id
from domain.journey import commands as cmd
from facade import CommandRefused, JourneyClosed, NotPermitted, TrialClient
from tests.domain.journey_driver import INVESTIGATOR
from tests.servers import new_store
from workflows.journey_messages import RecordResult
from workflows.patient_journey import COMMAND_REJECTED, NOT_PERMITTED, RESEND_TO_NEW_RUN

ANSWER = RecordResult(events=())
CONFIRM = cmd.ConfirmEligibility(actor=INVESTIGATOR)


def not_found() -> Exception:
    return RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")


def turned_away() -> Exception:
    return WorkflowUpdateFailedError(ApplicationError("the journey is moving to a new run", type=RESEND_TO_NEW_RUN))


MISSES = [not_found, turned_away]


@dataclass
class FakeDescription:
    status: WorkflowExecutionStatus


@dataclass
class FakeHandle:
    """Answers with `miss()` `misses` times, then ANSWER; its newest run is as `status` says."""

    miss: Callable[[], Exception]
    misses: int
    status: WorkflowExecutionStatus = WorkflowExecutionStatus.RUNNING
    update_ids: list[str] = field(default_factory=list)

    async def execute_update(self, update: Any, command: Any, *, id: str) -> RecordResult:
        self.update_ids.append(id)
        if len(self.update_ids) <= self.misses:
            raise self.miss()
        return ANSWER

    async def describe(self) -> FakeDescription:
        return FakeDescription(self.status)


@dataclass
class FakeTemporal:
    handle: FakeHandle
    workflow_ids: list[str] = field(default_factory=list)

    def get_workflow_handle_for(self, run: Any, workflow_id: str, **kwargs: Any) -> FakeHandle:
        assert not kwargs, "a journey is addressed by its workflow id alone, never a run id"
        self.workflow_ids.append(workflow_id)
        return self.handle


async def record_with(
    handle: FakeHandle, tmp_path: Path, update_id: str | None = None, resend_within: float = 30
) -> tuple[RecordResult, FakeTemporal]:
    temporal = FakeTemporal(handle)
    with new_store(tmp_path) as store:
        trial = TrialClient(cast(Client, temporal), store, resend_within=timedelta(seconds=resend_within))
        return await trial.record("TF-001", CONFIRM, update_id=update_id), temporal


@pytest.mark.parametrize("miss", MISSES)
async def test_a_command_caught_in_a_handover_is_resent_with_the_same_update_id(
    tmp_path: Path, miss: Callable[[], Exception]
) -> None:
    handle = FakeHandle(miss, misses=3)

    result, temporal = await record_with(handle, tmp_path, update_id="u-1")

    assert result == ANSWER
    assert handle.update_ids == ["u-1"] * 4
    assert temporal.workflow_ids == [journey_workflow_id("TF-001")]


async def test_without_an_update_id_one_is_made_and_kept_for_every_resend(tmp_path: Path) -> None:
    handle = FakeHandle(turned_away, misses=1)

    await record_with(handle, tmp_path)

    first, again = handle.update_ids
    assert first == again and len(first) >= 32


@pytest.mark.parametrize("miss", MISSES)
async def test_resending_stops_at_its_deadline(tmp_path: Path, miss: Callable[[], Exception]) -> None:
    handle = FakeHandle(miss, misses=1_000)

    with pytest.raises(type(miss())):
        await record_with(handle, tmp_path, update_id="u-2", resend_within=0.3)

    # A thousand misses were on offer: the deadline, not the misses, ended the resending.
    assert 2 <= len(handle.update_ids) <= 5 and set(handle.update_ids) == {"u-2"}


@pytest.mark.parametrize(
    "status", [WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.TERMINATED, WorkflowExecutionStatus.FAILED]
)
async def test_a_miss_on_an_ended_journey_is_never_resent(tmp_path: Path, status: WorkflowExecutionStatus) -> None:
    handle = FakeHandle(not_found, misses=1, status=status)

    with pytest.raises(JourneyClosed, match="TF-001"):
        await record_with(handle, tmp_path, update_id="u-3")
    assert handle.update_ids == ["u-3"]


async def test_a_refusal_is_never_resent(tmp_path: Path) -> None:
    def refused() -> Exception:
        return WorkflowUpdateFailedError(ApplicationError("two; reasons", "two", "reasons", type=COMMAND_REJECTED))

    handle = FakeHandle(refused, misses=1)

    with pytest.raises(CommandRefused) as raised:
        await record_with(handle, tmp_path, update_id="u-4")
    assert raised.value.reasons == ("two", "reasons")
    assert not isinstance(raised.value, NotPermitted)
    assert handle.update_ids == ["u-4"]


async def test_a_refusal_the_workflow_says_is_the_roles_is_not_permitted_whatever_the_role(tmp_path: Path) -> None:
    """The trial client judges no role itself: the workflow's NotPermitted cause alone makes the refusal a 403."""

    def refused_for_the_role() -> Exception:
        rejected = ApplicationError("not yours", "not yours", type=COMMAND_REJECTED)
        rejected.__cause__ = ApplicationError("the acting role may not issue this command", type=NOT_PERMITTED)
        return WorkflowUpdateFailedError(rejected)

    handle = FakeHandle(refused_for_the_role, misses=1)

    with pytest.raises(NotPermitted) as raised:
        await record_with(handle, tmp_path, update_id="u-6")  # an investigator confirming eligibility
    assert raised.value.reasons == ("not yours",) and raised.value.code == "forbidden"


async def test_another_failure_is_raised_as_it_is(tmp_path: Path) -> None:
    def broken() -> Exception:
        return WorkflowUpdateFailedError(ApplicationError("something else", type="Other"))

    handle = FakeHandle(broken, misses=1)

    with pytest.raises(WorkflowUpdateFailedError):
        await record_with(handle, tmp_path, update_id="u-5")
    assert handle.update_ids == ["u-5"]
