"""The recent update answers a journey carries into its next run: as JSON text (one string each, not some twenty
models held for the run's life), and runs carried before, with the answers as models, still start and answer."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from simulation.journey_steps import Milestone
from tests.domain.journey_driver import JourneyDriver
from workflows.journey_messages import CarriedState, JourneyInput, RecentUpdate, RecordResult
from workflows.journey_run_state import JourneyWorkflowState


def _infused() -> tuple[JourneyDriver, RecordResult]:
    """A journey walked to its infusion, and an answer of a few of its events (signed, dated, with payloads)."""
    journey = JourneyDriver("TF-7301")
    journey.walk_to(Milestone.INFUSED)
    return journey, RecordResult(events=tuple(journey.events[-3:]))


def test_a_new_run_carries_each_answer_as_its_json_and_answers_a_retry_the_same() -> None:
    journey, answer = _infused()
    state = JourneyWorkflowState.starting(JourneyInput(study_id="TF-7301"))
    state.journey = journey.state
    state.recent_updates["update-infusion"] = answer.model_dump_json()

    carried = state.carried()
    [recent] = carried.recent_updates
    assert recent.result is None and recent.answer == answer.model_dump_json()

    wire = JourneyInput(study_id="TF-7301", carried=carried).model_dump_json()  # continue-as-new's input
    next_run = JourneyWorkflowState.starting(JourneyInput.model_validate_json(wire))
    assert RecordResult.model_validate_json(next_run.recent_updates["update-infusion"]) == answer


def test_a_run_carried_with_answers_as_models_starts_and_answers_the_same() -> None:
    journey, answer = _infused()
    # The carried state as runs before this change wrote it: {"update_id": ..., "result": {...}}.
    old_wire = (
        '{"study_id":"TF-7301","carried":{"state":'
        + journey.state.model_dump_json()
        + ',"recent_updates":[{"update_id":"update-infusion","result":'
        + answer.model_dump_json()
        + "}]}}"
    )
    next_run = JourneyWorkflowState.starting(JourneyInput.model_validate_json(old_wire))
    assert RecordResult.model_validate_json(next_run.recent_updates["update-infusion"]) == answer
    [carried_on] = next_run.carried().recent_updates
    assert carried_on.answer == answer.model_dump_json()


@pytest.mark.parametrize("given", [{}, {"answer": '{"events":[]}', "result": RecordResult(events=())}])
def test_an_update_carried_with_no_answer_or_two_is_refused(given: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        RecentUpdate(update_id="u-1", **given)  # type: ignore[arg-type]


def test_the_carried_state_holds_one_string_per_answer() -> None:
    _, answer = _infused()
    carried = CarriedState(
        state=JourneyDriver("TF-7302").state,
        recent_updates=(RecentUpdate(update_id="u-1", answer=answer.model_dump_json()),),
    )
    decoded = CarriedState.model_validate_json(carried.model_dump_json())
    assert isinstance(decoded.recent_updates[0].answer, str)
    assert decoded.recent_updates[0].result is None
