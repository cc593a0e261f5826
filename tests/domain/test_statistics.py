"""Clopper–Pearson intervals against published values; the Bayesian stopping rule checked by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from scipy import integrate, special
from scipy.stats import beta, binom

from domain.amendment import amend
from domain.protocol import PROTOCOL_V1, StoppingRule
from domain.statistics import (
    ProportionEstimate,
    StoppingRuleStatus,
    clopper_pearson_interval,
    estimate_proportion,
    evaluate_stopping_rule,
    posterior_density,
    posterior_probability_rate_exceeds,
    stopping_boundary,
)

CONFIDENCE = PROTOCOL_V1.response.confidence_level
RULE = PROTOCOL_V1.stopping_rule
INFINITY = math.inf


# ---------------------------------------------------------------- Clopper–Pearson


@pytest.mark.parametrize(
    ("successes", "total", "low", "high"),
    [
        # Published exact 95 % limits (e.g. Geigy tables; Newcombe 1998). 0/10: 1 - 0.025^(1/10) = 0.3085.
        (0, 10, 0.0, 0.3085),
        (10, 10, 0.6915, 1.0),
        (5, 10, 0.1871, 0.8129),
        (7, 20, 0.1539, 0.5922),
        (1, 1, 0.0250, 1.0),
        (0, 1, 0.0, 0.9750),
    ],
)
def test_clopper_pearson_published_values(successes: int, total: int, low: float, high: float) -> None:
    got_low, got_high = clopper_pearson_interval(successes, total, CONFIDENCE)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


@pytest.mark.parametrize("total", [1, 2, 5, 10, 23, 50, 200])
def test_clopper_pearson_closed_forms_at_the_edges(total: int) -> None:
    # With no successes the upper limit solves (1 - p)^n = alpha/2; with all, the lower solves p^n = alpha/2.
    tail = (1 - CONFIDENCE) / 2
    low, high = clopper_pearson_interval(0, total, CONFIDENCE)
    assert low == 0.0
    assert high == pytest.approx(1 - tail ** (1 / total), rel=1e-9)
    low, high = clopper_pearson_interval(total, total, CONFIDENCE)
    assert high == 1.0
    assert low == pytest.approx(tail ** (1 / total), rel=1e-9)


def test_clopper_pearson_with_nobody_counted_knows_nothing() -> None:
    assert clopper_pearson_interval(0, 0, CONFIDENCE) == (0.0, 1.0)
    estimate = estimate_proportion(0, 0, CONFIDENCE)
    assert estimate.rate is None
    assert (estimate.ci_low, estimate.ci_high) == (0.0, 1.0)


def test_estimate_proportion_carries_the_rate_and_its_interval() -> None:
    estimate = estimate_proportion(7, 20, CONFIDENCE)
    assert estimate.successes == 7
    assert estimate.total == 20
    assert estimate.rate == 0.35
    assert estimate.ci_low == pytest.approx(0.1539, abs=5e-5)
    assert estimate.ci_high == pytest.approx(0.5922, abs=5e-5)
    assert estimate.confidence == CONFIDENCE


@pytest.mark.parametrize(
    ("successes", "total", "confidence", "message"),
    [
        (11, 10, 0.95, r"successes \(11\) cannot be more than total \(10\)"),
        (-1, 10, 0.95, "successes must be a whole number"),
        (1, -1, 0.95, "total must be a whole number"),
        (True, 10, 0.95, "successes must be a whole number"),
        (1, 10, 0.0, "confidence level must be between 0 and 1"),
        (1, 10, 1.0, "confidence level must be between 0 and 1"),
        (1, 10, 95.0, "confidence level must be between 0 and 1"),
        (1, 10, math.nan, "confidence level must be between 0 and 1"),
    ],
)
def test_clopper_pearson_refuses_bad_input(successes: int, total: int, confidence: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clopper_pearson_interval(successes, total, confidence)


@pytest.mark.parametrize(
    "values",
    [
        {"successes": 11, "total": 10, "rate": 1.0, "ci_low": 0.5, "ci_high": 1.0, "confidence": 0.95},
        {"successes": 1, "total": 10, "rate": None, "ci_low": 0.0, "ci_high": 0.5, "confidence": 0.95},
        {"successes": 0, "total": 0, "rate": 0.0, "ci_low": 0.0, "ci_high": 1.0, "confidence": 0.95},
        {"successes": 1, "total": 10, "rate": 0.1, "ci_low": 0.5, "ci_high": 0.2, "confidence": 0.95},
        {"successes": 1, "total": 10, "rate": 0.1, "ci_low": 0.0, "ci_high": 0.5, "confidence": 1.0},
    ],
)
def test_proportion_estimate_refuses_inconsistent_values(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ProportionEstimate.model_validate(values)


counts = st.integers(min_value=0, max_value=300).flatmap(
    lambda total: st.tuples(st.integers(min_value=0, max_value=total), st.just(total))
)
confidences = st.floats(min_value=0.5, max_value=0.999)


@given(counts=counts, confidence=confidences)
def test_interval_holds_the_point_estimate(counts: tuple[int, int], confidence: float) -> None:
    successes, total = counts
    estimate = estimate_proportion(successes, total, confidence)
    assert 0.0 <= estimate.ci_low <= estimate.ci_high <= 1.0
    if estimate.rate is not None:
        assert estimate.ci_low <= estimate.rate <= estimate.ci_high


ROUNDING = 1e-12


@given(counts=counts, first=confidences, second=confidences)
def test_interval_widens_as_confidence_rises(counts: tuple[int, int], first: float, second: float) -> None:
    lower, higher = sorted((first, second))
    narrow = clopper_pearson_interval(*counts, lower)
    wide = clopper_pearson_interval(*counts, higher)
    # Up to the root finder's last bit: two nearly equal confidences may swap limits by one ulp (seen once).
    assert wide[0] <= narrow[0] + ROUNDING
    assert wide[1] >= narrow[1] - ROUNDING


@given(counts=counts, confidence=confidences)
def test_interval_limits_solve_the_binomial_tails(counts: tuple[int, int], confidence: float) -> None:
    # The definition itself: at the lower limit P(X >= x) = alpha/2, at the upper P(X <= x) = alpha/2.
    successes, total = counts
    tail = (1 - confidence) / 2
    low, high = clopper_pearson_interval(successes, total, confidence)
    if successes > 0:
        assert binom.sf(successes - 1, total, low) == pytest.approx(tail, rel=1e-6, abs=1e-12)
    if total > 0 and successes < total:
        assert binom.cdf(successes, total, high) == pytest.approx(tail, rel=1e-6, abs=1e-12)


@given(counts=counts, confidence=confidences)
def test_interval_is_symmetric_in_successes_and_failures(counts: tuple[int, int], confidence: float) -> None:
    successes, total = counts
    low, high = clopper_pearson_interval(successes, total, confidence)
    mirror_low, mirror_high = clopper_pearson_interval(total - successes, total, confidence)
    assert low == pytest.approx(1 - mirror_high, abs=1e-12)
    assert high == pytest.approx(1 - mirror_low, abs=1e-12)


# ---------------------------------------------------------------- stopping rule


def posterior_by_integration(a: float, b: float, threshold: float) -> float:
    """P(p > threshold) for p ~ Beta(a, b) by integrating the density: independent of scipy's betainc."""
    area, _ = integrate.quad(lambda p: p ** (a - 1) * (1 - p) ** (b - 1), threshold, 1.0, epsabs=1e-13)
    return float(area / special.beta(a, b))


