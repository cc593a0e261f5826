"""The report's secondary endpoints, checked against Kaplan-Meier values and intervals computed by hand."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from domain.journey.phases import ExitReason, Phase
from domain.journey.status_view import ExitRecord, PatientStatus
from domain.protocol import PROTOCOL_V1
from domain.statistics import estimate_proportion
from facade import build_report
from facade.survival import kaplan_meier
from tests.facade.test_report import INFUSED_ON, patient

Z95 = 1.959963984540054


def greenwood_exponential(survival: float, terms: list[tuple[int, int]]) -> tuple[float, float]:
    """The log(-log) interval by hand: V = sum d/(n(n-d)) / ln(S)^2; S^exp(+-z sqrt V)."""
    variance = sum(d / (n * (n - d)) for n, d in terms) / math.log(survival) ** 2
    spread = Z95 * math.sqrt(variance)
    return survival ** math.exp(spread), survival ** math.exp(-spread)


def test_kaplan_meier_matches_the_hand_computed_estimate() -> None:
    # Four patients: an event at day 10, censored at 20, an event at 30, censored at 40.
    estimate = kaplan_meier([10, 20, 30, 40], [True, False, True, False], 0.95, landmark_days=(15, 35, 100))
    steps = {p.day: p for p in estimate.curve}
    assert (estimate.patients, estimate.events, estimate.censored) == (4, 2, 2)
    assert steps[0.0].survival == 1.0
    assert steps[10.0].survival == pytest.approx(3 / 4)  # 1 - 1/4
    assert steps[30.0].survival == pytest.approx(3 / 4 * 1 / 2)  # two at risk at day 30, one event
    low, high = greenwood_exponential(0.75, [(4, 1)])
    assert (steps[10.0].ci_low, steps[10.0].ci_high) == (pytest.approx(low), pytest.approx(high))
    low, high = greenwood_exponential(0.375, [(4, 1), (2, 1)])
    assert (steps[30.0].ci_low, steps[30.0].ci_high) == (pytest.approx(low), pytest.approx(high))
    assert [(p.day, p.at_risk) for p in estimate.curve] == [(0.0, 4), (10.0, 4), (20.0, 3), (30.0, 2), (40.0, 1)]
    # The landmarks within follow-up: day 15 on the first step, day 35 on the second; day 100 is past it.
    assert [(p.day, p.survival) for p in estimate.landmarks] == [
        (15.0, pytest.approx(0.75)),
        (35.0, pytest.approx(0.375)),
    ]
    assert estimate.median_days == 30.0


def test_no_event_leaves_survival_at_one_and_the_median_not_reached() -> None:
    estimate = kaplan_meier([5, 50], [False, False], 0.95)
    assert {p.survival for p in estimate.curve} == {1.0}
    assert estimate.median_days is None


def test_bad_follow_up_is_refused_with_every_reason() -> None:
    with pytest.raises(ValueError, match="one of each per patient"):
        kaplan_meier([1, 2], [True], 0.95)
    with pytest.raises(ValueError, match="cannot be negative"):
        kaplan_meier([-1], [True], 0.95)


def _infused(
    number: int, *, contact: int, relapse: int | None = None, death: int | None = None, **kw: object
) -> PatientStatus:
    def day(offset: int | None) -> date | None:
        return None if offset is None else INFUSED_ON + timedelta(days=offset)

    died = day(death)
    exit = ExitRecord(reason=ExitReason.DEATH, on=died, details="") if died is not None else None
    return patient(number, Phase.OFF_STUDY if death is not None else Phase.FOLLOW_UP).model_copy(
        update={
            "relapse_on": day(relapse),
            "died_on": died,
            "exit": exit,
            "last_contact_on": day(contact),
            **kw,
        }
    )


def test_the_reports_secondary_endpoints() -> None:
    cohort = [
        # A relapse at day 60, alive at 200: an EFS event at 60, censored for OS at 200.
        _infused(1, contact=200, relapse=60, mrd_evaluation="negative", highest_crs_grade=1),
        # Died at day 100 without relapse: an event for both.
        _infused(2, contact=100, death=100, mrd_evaluation="positive", highest_crs_grade=3, highest_icans_grade=1),
        # In remission, last seen at day 300; a confirmed molecular recurrence is no EFS event.
        _infused(3, contact=300, mrd_evaluation="negative", molecular_recurrence_on=INFUSED_ON + timedelta(days=250)),
        # Seen to day 150, the MRD evaluation missed.
        _infused(4, contact=150, mrd_evaluation="not_done", highest_icans_grade=4),
        # Not yet at day 28.
        _infused(5, contact=10, mrd_evaluation="pending"),
        # Never infused: in none of them.
        patient(6, Phase.APHERESIS, infused=False, crs=4),
    ]
    secondary = build_report(cohort, PROTOCOL_V1).secondary_endpoints

    efs = {p.day: p.survival for p in secondary.event_free_survival.curve}
    # EFS: at risk 5; censored at 10 (4 left); event at 60 (4 at risk): 3/4; event at 100 (3 at risk): 3/4 * 2/3.
    assert efs[60.0] == pytest.approx(3 / 4)
    assert efs[100.0] == pytest.approx(1 / 2)
    assert secondary.event_free_survival.events == 2
    os_ = {p.day: p.survival for p in secondary.overall_survival.curve}
    # OS: the only death at day 100, with 4 at risk (censored at 10 and none else before): 3/4.
    assert os_[100.0] == pytest.approx(3 / 4) and secondary.overall_survival.events == 1
    [at_180] = secondary.overall_survival.landmarks  # 365 is past the longest follow-up (300 days)
    assert (at_180.day, at_180.survival) == (180.0, pytest.approx(3 / 4))

    assert secondary.mrd_negative_at_day_28 == estimate_proportion(2, 4, 0.95)  # pending left out
    assert secondary.crs_any_grade == estimate_proportion(2, 5, 0.95)
    assert secondary.crs_severe == estimate_proportion(1, 5, 0.95)
    assert secondary.icans_any_grade == estimate_proportion(2, 5, 0.95)
    assert secondary.icans_severe == estimate_proportion(1, 5, 0.95)
    assert secondary.severe_min_grade == 3
    assert secondary.molecular_recurrences == 1
