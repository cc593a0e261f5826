"""The trial record's limits, checked in the domain: what the workflow refuses before the record would."""

from __future__ import annotations

from domain.journey.envelope import record_limit_problems
from domain.journey.events import Event
from tests.domain.journey_driver import JourneyDriver


def enrolled() -> Event:
    journey = JourneyDriver()
    journey.enroll()
    return journey.events[0]


def test_an_event_the_decider_made_is_within_the_limits() -> None:
    assert record_limit_problems(enrolled()) == []


def test_an_invisible_character_in_a_reason_is_named() -> None:
    event = enrolled().model_copy(update={"reason": "dose\x1bheld"})
    assert record_limit_problems(event) == ["the reason contains an invisible control character; type it as plain text"]


def test_a_blank_reason_is_no_reason_and_within_the_limits() -> None:
    assert record_limit_problems(enrolled().model_copy(update={"reason": "   "})) == []


def test_a_protocol_version_that_is_not_a_plain_token_is_named() -> None:
    problems = record_limit_problems(enrolled().model_copy(update={"protocol_version": "1.0 draft"}))
    assert problems and all("pattern" in problem for problem in problems)
