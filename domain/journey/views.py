"""What supervisors and staff see of a patient: where they stand, what is due, what is late. No PHI."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain.dosing import ProductClassification
from domain.journey.calendar import ITEM_ROLES, scheduled_items
from domain.journey.custody import AFTER_RELEASE, STEP_WORDS
from domain.journey.daily_monitoring import (
    ASSESSMENT_WORDS,
    daily_code,
    day_status,
    monitoring_date,
    monitoring_days,
    next_check_day,
    outstanding_missed,
    recorded_missed,
    unassessed,
)
from domain.journey.endpoints import (
    died_on,
    last_contact_on,
    mrd_evaluation,
    one_year_marrow_deviation,
    primary_endpoint,
)
from domain.journey.phases import Phase
from domain.journey.state import GradedAssessment, JourneyState
from domain.journey.status_view import (
    CustodyView,
    DailyMonitoringDay,
    DueItem,
    GradingView,
    PatientStatus,
    ReportView,
    VisitView,
)
from domain.protocol import ScheduleRules, TrialProtocol
from domain.roles import Role
from domain.schedule import VisitStatus, visit_status
from domain.site_time import site_date, site_moment
from domain.slots import no_slot_words


def worst_grading(assessments: tuple[GradedAssessment, ...]) -> GradingView | None:
    """The current entry with the highest grade (the latest of equals); None before any."""
    current = [a for a in assessments if a.superseded_by is None]
    if not current:
        return None
    worst = max(current, key=lambda a: (a.grade, a.assessed_at, a.sequence))
    return GradingView(sequence=worst.sequence, assessed_at=worst.assessed_at, grade=worst.grade, reasons=worst.reasons)


def custody_view(state: JourneyState) -> CustodyView | None:
    """The cells' last hand-off: the infusion, a recorded hand-off, the release or the collection, latest first."""
    if state.infusion is not None:
        return CustodyView(step="infused", where=STEP_WORDS["infused"], since=state.infusion.infused_at)
    if not state.collections:
        return None
    latest = state.current_custody[-1] if state.current_custody else None
    if latest is not None and (state.product is None or latest.step in AFTER_RELEASE):
        hold = None
        received = state.custody_step("received_at_site")
        if received is not None and received.excursion and state.excursion_decision != "release_as_deviation":
            decided = "rejected by the cell lab" if state.excursion_decision else "awaiting the cell lab's decision"
            hold = f"temperature excursion ({received.logger_max_temperature_c:g} °C): {decided}"
        return CustodyView(step=latest.step, where=STEP_WORDS[latest.step], since=latest.at, hold=hold)
    if state.product is not None:
        return CustodyView(step="released", where=STEP_WORDS["released"], since=state.product.released_on)
    collected = state.collections[-1]
    return CustodyView(step="collected", where=STEP_WORDS["collected"], since=collected.collected_on)


def has_dose_limiting_toxicity(state: JourneyState, protocol: TrialProtocol) -> bool:
    rule = protocol.stopping_rule
    return (
        state.highest_crs_grade >= rule.dlt_min_crs_grade
        or state.highest_icans_grade >= rule.dlt_min_icans_grade
        or state.treatment_related_death
    )


def dlt_window_ends_at(state: JourneyState, protocol: TrialProtocol) -> datetime | None:
    """When the DLT observation window after the infusion ends (the stopping rule's evaluability)."""
    if state.infusion is None:
        return None
    return state.infusion.infused_at + timedelta(days=protocol.stopping_rule.dlt_observation_window_days)


def due_items(state: JourneyState, protocol: TrialProtocol, now: datetime) -> list[DueItem]:
    today = site_date(now, protocol.schedule)
    items = _treatment_items(state, today) + _daily_due(state, protocol, today) + _scheduled_due(state, protocol, today)
    for report in state.open_expedited_reports:
        items.append(
            DueItem(
                code=report.report_id,
                what="expedited safety report to the sponsor: " + "; ".join(report.reasons),
                responsible=Role.INVESTIGATOR,
                due_on=site_date(report.due_at, protocol.schedule),
                overdue=report.overdue or now >= report.due_at,
            )
        )
    return sorted(items, key=lambda i: i.due_on or today)  # stable: the protocol order among equals


def next_due(due: list[DueItem]) -> DueItem | None:
    """The first of `due_items` with a date (the first of all when none has one)."""
    return next((i for i in due if i.due_on is not None), due[0] if due else None)


def any_overdue(due: list[DueItem]) -> bool:
    return any(i.overdue for i in due)


