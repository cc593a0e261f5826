"""Kaplan-Meier survival estimates for the trial report, fitted by lifelines (imported on first use: it brings
pandas, which every other `trial` command can do without)."""

from __future__ import annotations

from collections.abc import Sequence

from facade.models import SurvivalEstimate, SurvivalPoint


def kaplan_meier(
    days: Sequence[float], events: Sequence[bool], confidence: float, landmark_days: Sequence[int] = ()
) -> SurvivalEstimate:
    """The estimate from each patient's days of follow-up and whether it ended in the event (else censored)."""
    if len(days) != len(events):
        raise ValueError(f"{len(days)} follow-up times but {len(events)} event flags: one of each per patient")
    if any(day < 0 for day in days):
        raise ValueError("follow-up times cannot be negative")
    observed = sum(1 for e in events if e)
    if not days:
        return SurvivalEstimate(
            patients=0, events=0, censored=0, confidence=confidence, curve=(), landmarks=(), median_days=None
        )
    from lifelines import KaplanMeierFitter

    fitted = KaplanMeierFitter(alpha=1.0 - confidence).fit(list(days), event_observed=list(events))
    survival = fitted.survival_function_.iloc[:, 0]
    bounds = fitted.confidence_interval_survival_function_
    at_risk = fitted.event_table["at_risk"].reindex(survival.index, method="ffill")
    curve = tuple(
        SurvivalPoint(
            day=float(day),
            survival=_probability(survival.iloc[i]),
            ci_low=_probability(bounds.iloc[i, 0]),
            ci_high=_probability(bounds.iloc[i, 1]),
            at_risk=int(at_risk.iloc[i]),
        )
        for i, day in enumerate(survival.index)
    )
    last_day = max(days)
    landmarks = tuple(_at(curve, day) for day in landmark_days if day <= last_day)
    median = float(fitted.median_survival_time_)
    return SurvivalEstimate(
        patients=len(days),
        events=observed,
        censored=len(days) - observed,
        confidence=confidence,
        curve=curve,
        landmarks=landmarks,
        median_days=median if median != float("inf") else None,
    )


def _probability(value: float) -> float:
    return min(1.0, max(0.0, float(value)))  # rounding can step a hair outside [0, 1]


def _at(curve: Sequence[SurvivalPoint], day: int) -> SurvivalPoint:
    """The step in force on `day`; its number at risk is the step's."""
    step = max((p for p in curve if p.day <= day), key=lambda p: p.day)
    return step.model_copy(update={"day": float(day)})
