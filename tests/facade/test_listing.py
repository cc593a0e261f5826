"""The visibility query: every filter as a clause, and nothing but enumeration values and booleans in it."""

from __future__ import annotations

from typing import Any

import pytest

from domain.journey.phases import Phase
from facade.listing import journeys_query

EVERY_JOURNEY = (
    "WorkflowId STARTS_WITH 'patient-journey-' AND TrialPhase IS NOT NULL AND ExecutionStatus != 'ContinuedAsNew'"
)


@pytest.mark.parametrize(
    ("filters", "clauses"),
    [
        ({}, ""),
        ({"phase": Phase.APHERESIS}, " AND TrialPhase = 'apheresis'"),
        ({"phase": "long_term_follow_up"}, " AND TrialPhase = 'long_term_follow_up'"),
        ({"overdue": True}, " AND Overdue = true"),
        ({"overdue": False}, " AND Overdue = false"),
        ({"expedited_report_open": True}, " AND ExpeditedReportOpen = true"),
        (
            {"phase": Phase.OFF_STUDY, "overdue": False, "expedited_report_open": True},
            " AND TrialPhase = 'off_study' AND Overdue = false AND ExpeditedReportOpen = true",
        ),
    ],
)
def test_each_filter_adds_its_clause(filters: dict[str, Any], clauses: str) -> None:
    assert journeys_query(**filters) == EVERY_JOURNEY + clauses


@pytest.mark.parametrize("phase", ["apheresis' OR TrialPhase != 'x", "Apheresis", "", "relapsed"])
def test_a_phase_that_is_not_one_of_the_protocols_is_refused(phase: str) -> None:
    with pytest.raises(ValueError, match="is not a valid Phase"):
        journeys_query(phase=phase)


@pytest.mark.parametrize("value", ["true", 1, 0, "false OR 1 = 1"])
def test_a_flag_must_be_a_boolean(value: object) -> None:
    with pytest.raises(TypeError, match="must be true or false"):
        journeys_query(overdue=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be true or false"):
        journeys_query(expedited_report_open=value)  # type: ignore[arg-type]