def next_due_moment(item: DueItem | None, rules: ScheduleRules) -> datetime | None:
    """The NextDueDate supervisors search on: midnight at the site on the item's day."""
    return site_moment(item.due_on, 0, rules) if item is not None and item.due_on is not None else None


def _treatment_items(state: JourneyState, today: date) -> list[DueItem]:
    phase = state.phase
    simple = {
        Phase.SCREENING: ("ELIGIBILITY", "confirm eligibility", Role.INVESTIGATOR),
        Phase.CONSENT: ("CONSENT", "record the guardian's consent and the child's assent", Role.INVESTIGATOR),
        Phase.APHERESIS: ("APHERESIS", "collect the patient's lymphocytes", Role.APHERESIS_UNIT),
        Phase.MANUFACTURING: ("PRODUCT", "release or fail the CAR-T product", Role.CELL_LAB),
    }
    if phase in simple:
        code, what, role = simple[phase]
        return [DueItem(code=code, what=what, responsible=role)]
    items: list[DueItem] = []
    plan = state.lymphodepletion
    if phase is Phase.LYMPHODEPLETION and plan is None:
        items.append(DueItem(code="LD-PLAN", what="prescribe lymphodepletion", responsible=Role.PHYSICIAN))
    if phase is Phase.LYMPHODEPLETION and plan is not None:
        for drug, days in plan.days.items():
            for day in range(1, days + 1):
                if state.dose_given(drug, day) is None:
                    due_on = plan.planned_start_on + timedelta(days=day - 1)
                    items.append(
                        DueItem(
                            code=f"LD-{drug[:3].upper()}-{day}",
                            what=f"give {drug} day {day}: {plan.daily_dose_mg[drug]:g} mg",
                            responsible=Role.PHARMACY,
                            due_on=due_on,
                            overdue=today > due_on,
                        )
                    )
    if (
        phase in (Phase.LYMPHODEPLETION, Phase.INFUSION)
        and plan is not None
        and plan.product.classification is ProductClassification.BELOW_MINIMUM
        and state.out_of_spec_decision is None
    ):
        items.append(
            DueItem(
                code="PRODUCT-DECISION",
                what="the product is below the minimum dose: infuse as a deviation or re-manufacture",
                responsible=Role.INVESTIGATOR,
            )
        )
    completed = state.lymphodepletion_completed
    if phase is Phase.INFUSION and completed is not None:
        items.append(
            DueItem(
                code="INFUSION",
                what="infuse the CAR-T cells (bedside chain-of-identity check)",
                responsible=Role.PHYSICIAN,
                due_on=completed.infusion_window_opens,
                window_opens=completed.infusion_window_opens,
                window_closes=completed.infusion_window_closes,
                overdue=today > completed.infusion_window_closes,
            )
        )
        if state.infusion_window_expired and not state.infusion_window_deviation_approved:
            items.append(
                DueItem(
                    code="LATE-INFUSION",
                    what="the infusion window has closed: approve a late infusion or record it not given",
                    responsible=Role.INVESTIGATOR,
                    overdue=True,
                )
            )
    return items


def _daily_due(state: JourneyState, protocol: TrialProtocol, today: date) -> list[DueItem]:
    """Today's daily assessments not done yet, a past day's not yet recorded missed, and the missed ones staff have
    not caught up on (see outstanding_missed)."""
    days = monitoring_days(state)
    if state.is_final or not days:
        return []
    if today > monitoring_date(state, days[-1]) and next_check_day(state, protocol) is None:
        return []  # over and checked to its end: nothing left (asked at every step of a long follow-up)
    items: list[DueItem] = []
    missed = outstanding_missed(state, protocol, today)
    for day_number in days:
        on = monitoring_date(state, day_number)
        if on > today:
            break
        for assessment in unassessed(state, protocol, day_number):
            words = f"daily {ASSESSMENT_WORDS[assessment]} assessment, day {day_number}"
            if recorded_missed(state, assessment, day_number):
                if (assessment, day_number) not in missed:
                    continue
                words += ": missed"
            code = daily_code(assessment, day_number)
            items.append(DueItem(code=code, what=words, responsible=Role.NURSE, due_on=on, overdue=on < today))
    return items


def daily_monitoring_days(state: JourneyState, protocol: TrialProtocol, today: date) -> tuple[DailyMonitoringDay, ...]:
    return tuple(
        DailyMonitoringDay(
            day_number=day_number,
            on=monitoring_date(state, day_number),
            crs=day_status(state, protocol, "crs", day_number, today),
            icans=day_status(state, protocol, "icans", day_number, today),
        )
        for day_number in monitoring_days(state)
    )


