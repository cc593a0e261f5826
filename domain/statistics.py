"""Trial statistics: exact Clopper–Pearson intervals for the CR rate, and the Bayesian safety stopping rule.

Probabilities come from scipy's regularised incomplete beta function; the stopping boundary is computed from the rule.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

# The beta distribution's functions from scipy.special: the same numbers as scipy.stats.beta, without its slow
# import (every `trial` command would pay it; see docs/performance.md).
from scipy.special import betaincc, betaincinv, betaln, xlog1py, xlogy

from domain.protocol import FrozenModel, StoppingRule


def _decimal(value: float) -> str:
    """Every digit the value has, no exponent: 0.9 reads "0.9", never "0.90000000000000002"."""
    return format(Decimal(repr(float(value))), "f")


def _percent(fraction: float) -> str:
    return format((Decimal(repr(float(fraction))) * 100).normalize(), "f")


def _probability(value: float, threshold: float) -> str:
    """3 decimals, or more when rounding would make it read as the very threshold it is compared with."""
    for decimals in range(3, 17):
        text = f"{value:.{decimals}f}"
        if float(text) != threshold or value == threshold:
            return text
    return repr(value)


def _check_count(name: str, count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"{name} must be a whole number, 0 or more, got {count!r}")


def _check_counts(part_name: str, part: int, whole_name: str, whole: int) -> None:
    _check_count(part_name, part)
    _check_count(whole_name, whole)
    if part > whole:
        raise ValueError(f"{part_name} ({part}) cannot be more than {whole_name} ({whole})")


def _check_confidence(confidence: float) -> None:
    if not math.isfinite(confidence) or not 0.0 < confidence < 1.0:
        raise ValueError(f"the confidence level must be between 0 and 1 (e.g. 0.95), got {confidence!r}")


# ---------------------------------------------------------------- proportions


class ProportionEstimate(FrozenModel):
    """A rate with its exact (Clopper–Pearson) confidence interval."""

    successes: int = Field(ge=0)
    total: int = Field(ge=0)
    rate: float | None = Field(ge=0.0, le=1.0)  # None when there is nobody to count
    ci_low: float = Field(ge=0.0, le=1.0)
    ci_high: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _consistent(self) -> ProportionEstimate:
        problems: list[str] = []
        if self.successes > self.total:
            problems.append(f"{self.successes} successes cannot be more than the {self.total} counted")
        if (self.rate is None) != (self.total == 0):
            problems.append("a rate needs at least one patient counted, and patients counted need a rate")
        if self.ci_low > self.ci_high:
            problems.append("the interval's lower limit is above its upper limit")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def clopper_pearson_interval(successes: int, total: int, confidence: float) -> tuple[float, float]:
    """The exact two-sided interval from beta quantiles: lower limit 0 with no successes, upper 1 with all.

    With nobody counted nothing is known: (0, 1).
    """
    _check_counts("successes", successes, "total", total)
    _check_confidence(confidence)
    if total == 0:
        return 0.0, 1.0
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if successes == 0 else float(betaincinv(successes, total - successes + 1, tail))
    high = 1.0 if successes == total else float(betaincinv(successes + 1, total - successes, 1.0 - tail))
    return low, high


def estimate_proportion(successes: int, total: int, confidence: float) -> ProportionEstimate:
    low, high = clopper_pearson_interval(successes, total, confidence)
    return ProportionEstimate(
        successes=successes,
        total=total,
        rate=successes / total if total else None,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
    )


# ---------------------------------------------------------------- safety stopping rule


def _posteriors(patients: int, rule: StoppingRule) -> npt.NDArray[np.float64]:
    """P(rate > threshold | x toxicities in `patients`) for every x from 0 to `patients`."""
    toxicities = np.arange(patients + 1, dtype=np.float64)
    return np.asarray(
        betaincc(  # P(X > threshold) for X ~ Beta(a + x, b + n - x)
            rule.prior_alpha + toxicities,
            rule.prior_beta + (patients - toxicities),
            rule.toxicity_rate_threshold,
        ),
        dtype=np.float64,
    )


def _first_pausing(posteriors: npt.NDArray[np.float64], rule: StoppingRule) -> int | None:
    # The posterior rises with each toxicity, so the first count that pauses is the boundary.
    pausing = np.flatnonzero(posteriors > rule.posterior_probability_threshold)
    return int(pausing[0]) if pausing.size else None


def posterior_probability_rate_exceeds(toxicities: int, patients: int, rule: StoppingRule) -> float:
    """P(toxicity rate > the rule's threshold | data), the posterior being Beta(a + x, b + n - x)."""
    _check_counts("toxicities", toxicities, "patients", patients)
    return float(
        betaincc(
            rule.prior_alpha + toxicities,
            rule.prior_beta + (patients - toxicities),
            rule.toxicity_rate_threshold,
        )
    )


def stopping_boundary(max_patients: int, rule: StoppingRule) -> tuple[int | None, ...]:
    """Entry n (0 to max_patients): the fewest toxicities among n patients that pause enrollment, or None."""
    _check_count("max_patients", max_patients)
    return tuple(_first_pausing(_posteriors(n, rule), rule) for n in range(max_patients + 1))


class StoppingRuleStatus(FrozenModel):
    patients: int = Field(ge=0)
    toxicities: int = Field(ge=0)
    posterior_probability: float = Field(ge=0.0, le=1.0)
    probability_threshold: float = Field(gt=0.0, lt=1.0)
    rate_threshold: float = Field(gt=0.0, lt=1.0)
    boundary: int | None = Field(ge=0)  # the toxicity count that pauses enrollment at this many patients
    paused: bool
    explanation: str
    # The rule's prior, so the posterior can be drawn (None in answers given before it was kept).
    prior_alpha: float | None = Field(default=None, gt=0.0)
    prior_beta: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="after")
    def _consistent(self) -> StoppingRuleStatus:
        problems: list[str] = []
        if self.toxicities > self.patients:
            problems.append(f"{self.toxicities} toxicities cannot be more than the {self.patients} patients")
        if self.boundary is not None and self.boundary > self.patients:
            problems.append(f"the boundary ({self.boundary}) cannot be more than the {self.patients} patients")
        if self.paused != (self.posterior_probability > self.probability_threshold):
            problems.append("paused must mean the posterior probability is above its threshold")
        if self.paused != (self.boundary is not None and self.toxicities >= self.boundary):
            problems.append("paused must mean the toxicity count has reached the boundary")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def evaluate_stopping_rule(toxicities: int, patients: int, rule: StoppingRule) -> StoppingRuleStatus:
    """Whether enrollment pauses now, with the posterior, the boundary at this many patients and why."""
    _check_counts("toxicities", toxicities, "patients", patients)
    posteriors = _posteriors(patients, rule)
    posterior = float(posteriors[toxicities])
    boundary = _first_pausing(posteriors, rule)
    paused = posterior > rule.posterior_probability_threshold

    threshold = rule.posterior_probability_threshold
    rate = _percent(rule.toxicity_rate_threshold)
    patients_words = "1 patient" if patients == 1 else f"{patients} patients"
    counted = (
        f"{toxicities} of {patients_words} with a dose-limiting toxicity" if patients else "no patient treated yet"
    )
    probability = f"the probability that the toxicity rate exceeds {rate} % is {_probability(posterior, threshold)}"
    prior = f"prior Beta({_decimal(rule.prior_alpha)}, {_decimal(rule.prior_beta)})"
    if paused:
        explanation = f"enrollment pauses: {counted}; {probability}, above {_decimal(threshold)} ({prior})"
    else:
        if boundary is None:
            at_boundary = f"no count among {patients_words} would pause enrollment yet"
        else:
            at_boundary = f"among {patients_words}, {boundary} with a dose-limiting toxicity would pause it"
        explanation = (
            f"enrollment continues: {counted}; {probability}, not above {_decimal(threshold)} ({prior}); {at_boundary}"
        )
    return StoppingRuleStatus(
        patients=patients,
        toxicities=toxicities,
        posterior_probability=posterior,
        probability_threshold=threshold,
        rate_threshold=rule.toxicity_rate_threshold,
        boundary=boundary,
        paused=paused,
        explanation=explanation,
        prior_alpha=rule.prior_alpha,
        prior_beta=rule.prior_beta,
    )


def posterior_density(
    toxicities: int, patients: int, prior_alpha: float, prior_beta: float, rates: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """The density of the toxicity rate's posterior, Beta(a + x, b + n - x), at each of `rates` (0 to 1)."""
    _check_counts("toxicities", toxicities, "patients", patients)
    a, b = prior_alpha + toxicities, prior_beta + (patients - toxicities)
    # xlogy/xlog1py: 0 * log(0) is 0, so a flat prior's edges stay finite.
    log_density = xlogy(a - 1.0, rates) + xlog1py(b - 1.0, -rates) - betaln(a, b)
    return np.asarray(np.exp(log_density), dtype=np.float64)
