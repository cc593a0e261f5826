"""The patient's scheduled items after infusion and the start of each follow-up era, from the protocol."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from domain.journey.phases import Phase
from domain.journey.state import JourneyState
from domain.protocol import ScheduleRules, TrialProtocol
from domain.roles import Role
from domain.schedule import (
    CHEMOTHERAPY_RESUMPTION_CODE,
    MRD_EVALUATION_CODE,
    SECOND_MRD_EVALUATION_CODE,
    ScheduledVisit,
    chemotherapy_resumption_visit,
    efficacy_follow_up_end,
    follow_up_calendar,
    mrd_evaluation_visit,
    second_mrd_evaluation_visit,
)

MRD_CODE = MRD_EVALUATION_CODE
MRD2_CODE = SECOND_MRD_EVALUATION_CODE
# The marrow MRD assessments a disease assessment fulfils, in the order it fulfils them.
MRD_CODES = (MRD_CODE, MRD2_CODE)
CHEMO_CODE = CHEMOTHERAPY_RESUMPTION_CODE
EFFICACY_ITEMS = frozenset({*MRD_CODES, CHEMO_CODE})
# Who acts on a scheduled item; the research coordinator for every follow-up visit.
ITEM_ROLES = {MRD_CODE: Role.LABORATORY, MRD2_CODE: Role.LABORATORY, CHEMO_CODE: Role.PHYSICIAN}


def scheduled_items(state: JourneyState, protocol: TrialProtocol) -> tuple[ScheduledVisit, ...]:
    """Every item the patient is scheduled for, sorted by target date; none before infusion.

    After a relapse, MRD evaluation and chemotherapy resumption no longer apply (unless done); visits go on.
    """
    if state.infusion is None:
        return ()
    items = _calendar_from(state.infusion.day_zero, protocol.schedule)
    if state.relapse is not None:
        items = tuple(i for i in items if i.code not in EFFICACY_ITEMS or state.item(i.code).done_on is not None)
    return items


@lru_cache(maxsize=256)  # see follow_up_calendar: asked for at every step, the same for a patient's whole journey
def _calendar_from(day_zero: date, rules: ScheduleRules) -> tuple[ScheduledVisit, ...]:
    second_mrd = second_mrd_evaluation_visit(day_zero, rules)
    items = [
        *follow_up_calendar(day_zero, rules),
        mrd_evaluation_visit(day_zero, rules),
        *([second_mrd] if second_mrd is not None else []),
        chemotherapy_resumption_visit(day_zero, rules),
    ]
    return tuple(sorted(items, key=lambda i: (i.target_date, i.code)))


def find_item(state: JourneyState, protocol: TrialProtocol, code: str) -> ScheduledVisit | None:
    return next((i for i in scheduled_items(state, protocol) if i.code == code), None)


def primary_endpoint_visit(state: JourneyState, protocol: TrialProtocol) -> ScheduledVisit | None:
    """The one-year response assessment's visit (the primary endpoint's); None before infusion or when an amended
    schedule has no visit at that month."""
    return find_item(state, protocol, f"M{protocol.response.primary_endpoint_months}")


def era_start_dates(day_zero: date, protocol: TrialProtocol) -> dict[Phase, date]:
    """The site date each follow-up era begins on."""
    rules = protocol.schedule
    first_series = rules.follow_up_series[0].name
    first_series_closes = max(v.window_closes for v in follow_up_calendar(day_zero, rules) if v.series == first_series)
    return {
        Phase.TOXICITY_OBSERVATION: day_zero,
        Phase.EARLY_FOLLOW_UP: day_zero + timedelta(days=protocol.safety.daily_toxicity_assessment_until_day + 1),
        Phase.FOLLOW_UP: first_series_closes + timedelta(days=1),
        Phase.LONG_TERM_FOLLOW_UP: efficacy_follow_up_end(day_zero, rules) + timedelta(days=1),
    }
