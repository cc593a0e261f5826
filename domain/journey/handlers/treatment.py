"""Lymphodepletion and infusion: where a wrong dose or a wrong patient's cells must be refused."""

from __future__ import annotations

from datetime import date, timedelta

from domain.chain_of_identity import chain_of_identity_mismatch, parse_chain_of_identity
from domain.dosing import (
    ProductClassification,
    car_t_dose_range,
    classify_product,
    daily_dose_mg,
    dose_deviation_fraction,
    plan_lymphodepletion,
)
from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.handlers.custody import infusion_custody_deviations
from domain.journey.handlers.daily_monitoring import monitoring_started
from domain.journey.phases import Phase
from domain.journey.state import DoseRecord
from domain.site_time import end_of_site_day


def _cells(n: float) -> str:
    return f"{n:.2e} cells"


def prescribe_lymphodepletion(ctx: Context, c: cmd.PrescribeLymphodepletion) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.LYMPHODEPLETION}, "prescribe lymphodepletion"):
        return []
    if ctx.state.doses_given:
        ctx.refuse("lymphodepletion has already started: the prescription cannot be changed now")
    return [prescription(ctx, c)]


def prescription(
    ctx: Context, c: cmd.PrescribeLymphodepletion, supersedes: int | None = None
) -> ev.LymphodepletionPrescribed:
    """The prescription `c` asks for, its problems refused into `ctx`: a new one, or a correction of one."""
    product = ctx.state.product
    assert product is not None  # lymphodepletion follows a released product
    if c.planned_start_on < product.released_on:
        ctx.refuse(
            f"the planned start {c.planned_start_on.isoformat()} is before the product was released "
            f"({product.released_on.isoformat()})"
        )
    regimen = ctx.protocol.lymphodepletion
    plan = plan_lymphodepletion(c.height_cm, c.weight_kg, c.creatinine_clearance_ml_min_173m2, regimen)
    suggestion = plan.renal_suggestion
    if suggestion is not None and c.renal_adjustment is None:
        ctx.refuse(
            f"{suggestion.reason}: fludarabine {plan.fludarabine_adjusted_daily_mg} mg a day instead of "
            f"{plan.fludarabine_daily_mg} mg; the physician must accept or decline this adjustment"
        )
    if suggestion is None and c.renal_adjustment is not None:
        ctx.refuse(
            f"no renal adjustment is suggested at a creatinine clearance of "
            f"{c.creatinine_clearance_ml_min_173m2:g}: leave the adjustment empty"
        )
    reduction = suggestion.reduction_fraction if suggestion and c.renal_adjustment == "accept" else 0.0
    doses = {
        regimen.fludarabine.name: daily_dose_mg(regimen.fludarabine, plan.bsa_m2, reduction),
        regimen.cyclophosphamide.name: plan.cyclophosphamide_daily_mg,
    }
    return ev.LymphodepletionPrescribed(
        height_cm=c.height_cm,
        weight_kg=c.weight_kg,
        bsa_m2=plan.bsa_m2,
        creatinine_clearance_ml_min_173m2=c.creatinine_clearance_ml_min_173m2,
        renal_suggestion=suggestion,
        renal_adjustment=c.renal_adjustment,
        daily_dose_mg=doses,
        days={drug.name: drug.days for drug in regimen.drugs},
        planned_start_on=c.planned_start_on,
        product=classify_product(product.total_viable_car_cells, c.weight_kg, ctx.protocol.cell_dose),
        supersedes=supersedes,
    )


def record_lymphodepletion_dose(ctx: Context, c: cmd.RecordLymphodepletionDose) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.LYMPHODEPLETION}, "record a lymphodepletion dose"):
        return []
    plan = ctx.state.lymphodepletion
    if plan is None:
        ctx.refuse("lymphodepletion has not been prescribed yet: a physician prescribes it first")
        return []
    days = plan.days[c.drug]
    label = f"{c.drug} day {c.day_number}"
    if c.day_number > days:
        ctx.refuse(f"{c.drug} is given on {days} days only; there is no day {c.day_number}")
    if ctx.state.dose_given(c.drug, c.day_number) is not None:
        ctx.refuse(f"{label} has already been recorded")
    previous = ctx.state.dose_given(c.drug, c.day_number - 1) if c.day_number > 1 else None
    if c.day_number > 1 and previous is None:
        ctx.refuse(f"{c.drug} day {c.day_number - 1} has not been recorded yet: record the days in order")
    payloads: list[ev.EventPayload] = [given_dose(ctx, c, previous)]
    given = len(ctx.state.doses_given) + 1
    if given == sum(plan.days.values()) and not ctx.problems:
        last_on = max(ctx.site_date_of(c.given_at), *(ctx.site_date_of(d.given_at) for d in ctx.state.doses_given))
        payloads.append(completion(ctx, last_on))
    return payloads


