"""`trial report --plot DIR`: the Kaplan-Meier curves and the stopping rule's posterior as PNG images.

matplotlib (Agg: no display needed) is imported only when plots are asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from domain.statistics import posterior_density
from facade import TrialReport
from facade.models import SurvivalEstimate

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SURVIVAL_FILES = {"event_free_survival": "Event-free survival", "overall_survival": "Overall survival"}
POSTERIOR_FILE = "stopping_rule_posterior"


def write_report_plots(report: TrialReport, directory: Path) -> list[Path]:
    """One PNG per survival curve and one of the posterior, in `directory` (made if missing); their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    secondary = report.secondary_endpoints
    for name, title in SURVIVAL_FILES.items():
        estimate: SurvivalEstimate = getattr(secondary, name)
        figure, axes = plt.subplots(figsize=(7, 4.5))
        _survival(axes, estimate, title)
        written.append(_save(figure, directory / f"{name}.png"))
        plt.close(figure)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    _posterior(axes, report)
    written.append(_save(figure, directory / f"{POSTERIOR_FILE}.png"))
    plt.close(figure)
    return written


def _save(figure: object, path: Path) -> Path:
    figure.savefig(path, dpi=100)  # type: ignore[attr-defined]  # a matplotlib Figure
    return path


def _survival(axes: Axes, estimate: SurvivalEstimate, title: str) -> None:
    axes.set_title(f"{title} from infusion (Kaplan-Meier, {estimate.confidence:.0%} CI)")
    axes.set_xlabel("days after infusion")
    axes.set_ylabel("probability")
    axes.set_ylim(0.0, 1.05)
    if not estimate.curve:
        axes.text(0.5, 0.5, "no patient infused yet", ha="center", va="center", transform=axes.transAxes)
        return
    days = [p.day for p in estimate.curve]
    axes.step(days, [p.survival for p in estimate.curve], where="post", label="estimate")
    axes.fill_between(
        days,
        [p.ci_low for p in estimate.curve],
        [p.ci_high for p in estimate.curve],
        step="post",
        alpha=0.25,
        label="confidence interval",
    )
    axes.legend(loc="lower left", title=f"{estimate.events} events, {estimate.censored} censored")


def _posterior(axes: Axes, report: TrialReport) -> None:
    rule = report.stopping_rule
    axes.set_xlabel("dose-limiting toxicity rate")
    if rule.prior_alpha is None or rule.prior_beta is None:  # an API older than this `trial`
        axes.text(0.5, 0.5, "the report carries no prior to draw", ha="center", va="center", transform=axes.transAxes)
        return
    rates = np.linspace(0.0, 1.0, 501)
    density = posterior_density(rule.toxicities, rule.patients, rule.prior_alpha, rule.prior_beta, rates)
    visible = np.isfinite(density)
    axes.plot(rates[visible], density[visible], label="posterior density")
    above = visible & (rates > rule.rate_threshold)
    axes.fill_between(
        rates[above],
        density[above],
        alpha=0.3,
        label=f"P(rate > {rule.rate_threshold:.0%}) = {rule.posterior_probability:.3f}",
    )
    axes.axvline(rule.rate_threshold, linestyle="--", color="grey")
    status = "PAUSED" if rule.paused else "continues"
    axes.set_title(
        f"Stopping rule: {rule.toxicities} of {rule.patients} with a DLT; enrollment {status} "
        f"(pauses above {rule.probability_threshold:g})"
    )
    axes.set_ylabel("density")
    axes.legend(loc="upper right")