def _scheduled_due(state: JourneyState, protocol: TrialProtocol, today: date) -> list[DueItem]:
    if state.is_final:
        return []
    return [
        DueItem(
            code=item.code,
            what=item.label,
            responsible=ITEM_ROLES.get(item.code, Role.RESEARCH_COORDINATOR),
            due_on=item.target_date,
            window_opens=item.window_opens,
            window_closes=item.window_closes,
            overdue=today > item.window_closes,
        )
        for item in scheduled_items(state, protocol)
        if not state.item(item.code).resolved
    ]


def patient_status(state: JourneyState, protocol: TrialProtocol, now: datetime) -> PatientStatus:
    today = site_date(now, protocol.schedule)
    due = due_items(state, protocol, now)
    plan = state.lymphodepletion
    infusion = state.infusion
    visits = tuple(
        VisitView(
            code=item.code,
            label=item.label,
            target_date=item.target_date,
            window_opens=item.window_opens,
            window_closes=item.window_closes,
            status=(
                VisitStatus.MISSED
                if state.item(item.code).missed and state.item(item.code).done_on is None
                else visit_status(item, today, state.item(item.code).done_on)
            ),
            done_on=state.item(item.code).done_on,
        )
        for item in scheduled_items(state, protocol)
    )
    slot = state.slot_booking
    return PatientStatus(
        study_id=state.study_id,
        protocol_version=state.protocol_version,
        protocol_pending=state.pending_protocol_version,
        protocol_declined=state.declined_protocol_versions,
        phase=state.phase,
        chain_of_identity=state.chain_of_identity,
        failed_criteria=tuple(f.reason for f in state.eligibility.failed) if state.eligibility else (),
        bsa_m2=plan.bsa_m2 if plan else None,
        prescribed_daily_mg=dict(plan.daily_dose_mg) if plan else {},
        doses_given=tuple(f"{d.drug} day {d.day_number}: {d.dose_mg:g} mg" for d in state.doses_given),
        product_classification=plan.product.classification if plan else None,
        infused_on=infusion.day_zero if infusion else None,
        cells_per_kg=infusion.cells_per_kg if infusion else None,
        deviations=_deviations(state, protocol),
        highest_crs_grade=state.highest_crs_grade,
        highest_icans_grade=state.highest_icans_grade,
        worst_crs=worst_grading(state.crs),
        worst_icans=worst_grading(state.icans),
        open_expedited_reports=tuple(
            ReportView(
                report_id=r.report_id,
                reasons=r.reasons,
                due_at=r.due_at,
                overdue=r.overdue or now >= r.due_at,
                aware_at=r.aware_at,
            )
            for r in state.open_expedited_reports
        ),
        due=tuple(due),
        next_due=next_due(due),
        overdue=any_overdue(due),
        visits=visits,
        relapse_on=state.relapse.diagnosed_on if state.relapse else None,
        exit=state.exit,
        trial_stopped_on=state.trial_stopped.on if state.trial_stopped else None,
        trial_stopped_by_decision=state.trial_stopped.decision_id if state.trial_stopped else None,
        dose_limiting_toxicity=has_dose_limiting_toxicity(state, protocol),
        primary_endpoint=primary_endpoint(state, protocol, today),
        last_sequence=state.last_sequence,
        custody=custody_view(state),
        signatures=state.signatures,
        screening_attempt=state.screening_attempt,
        enrolled=state.eligibility_confirmed,
        collection_booked_on=slot.collection_date if slot else None,
        expected_release=slot.expected_release if slot else None,
        slot_not_booked_because=_slot_not_booked_because(state),
        mrd_evaluation=mrd_evaluation(state, protocol),
        molecular_recurrence_on=state.molecular_recurrence.confirmed_on if state.molecular_recurrence else None,
        died_on=died_on(state),
        last_contact_on=last_contact_on(state),
        daily_monitoring=daily_monitoring_days(state, protocol, today),
    )


def _slot_not_booked_because(state: JourneyState) -> str | None:
    """The calendar's answer while the collection it was asked for is still to come."""
    missing = state.slot_not_booked
    if missing is None or state.phase is not Phase.APHERESIS or missing.collection_number != len(state.collections) + 1:
        return None
    return no_slot_words(missing.reason, missing.searched_from, missing.searched_weeks)


def _deviations(state: JourneyState, protocol: TrialProtocol) -> tuple[str, ...]:
    late_marrow = one_year_marrow_deviation(state, protocol)
    return (*(state.infusion.deviations if state.infusion else ()), *([late_marrow] if late_marrow else []))