@pytest.mark.parametrize(
    ("toxicities", "patients", "posterior_a", "posterior_b", "paused"),
    [
        # Prior Beta(0.4, 1.6): 2 of 3 -> Beta(2.4, 2.6); 3 of 10 -> Beta(3.4, 8.6).
        (2, 3, 2.4, 2.6, True),
        (3, 10, 3.4, 8.6, False),
        (1, 1, 1.4, 1.6, False),
        (4, 10, 4.4, 7.6, False),
        (5, 10, 5.4, 6.6, True),
        (0, 0, 0.4, 1.6, False),
    ],
)
def test_posterior_by_hand(
    toxicities: int, patients: int, posterior_a: float, posterior_b: float, paused: bool
) -> None:
    by_hand = beta.sf(0.20, posterior_a, posterior_b)
    assert by_hand == pytest.approx(posterior_by_integration(posterior_a, posterior_b, 0.20), abs=1e-9)
    assert posterior_probability_rate_exceeds(toxicities, patients, RULE) == pytest.approx(by_hand, rel=1e-12)
    status = evaluate_stopping_rule(toxicities, patients, RULE)
    assert status.posterior_probability == pytest.approx(by_hand, rel=1e-12)
    assert status.paused is paused
    assert status.paused is bool(by_hand > 0.90)