def given_dose(
    ctx: Context,
    c: cmd.RecordLymphodepletionDose,
    before: DoseRecord | None,
    after: DoseRecord | None = None,
    supersedes: int | None = None,
) -> ev.LymphodepletionDoseGiven:
    """The dose `c` records between the doses of the days `before` and `after` it, its time and amount refused into
    `ctx` when wrong: a new one, or a correction of one."""
    plan = ctx.state.lymphodepletion
    assert plan is not None  # doses follow the prescription
    prescribed = plan.daily_dose_mg[c.drug]
    label = f"{c.drug} day {c.day_number}"
    if ctx.check_instant(c.given_at, f"the time {label} was given"):
        given_on = ctx.site_date_of(c.given_at)
        if given_on < plan.planned_start_on:
            ctx.refuse(f"{label} is dated before the planned start ({plan.planned_start_on.isoformat()})")
        if before is not None and given_on <= ctx.site_date_of(before.given_at):
            ctx.refuse(f"{label} is dated on or before day {c.day_number - 1}: one dose a day")
        if after is not None and given_on >= ctx.site_date_of(after.given_at):
            ctx.refuse(f"{label} is dated on or after day {c.day_number + 1}: one dose a day")
    deviation = excess_deviation(ctx, prescribed, c.dose_mg)
    if deviation is not None and c.deviation_reason is None:
        tolerance = ctx.protocol.lymphodepletion.administered_dose_tolerance_fraction
        ctx.refuse(
            f"{label}: {c.dose_mg:g} mg differs from the prescribed {prescribed:g} mg by {deviation:.0%} "
            f"(more than {tolerance:.0%}); check the dose, or give the reason for the deviation"
        )
    return ev.LymphodepletionDoseGiven(
        drug=c.drug,
        day_number=c.day_number,
        dose_mg=c.dose_mg,
        prescribed_mg=prescribed,
        given_at=c.given_at,
        deviation_reason=c.deviation_reason,
        supersedes=supersedes,
    )


def excess_deviation(ctx: Context, prescribed_mg: float, given_mg: float) -> float | None:
    """How far `given_mg` is off `prescribed_mg` (a fraction) when beyond the protocol's tolerance; None within it."""
    deviation = dose_deviation_fraction(prescribed_mg, given_mg)
    tolerance = ctx.protocol.lymphodepletion.administered_dose_tolerance_fraction
    return deviation if deviation > tolerance else None


def completion(ctx: Context, last_dose_on: date, supersedes: int | None = None) -> ev.LymphodepletionCompleted:
    """Lymphodepletion done on `last_dose_on`: the infusion window it opens."""
    rules = ctx.protocol.infusion
    return ev.LymphodepletionCompleted(
        last_dose_on=last_dose_on,
        infusion_window_opens=last_dose_on + timedelta(days=rules.min_days_after_lymphodepletion),
        infusion_window_closes=last_dose_on + timedelta(days=rules.max_days_after_lymphodepletion),
        supersedes=supersedes,
    )


def decide_out_of_spec_product(ctx: Context, c: cmd.DecideOutOfSpecProduct) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.LYMPHODEPLETION, Phase.INFUSION}, "decide on an out-of-specification product"):
        return []
    plan = ctx.state.lymphodepletion
    if plan is None or plan.product.classification is not ProductClassification.BELOW_MINIMUM:
        ctx.refuse("there is no product below the minimum dose awaiting a decision")
        return []
    if ctx.state.out_of_spec_decision is not None:
        ctx.refuse(f"the investigator has already decided: {ctx.state.out_of_spec_decision.replace('_', ' ')}")
    if c.decision == "remanufacture" and (
        ctx.state.manufacturing_retries_used >= ctx.protocol.manufacturing.max_recollections
    ):
        ctx.refuse(
            "the product cannot be re-manufactured: the protocol's one re-collection or re-manufacture has "
            "been used; infuse as a deviation, or take the patient off study"
        )
    return [ev.OutOfSpecProductDecided(decision=c.decision, reason=c.reason)]


def approve_infusion_outside_window(ctx: Context, c: cmd.ApproveInfusionOutsideWindow) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.INFUSION}, "approve an infusion outside its window"):
        return []
    if ctx.state.infusion_window_deviation_approved:
        ctx.refuse("infusion outside the window has already been approved")
    return [ev.InfusionWindowDeviationApproved(reason=c.reason)]


def record_infusion(ctx: Context, c: cmd.RecordInfusion) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.INFUSION}, "record the infusion"):
        return []
    return [infusion(ctx, c), *monitoring_started(ctx)]


