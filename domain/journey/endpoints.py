"""Each patient's share of the trial's endpoints: the one-year response (primary), the day-28 MRD evaluation, and
the dates survival is measured by. The trial report counts these; supervisors see them in the patient's status."""

from __future__ import annotations

from datetime import date

from domain.journey.calendar import EFFICACY_ITEMS, MRD_CODE, find_item, primary_endpoint_visit, scheduled_items
from domain.journey.phases import ExitReason
from domain.journey.state import DiseaseAssessmentRecord, JourneyState
from domain.journey.status_view import MrdEvaluation, PrimaryEndpoint
from domain.protocol import TrialProtocol
from domain.response import ResponseCategory


def one_year_marrow(state: JourneyState, protocol: TrialProtocol) -> DiseaseAssessmentRecord | None:
    """The one-year response assessment: the latest current one in its window, else the first after the window
    closed and before the next visit's opens (still evaluable; the late visit is a deviation). An earlier or a
    later marrow belongs to another visit."""
    visit = primary_endpoint_visit(state, protocol)
    if visit is None:
        return None
    current = [a for a in state.disease_assessments if a.superseded_by is None]
    in_window = [a for a in current if visit.window_opens <= a.assessed_on <= visit.window_closes]
    if in_window:
        return max(in_window, key=lambda a: (a.assessed_on, a.sequence))
    later_visits = [
        i.window_opens
        for i in scheduled_items(state, protocol)
        if i.code not in EFFICACY_ITEMS and i.target_date > visit.target_date
    ]
    next_opens = min(later_visits, default=date.max)
    late = [a for a in current if visit.window_closes < a.assessed_on < next_opens]
    return min(late, key=lambda a: (a.assessed_on, a.sequence)) if late else None


def one_year_marrow_deviation(state: JourneyState, protocol: TrialProtocol) -> str | None:
    """The deviation a one-year marrow outside its window is, in words; None when in its window or not done."""
    visit = primary_endpoint_visit(state, protocol)
    marrow = one_year_marrow(state, protocol)
    if visit is None or marrow is None or marrow.assessed_on <= visit.window_closes:
        return None
    return (
        f"one-year response assessment on {marrow.assessed_on.isoformat()}, outside its window "
        f"({visit.window_opens.isoformat()} to {visit.window_closes.isoformat()}): evaluable, a protocol deviation"
    )


def primary_endpoint(state: JourneyState, protocol: TrialProtocol, today: date) -> PrimaryEndpoint:
    """CR sustained at the one-year assessment, for every enrolled patient (intention to treat): relapses, deaths
    and departures, before infusion too, are failures. A patient never enrolled is not evaluable."""
    if state.infusion is None:
        if not state.eligibility_confirmed:
            return "not_evaluable"
        return "not_cr" if state.exit is not None else "pending"
    visit = primary_endpoint_visit(state, protocol)
    if visit is None:  # an amended schedule without that visit: assess on the anniversary itself
        return "pending"
    marrow = one_year_marrow(state, protocol)
    assessed_by = marrow.assessed_on if marrow is not None else visit.window_closes
    if state.relapse is not None and state.relapse.diagnosed_on <= assessed_by:
        return "not_cr"
    if marrow is not None:
        return "cr" if marrow.category is ResponseCategory.CR else "not_cr"
    if state.exit is not None and state.exit.on <= visit.window_closes:
        return "not_cr"
    return "not_cr" if today > visit.window_closes else "pending"


def mrd_evaluation(state: JourneyState, protocol: TrialProtocol) -> MrdEvaluation | None:
    """The day-28 MRD evaluation's result; "not_done" when it was missed or a relapse or an exit came first.
    None before infusion."""
    if state.infusion is None:
        return None
    record = state.item(MRD_CODE)
    if record.done_sequence is not None:
        done = next((a for a in state.disease_assessments if a.sequence == record.done_sequence), None)
        if done is not None and done.mrd_negative is not None:
            return "negative" if done.mrd_negative else "positive"
    gone = state.relapse is not None or state.exit is not None
    if record.missed or gone or find_item(state, protocol, MRD_CODE) is None:
        return "not_done"
    return "pending"


def died_on(state: JourneyState) -> date | None:
    return state.exit.on if state.exit is not None and state.exit.reason is ExitReason.DEATH else None


def last_contact_on(state: JourneyState) -> date | None:
    """The last day the patient was seen or heard of after infusion: what survival is censored at. None before
    infusion."""
    if state.infusion is None:
        return None
    days = [state.infusion.day_zero]
    days += [r.done_on for r in state.scheduled.values() if r.done_on is not None]
    days += [a.assessed_on for a in state.disease_assessments if a.superseded_by is None]
    if state.relapse is not None:
        days.append(state.relapse.diagnosed_on)
    if state.chemotherapy is not None:
        days.append(state.chemotherapy.resumed_on)
    if state.exit is not None:  # a death, the last contact of a patient lost, a withdrawal: all heard of
        days.append(state.exit.on)
    return max(days)
