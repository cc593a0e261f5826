"""The timers the workflow sleeps on: the earliest and the due ones, found without building every command, agree
with the full list at every point of a journey."""

from __future__ import annotations

from domain.journey.timers import due_timers, next_timer_at, pending_timers
from tests.domain.journey_driver import JourneyDriver


def _agrees_with_the_full_list(journey: JourneyDriver) -> None:
    everything = pending_timers(journey.state, journey.protocol)
    later = [t.due_at for t in everything if t.due_at > journey.now]
    assert next_timer_at(journey.state, journey.protocol, after=journey.now) == (min(later) if later else None)
    due_now = [t for t in everything if t.due_at <= journey.now]
    assert due_timers(journey.state, journey.protocol, journey.now) == due_now


def test_the_earliest_and_the_due_timers_match_the_full_list_through_follow_up() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    assert pending_timers(journey.state, journey.protocol), "a follow-up patient has timers to come"
    for _ in range(40):  # a year and more, a fortnight at a time, with some timers due at each look
        journey.advance(days=14)
        _agrees_with_the_full_list(journey)
        journey.run_timers_until(journey.now)
        _agrees_with_the_full_list(journey)
    assert not due_timers(journey.state, journey.protocol, journey.now)


def test_completion_comes_last_among_timers_due_at_the_same_moment() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    timers = pending_timers(journey.state, journey.protocol)
    for _ in range(80):  # quarter by quarter, until the journey's completion is planned (the last era)
        if any(t.command.kind == "complete_journey" for t in timers):
            break
        journey.advance(days=90)
        journey.run_timers_until(journey.now)
        timers = pending_timers(journey.state, journey.protocol)
    completion = timers[-1]
    assert completion.command.kind == "complete_journey"
    assert any(t.due_at == completion.due_at for t in timers[:-1]), "the last visit is marked missed at that moment"
    _agrees_with_the_full_list(journey)