def infusion(ctx: Context, c: cmd.RecordInfusion, supersedes: int | None = None) -> ev.CellsInfused:
    """The infusion `c` records, every check refused into `ctx`: a new one, or a correction of one."""
    state = ctx.state
    plan, completed, product = state.lymphodepletion, state.lymphodepletion_completed, state.product
    assert plan is not None and completed is not None and product is not None and state.chain_of_identity
    expected = parse_chain_of_identity(state.chain_of_identity)
    mismatch = chain_of_identity_mismatch(c.product_label_coi, expected)
    if mismatch:
        ctx.refuse(f"STOP: the bag does not match this patient: {mismatch}")
    _check_hold_criteria(ctx, c)
    deviations: list[str] = infusion_custody_deviations(ctx, c.infused_at)
    if ctx.check_instant(c.infused_at, "the infusion time"):
        infused_on = ctx.site_date_of(c.infused_at)
        days_after = (infused_on - completed.last_dose_on).days
        outside = not completed.infusion_window_opens <= infused_on <= completed.infusion_window_closes
        rules = ctx.protocol.infusion
        window_words = (
            f"infusion {days_after} days after the last lymphodepletion dose is outside the "
            f"{rules.min_days_after_lymphodepletion}-{rules.max_days_after_lymphodepletion} day window"
        )
        if outside and not state.infusion_window_deviation_approved:
            ctx.refuse(f"{window_words}: the investigator must approve it first")
        elif outside:
            deviations.append(window_words + " (approved by the investigator)")
    dose = car_t_dose_range(plan.weight_kg, ctx.protocol.cell_dose)
    if c.cells_infused > product.total_viable_car_cells:
        ctx.refuse(
            f"{_cells(c.cells_infused)} is more than the product holds ({_cells(product.total_viable_car_cells)})"
        )
    if c.cells_infused > dose.max_cells:
        ctx.refuse(
            f"{_cells(c.cells_infused)} is above the allowed maximum of {_cells(dose.max_cells)} for "
            f"{plan.weight_kg:g} kg: infuse at most the maximum"
        )
    if c.cells_infused < dose.min_cells:
        below = f"{_cells(c.cells_infused)} is below the minimum of {_cells(dose.min_cells)} for {plan.weight_kg:g} kg"
        if state.out_of_spec_decision == "infuse_as_deviation":
            deviations.append(below + " (infused as a deviation by the investigator's decision)")
        else:
            ctx.refuse(f"{below}: the investigator must decide to infuse it as a deviation first")
    return ev.CellsInfused(
        infused_at=c.infused_at,
        day_zero=ctx.site_date_of(c.infused_at) if c.infused_at.utcoffset() is not None else ctx.today,
        chain_of_identity=state.chain_of_identity,
        cells_infused=c.cells_infused,
        cells_per_kg=c.cells_infused / plan.weight_kg,
        weight_kg=plan.weight_kg,
        deviations=tuple(deviations),
        supersedes=supersedes,
    )


def _check_hold_criteria(ctx: Context, c: cmd.RecordInfusion) -> None:
    rules = ctx.protocol.infusion
    if c.active_uncontrolled_infection:
        ctx.refuse("hold the infusion: there is an active uncontrolled infection")
    if ctx.clinical_review and c.hours_since_last_fever is None and not c.no_fever:
        ctx.refuse(
            f"answer the fever check before the infusion: how many hours since the patient's last fever (at least "
            f"{rules.min_fever_free_hours} are required), or that the patient has had no fever; a blank is not "
            "an answer"
        )
    if c.hours_since_last_fever is not None and c.no_fever:
        ctx.refuse(
            f"the fever check has two answers: {c.hours_since_last_fever:g} hours since the last fever, and no "
            "fever at all; keep the one that is true"
        )
    if c.hours_since_last_fever is not None and c.hours_since_last_fever < rules.min_fever_free_hours:
        ctx.refuse(
            f"hold the infusion: fever-free for {c.hours_since_last_fever:g} hours only; "
            f"at least {rules.min_fever_free_hours} hours are required"
        )
    if c.uncontrolled_crs_from_prior_therapy:
        ctx.refuse("hold the infusion: uncontrolled CRS from earlier therapy")
    if c.tocilizumab_doses_on_site < rules.min_tocilizumab_doses_on_site:
        ctx.refuse(
            f"hold the infusion: {c.tocilizumab_doses_on_site} tocilizumab doses on site; "
            f"at least {rules.min_tocilizumab_doses_on_site} are required"
        )


def record_infusion_not_given(ctx: Context, c: cmd.RecordInfusionNotGiven) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.LYMPHODEPLETION, Phase.INFUSION}, "record that the infusion was not given"):
        return []
    return [ev.InfusionNotGiven(on=ctx.today, reason=c.reason)]


def expire_infusion_window(ctx: Context, c: cmd.ExpireInfusionWindow) -> list[ev.EventPayload]:
    state = ctx.state
    completed = state.lymphodepletion_completed
    if (
        state.phase is not Phase.INFUSION
        or completed is None
        or state.infusion_window_expired
        or state.infusion_window_deviation_approved
    ):
        ctx.refuse("no infusion window is running")
        return []
    if ctx.now < end_of_site_day(completed.infusion_window_closes, ctx.protocol.schedule):
        ctx.refuse(f"the infusion window is open until {completed.infusion_window_closes.isoformat()}")
    return [ev.InfusionWindowExpired(window_closed_on=completed.infusion_window_closes)]