def test_two_of_three_pauses_and_three_of_ten_does_not() -> None:
    assert posterior_probability_rate_exceeds(2, 3, RULE) == pytest.approx(0.9071, abs=5e-5)
    assert posterior_probability_rate_exceeds(3, 10, RULE) == pytest.approx(0.7195, abs=5e-5)
    status = evaluate_stopping_rule(2, 3, RULE)
    assert status == StoppingRuleStatus(
        patients=3,
        toxicities=2,
        posterior_probability=status.posterior_probability,
        probability_threshold=0.9,
        rate_threshold=0.2,
        boundary=2,
        paused=True,
        explanation=(
            "enrollment pauses: 2 of 3 patients with a dose-limiting toxicity; the probability that the "
            "toxicity rate exceeds 20 % is 0.907, above 0.9 (prior Beta(0.4, 1.6))"
        ),
        prior_alpha=0.4,
        prior_beta=1.6,
    )
    assert evaluate_stopping_rule(3, 10, RULE).explanation == (
        "enrollment continues: 3 of 10 patients with a dose-limiting toxicity; the probability that the "
        "toxicity rate exceeds 20 % is 0.719, not above 0.9 (prior Beta(0.4, 1.6)); among 10 patients, "
        "5 with a dose-limiting toxicity would pause it"
    )


def test_explanation_never_rounds_the_posterior_onto_its_threshold() -> None:
    # 2 of 3 gives 0.90714: against a threshold of 0.907, "0.907, above 0.907" would contradict itself.
    rule = StoppingRule(posterior_probability_threshold=0.907)
    assert "is 0.9071, above 0.907" in evaluate_stopping_rule(2, 3, rule).explanation


def test_explanation_with_no_boundary_yet() -> None:
    status = evaluate_stopping_rule(1, 1, RULE)
    assert status.boundary is None
    assert status.explanation.endswith("no count among 1 patient would pause enrollment yet")
    assert evaluate_stopping_rule(0, 0, RULE).explanation.startswith("enrollment continues: no patient treated yet")


def test_default_boundary_for_1_to_20_patients() -> None:
    # Each entry was checked by integration below; the code computes it, this only records it.
    expected = (None, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7)
    assert stopping_boundary(20, RULE)[1:] == expected
    for patients, boundary in enumerate(expected, start=1):
        if boundary is not None:
            a, b = 0.4 + boundary, 1.6 + patients - boundary
            assert posterior_by_integration(a, b, 0.20) > 0.90
        below = patients if boundary is None else boundary - 1
        assert posterior_by_integration(0.4 + below, 1.6 + patients - below, 0.20) <= 0.90


def boundary_properties(rule: StoppingRule, max_patients: int) -> None:
    boundaries = stopping_boundary(max_patients, rule)
    assert len(boundaries) == max_patients + 1
    for patients, boundary in enumerate(boundaries):
        if boundary is None:
            assert posterior_probability_rate_exceeds(patients, patients, rule) <= rule.posterior_probability_threshold
            continue
        assert 0 <= boundary <= patients
        assert posterior_probability_rate_exceeds(boundary, patients, rule) > rule.posterior_probability_threshold
        if boundary > 0:
            below = posterior_probability_rate_exceeds(boundary - 1, patients, rule)
            assert below <= rule.posterior_probability_threshold
    for earlier, later in itertools.pairwise(boundaries):
        # None (even all patients would not pause) may give way to a count as patients accrue; once there is
        # a boundary, one more patient without toxicity never lowers it, and one more with it never raises it
        # by more than one.
        if earlier is not None:
            assert later is not None
            assert earlier <= later <= earlier + 1


def test_default_boundary_is_monotone_and_exact() -> None:
    boundary_properties(RULE, 60)


@given(
    prior_alpha=st.floats(min_value=0.1, max_value=5.0),
    prior_beta=st.floats(min_value=0.1, max_value=10.0),
    rate=st.floats(min_value=0.05, max_value=0.6),
    probability=st.floats(min_value=0.5, max_value=0.99),
)
def test_boundary_is_monotone_and_exact_under_any_rule(
    prior_alpha: float, prior_beta: float, rate: float, probability: float
) -> None:
    rule = StoppingRule(
        prior_alpha=prior_alpha,
        prior_beta=prior_beta,
        toxicity_rate_threshold=rate,
        posterior_probability_threshold=probability,
    )
    boundary_properties(rule, 25)


