"""The protocol definition: one home for every number, amendable by parameters alone, validated when amended."""

from __future__ import annotations

import pytest

from domain.amendment import amend
from domain.protocol import PROTOCOL_V1, protocol_for_version


def test_a_second_version_is_built_by_changing_parameters_only() -> None:
    v2 = amend(
        PROTOCOL_V1, "2.0", infusion={"max_days_after_lymphodepletion": 10}, consent={"assent_from_age_years": 7}
    )
    assert v2.version == "2.0"
    assert v2.infusion.max_days_after_lymphodepletion == 10
    assert v2.consent.assent_from_age_years == 7
    assert v2.cell_dose == PROTOCOL_V1.cell_dose
    assert PROTOCOL_V1.infusion.max_days_after_lymphodepletion == 14  # the running version is untouched


@pytest.mark.parametrize(
    ("section", "changes", "message"),
    [
        ("cell_dose", {"min_cells_per_kg": 5e6}, "minimum <= target <= maximum"),
        ("response", {"relapse_marrow_blasts_with_one_test_percent": 30.0}, "relapse thresholds"),
        ("stopping_rule", {"posterior_probability_threshold": 1.5}, "less than 1"),
        ("nonexistent", {"x": 1}, "unknown protocol section"),
    ],
)
def test_an_amendment_that_breaks_the_protocol_is_refused(
    section: str, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        amend(PROTOCOL_V1, "9.9", **{section: changes})  # type: ignore[arg-type]


def test_unknown_versions_are_named() -> None:
    assert protocol_for_version("1.0") is PROTOCOL_V1
    with pytest.raises(ValueError, match=r"unknown protocol version '7.0'; known: 1.0"):
        protocol_for_version("7.0")


def test_the_protocols_worked_numbers_are_its_defaults() -> None:
    p = PROTOCOL_V1
    assert (p.lymphodepletion.fludarabine.mg_per_m2_per_day, p.lymphodepletion.fludarabine.days) == (30, 4)
    assert (p.lymphodepletion.cyclophosphamide.mg_per_m2_per_day, p.lymphodepletion.cyclophosphamide.days) == (500, 2)
    assert (p.cell_dose.min_cells_per_kg, p.cell_dose.target_cells_per_kg, p.cell_dose.max_cells_per_kg) == (
        2e6,
        3e6,
        4e6,
    )
    assert (p.infusion.min_days_after_lymphodepletion, p.infusion.max_days_after_lymphodepletion) == (2, 14)
    assert p.safety.expedited_report_hours == 24
    assert (p.stopping_rule.prior_alpha, p.stopping_rule.prior_beta) == (0.4, 1.6)
    assert p.response.mrd_negative_below_percent == 0.01


def test_an_amendment_whose_visit_windows_would_overlap_is_refused() -> None:
    series = list(PROTOCOL_V1.schedule.follow_up_series)
    series[1] = series[1].model_copy(update={"window_days": 20})  # monthly +-20 days: month 2 meets month 3
    with pytest.raises(ValueError, match="the amended visit schedule is unsafe"):
        amend(PROTOCOL_V1, "9.8", schedule={"follow_up_series": [s.model_dump() for s in series]})
