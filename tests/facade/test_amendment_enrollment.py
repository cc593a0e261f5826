"""The trial client puts a screening under the protocol the site's effective dates give on its screening date
(docs/amendments.md): 1.1 from its date, with its new exclusion; 1.0 before it, and wherever none is set."""

from __future__ import annotations

from datetime import timedelta

import pytest

from facade import CommandRefused, TrialClient
from tests.facade.journeys import SCREEN_FAILURE, enrollment, today
from tests.servers import Stack


def _client_with_1_1(stack: Stack) -> TrialClient:
    return TrialClient(
        stack.temporal,
        stack.store,
        task_queue=stack.task_queue,
        seal_keys=stack.seal_keys,
        protocol_effective_dates={"1.1": today()},
    )


async def test_a_screening_from_the_effective_date_follows_1_1_and_one_before_it_1_0(stack: Stack) -> None:
    trial = _client_with_1_1(stack)
    await trial.enroll(enrollment("TFA-18101", blinatumomab_or_inotuzumab_last_given="never"))
    await trial.enroll(enrollment("TFA-18102", today() - timedelta(days=1)))
    assert (await trial.status("TFA-18101")).protocol_version == "1.1"
    assert (await trial.status("TFA-18102")).protocol_version == "1.0"
    # The suite's own client has no amendment in effect: the same screening day is 1.0.
    await stack.trial.enroll(enrollment("TFA-18103"))
    assert (await stack.trial.status("TFA-18103")).protocol_version == "1.0"
    report = await trial.report()
    assert report.enrollment.by_protocol_version == {"1.0": 2, "1.1": 1}


async def test_the_new_exclusion_applies_from_the_effective_date(stack: Stack) -> None:
    trial = _client_with_1_1(stack)
    recent = today() - timedelta(days=3)
    result = await trial.enroll(enrollment("TFA-18104", blinatumomab_or_inotuzumab_last_given=recent))
    assert not result.eligible
    assert [c.code for c in result.failed_criteria] == ["recent_blinatumomab_or_inotuzumab"]
    with pytest.raises(CommandRefused) as refused:
        await trial.enroll(enrollment("TFA-18105"))
    assert "blinatumomab_or_inotuzumab_last_given is required" in str(refused.value)


async def test_a_screen_failure_screened_again_from_the_effective_date_follows_1_1(stack: Stack) -> None:
    trial = _client_with_1_1(stack)
    first = await trial.enroll(enrollment("TFA-18106", today() - timedelta(days=2), **SCREEN_FAILURE))
    assert not first.eligible
    assert (await trial.status("TFA-18106")).protocol_version == "1.0"
    again = await trial.enroll(enrollment("TFA-18106", blinatumomab_or_inotuzumab_last_given="never"))
    assert (again.screening_attempt, again.eligible) == (2, True)
    assert (await trial.status("TFA-18106")).protocol_version == "1.1"


def test_an_unknown_version_in_the_effective_dates_is_refused_at_once(stack: Stack) -> None:
    with pytest.raises(ValueError, match="unknown protocol version"):
        TrialClient(stack.temporal, stack.store, protocol_effective_dates={"9.9": today()})