@given(counts=st.integers(min_value=0, max_value=40).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_status_agrees_with_the_boundary(counts: tuple[int, int]) -> None:
    toxicities, patients = counts
    status = evaluate_stopping_rule(toxicities, patients, RULE)
    boundary = stopping_boundary(patients, RULE)[patients]
    assert status.boundary == boundary
    assert status.paused is (boundary is not None and toxicities >= boundary)
    assert status.posterior_probability == posterior_probability_rate_exceeds(toxicities, patients, RULE)


def as_numbers(boundaries: tuple[int | None, ...]) -> list[float]:
    return [INFINITY if b is None else b for b in boundaries]


@pytest.mark.parametrize(
    "stricter",
    [
        {"posterior_probability_threshold": 0.80},
        {"toxicity_rate_threshold": 0.15},
        {"prior_alpha": 1.0, "prior_beta": 1.0},  # a prior expecting more toxicity
    ],
)
def test_stricter_amendment_pauses_sooner(stricter: dict[str, float]) -> None:
    amended = amend(PROTOCOL_V1, "1.1", stopping_rule=stricter).stopping_rule
    default = as_numbers(stopping_boundary(30, RULE))
    strict = as_numbers(stopping_boundary(30, amended))
    assert all(s <= d for s, d in zip(strict, default, strict=True))
    assert any(s < d for s, d in zip(strict, default, strict=True))


def test_looser_amendment_pauses_later() -> None:
    amended = amend(PROTOCOL_V1, "1.1", stopping_rule={"posterior_probability_threshold": 0.95}).stopping_rule
    default = as_numbers(stopping_boundary(30, RULE))
    loose = as_numbers(stopping_boundary(30, amended))
    assert all(s >= d for s, d in zip(loose, default, strict=True))
    assert any(s > d for s, d in zip(loose, default, strict=True))
    # 2 of 3 pauses under the default rule but not under the looser one.
    assert evaluate_stopping_rule(2, 3, RULE).paused
    assert not evaluate_stopping_rule(2, 3, amended).paused


@pytest.mark.parametrize(
    ("toxicities", "patients", "message"),
    [
        (4, 3, r"toxicities \(4\) cannot be more than patients \(3\)"),
        (-1, 3, "toxicities must be a whole number"),
        (0, -1, "patients must be a whole number"),
    ],
)
def test_stopping_rule_refuses_bad_counts(toxicities: int, patients: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        posterior_probability_rate_exceeds(toxicities, patients, RULE)
    with pytest.raises(ValueError, match=message):
        evaluate_stopping_rule(toxicities, patients, RULE)


def test_stopping_boundary_refuses_a_negative_size() -> None:
    with pytest.raises(ValueError, match="max_patients must be a whole number"):
        stopping_boundary(-1, RULE)
    assert stopping_boundary(0, RULE) == (None,)


@pytest.mark.parametrize(
    "changes",
    [
        {"paused": False},  # the posterior is above its threshold
        {"boundary": 3},  # 2 toxicities have not reached a boundary of 3, yet it says paused
        {"toxicities": 4},
        {"boundary": 4},
    ],
)
def test_stopping_rule_status_refuses_inconsistent_values(changes: dict[str, object]) -> None:
    values = evaluate_stopping_rule(2, 3, RULE).model_dump()
    values.update(changes)
    with pytest.raises(ValidationError):
        StoppingRuleStatus.model_validate(values)


def test_the_posterior_density_is_the_beta_density_and_integrates_to_one() -> None:
    rule = PROTOCOL_V1.stopping_rule
    rates = np.linspace(0.0, 1.0, 20001)
    density = posterior_density(2, 7, rule.prior_alpha, rule.prior_beta, rates)
    expected = beta.pdf(rates[1:-1], rule.prior_alpha + 2, rule.prior_beta + 5)
    assert density[1:-1] == pytest.approx(expected)
    assert np.all(np.isfinite(density))
    assert np.trapezoid(density, rates) == pytest.approx(1.0, abs=1e-3)
    # Its upper tail is the posterior probability the rule compares with its threshold.
    above = rates > rule.toxicity_rate_threshold
    tail = np.trapezoid(density[above], rates[above])
    assert tail == pytest.approx(posterior_probability_rate_exceeds(2, 7, rule), abs=2e-3)
    status = evaluate_stopping_rule(2, 7, rule)
    assert (status.prior_alpha, status.prior_beta) == (rule.prior_alpha, rule.prior_beta)
