"""The trial client's errors: one family, each naming the study id in plain words, with every reason listed."""

from __future__ import annotations

import pytest

from facade import AlreadyEnrolled, CommandRefused, JourneyClosed, TrialError, UnknownPatient

ERRORS = [
    AlreadyEnrolled("TF-001"),
    UnknownPatient("TF-001"),
    CommandRefused("TF-001", ["a nurse cannot record consent", "the consent date is in the future"]),
    JourneyClosed("TF-001", "off_study"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_every_error_is_a_trial_error_naming_the_patient(error: TrialError) -> None:
    assert isinstance(error, TrialError)
    assert error.study_id == "TF-001" and "TF-001" in str(error)
    assert error.reasons and all(reason.strip() for reason in error.reasons)


def test_each_kind_has_its_own_code() -> None:
    assert len({e.code for e in ERRORS}) == len(ERRORS)


def test_a_refusal_lists_every_reason_in_its_message_and_one_by_one() -> None:
    error = CommandRefused("TF-001", ["first reason", "second reason"])
    assert error.reasons == ("first reason", "second reason")
    assert str(error) == "refused for TF-001: first reason; second reason"


def test_a_refusal_without_reasons_still_says_it_was_refused() -> None:
    assert CommandRefused("TF-001", []).reasons == ("the command was refused without a reason",)


def test_an_ended_journey_says_how_it_ended_in_words() -> None:
    assert "has ended (off study)" in str(JourneyClosed("TF-001", "off_study"))
    assert "has ended:" in str(JourneyClosed("TF-001"))
