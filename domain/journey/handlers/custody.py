"""The chain of custody: each hand-off of the cells checked against the COI label, in order, by the right role;
the cold chain's excursion that holds the infusion until the cell lab decides; the thaw-to-infusion limit."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from domain.chain_of_identity import chain_of_identity_mismatch, parse_chain_of_identity
from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.custody import AFTER_RELEASE, BEFORE_RELEASE, CUSTODY_ORDER, STEP_WORDS
from domain.journey.phases import Phase
from domain.journey.state import CustodyRecord, JourneyState
from domain.protocol import TrialProtocol

_AFTER_RELEASE_PHASES = frozenset({Phase.LYMPHODEPLETION, Phase.INFUSION})


def record_custody_hand_off(ctx: Context, c: cmd.RecordCustodyHandOff) -> list[ev.EventPayload]:
    step = c.step
    phases = {Phase.MANUFACTURING} if step in BEFORE_RELEASE else _AFTER_RELEASE_PHASES
    if step == "thawed":
        phases = {Phase.INFUSION}
    if not ctx.require_phase(phases, f"record the cells {STEP_WORDS[step]}"):
        return []
    done = {r.step for r in ctx.state.current_custody}
    expected = next((s for s in CUSTODY_ORDER if s not in done), None)
    if step in done:
        ctx.refuse(f"the cells were already recorded {STEP_WORDS[step]}: correct that entry if it is wrong")
    elif step != expected:
        ctx.refuse(
            f"out of order: the cells are {where_now(ctx)}; the next hand-off to record is "
            f"{STEP_WORDS[expected] if expected else 'none'}, not {STEP_WORDS[step]}"
        )
    return [hand_off(ctx, c, before=_previous_moment(ctx, step))]


def hand_off(
    ctx: Context,
    c: cmd.RecordCustodyHandOff,
    before: tuple[datetime | None, str],
    after: CustodyRecord | None = None,
    supersedes: int | None = None,
) -> ev.CustodyHandOffRecorded:
    """The hand-off `c` records after the moment `before` (and before the hand-off `after`), its problems refused
    into `ctx`: a new one, or a correction of one."""
    state = ctx.state
    words = STEP_WORDS[c.step]  # who may record each step is the registry's rule (a 403 before this runs)
    assert state.chain_of_identity is not None  # hand-offs follow a collection
    mismatch = chain_of_identity_mismatch(c.product_label_coi, parse_chain_of_identity(state.chain_of_identity))
    if mismatch:
        ctx.refuse(f"STOP: the label does not match this patient's cells: {mismatch}")
    if ctx.check_instant(c.at, f"the time the cells were {words}", before):
        on = ctx.site_date_of(c.at)
        collected_on = state.collections[-1].collected_on
        if on < collected_on:
            ctx.refuse(f"the cells were {words} on {on.isoformat()}, before they were collected ({collected_on})")
        product = state.product
        if c.step in AFTER_RELEASE and product is not None and on < product.released_on:
            ctx.refuse(
                f"the cells were {words} on {on.isoformat()}, before the product was released "
                f"({product.released_on.isoformat()})"
            )
    if after is not None and c.at > after.at:
        ctx.refuse(
            f"the time the cells were {words} is after they were {STEP_WORDS[after.step]} ({after.at.isoformat()})"
        )
    excursion = False
    limit = ctx.protocol.custody.max_shipping_temperature_c
    if c.step == "received_at_site":
        if c.logger_max_temperature_c is None:
            ctx.refuse("read the shipper's temperature logger: give the warmest temperature it recorded")
        else:
            excursion = c.logger_max_temperature_c > limit
    elif c.logger_max_temperature_c is not None:
        ctx.refuse("the temperature logger is read at the site's receipt only: leave the temperature empty")
    return ev.CustodyHandOffRecorded(
        step=c.step,
        at=c.at,
        chain_of_identity=state.chain_of_identity,
        logger_max_temperature_c=c.logger_max_temperature_c,
        excursion=excursion,
        note=c.note,
        supersedes=supersedes,
    )


def _previous_moment(ctx: Context, step: str) -> tuple[datetime | None, str]:
    """The hand-off before `step` and its words (the collection's and release's days count as their start)."""
    index = CUSTODY_ORDER.index(step)
    earlier = ctx.state.custody_step(CUSTODY_ORDER[index - 1]) if index > 0 else None
    if earlier is not None:
        return earlier.at, f"the cells were {STEP_WORDS[earlier.step]}"
    return None, ""


def where_now(ctx: Context) -> str:
    """Where the current collection's cells are, in words."""
    state = ctx.state
    latest = state.current_custody[-1] if state.current_custody else None
    if latest is not None and not (latest.step in BEFORE_RELEASE and state.product is not None):
        return f"{STEP_WORDS[latest.step]} ({latest.at.isoformat()})"
    if state.product is not None:
        return f"released by the cell lab ({state.product.released_on.isoformat()})"
    return "collected"


def decide_temperature_excursion(ctx: Context, c: cmd.DecideTemperatureExcursion) -> list[ev.EventPayload]:
    if not ctx.require_phase(_AFTER_RELEASE_PHASES, "decide on a temperature excursion"):
        return []
    received = ctx.state.custody_step("received_at_site")
    if received is None or not received.excursion:
        ctx.refuse("no temperature excursion of this patient's cells awaits a decision")
    elif ctx.state.excursion_decision is not None:
        ctx.refuse(f"the cell lab has already decided: {ctx.state.excursion_decision.replace('_', ' ')}")
    return [ev.TemperatureExcursionDecided(decision=c.decision, reason=c.reason)]


def approve_late_infusion_after_thaw(ctx: Context, c: cmd.ApproveLateInfusionAfterThaw) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.INFUSION}, "approve an infusion late after thawing"):
        return []
    thawed = ctx.state.custody_step("thawed")
    limit = timedelta(minutes=ctx.protocol.custody.max_minutes_thaw_to_infusion)
    if thawed is None:
        ctx.refuse("the cells have not been recorded thawed: there is nothing late to approve")
    elif ctx.now <= thawed.at + limit:
        ctx.refuse(
            f"the infusion may still start on time, until {(thawed.at + limit).isoformat()}: no approval is needed yet"
        )
    if ctx.state.late_infusion_after_thaw_approved:
        ctx.refuse("a late infusion after thawing has already been approved")
    return [ev.LateInfusionAfterThawApproved(reason=c.reason)]


def check_before_release(ctx: Context, released_on: date) -> None:
    """The release follows the start of manufacturing, in journeys that record the cells' hand-offs."""
    if not ctx.state.chain_of_custody:
        return
    started = ctx.state.custody_step("manufacturing_started")
    if started is None:
        ctx.refuse(
            f"out of order: the cells are {where_now(ctx)}; record the start of manufacturing before the release"
        )
    elif released_on < (started_on := ctx.site_date_of(started.at)):
        ctx.refuse(
            f"the release date {released_on.isoformat()} is before manufacturing started ({started_on.isoformat()})"
        )


def infusion_custody_deviations(ctx: Context, infused_at: datetime) -> list[str]:
    """The custody checks of an infusion at `infused_at`: refusals into `ctx`, approved departures returned."""
    state = ctx.state
    if not state.chain_of_custody:
        return []
    deviations: list[str] = []
    received = state.custody_step("received_at_site")
    if received is not None and received.excursion:
        excursion = (
            f"the shipper's logger read {received.logger_max_temperature_c:g} °C, warmer than "
            f"{ctx.protocol.custody.max_shipping_temperature_c:g} °C"
        )
        if state.excursion_decision is None:
            ctx.refuse(f"hold the infusion: {excursion}; the cell lab must decide on the product first")
        elif state.excursion_decision == "reject":
            ctx.refuse(f"do not infuse: the cell lab rejected the product ({excursion})")
        else:
            deviations.append(excursion + " (released for infusion as a deviation by the cell lab)")
    thawed = state.custody_step("thawed")
    if thawed is None:
        ctx.refuse(f"the cells are {where_now(ctx)}: record them thawed before the infusion")
        return deviations
    if infused_at.utcoffset() is None:
        return deviations
    minutes = ctx.protocol.custody.max_minutes_thaw_to_infusion
    if infused_at < thawed.at:
        ctx.refuse(f"the infusion time is before the end of thawing ({thawed.at.isoformat()})")
    elif infused_at > thawed.at + timedelta(minutes=minutes):
        late = (
            f"the infusion started {int((infused_at - thawed.at).total_seconds() // 60)} minutes after the end of "
            f"thawing, more than {minutes}"
        )
        if state.late_infusion_after_thaw_approved:
            deviations.append(late + " (approved by the investigator)")
        else:
            ctx.refuse(f"{late}: the investigator must decide first")
    return deviations


def thaw_limit_passes_at(state: JourneyState, protocol: TrialProtocol) -> datetime | None:
    """When the thawed cells' time limit passes without an infusion and the investigator must be told; None when
    there is nothing to tell (not thawed, infused, approved already, or told of this thaw), or when the thaw was
    entered only after its limit had passed: a record entered late is history, not a bag waiting at the bedside (the
    infusion entered after it is still refused without the investigator's approval if it was late)."""
    thawed = state.custody_step("thawed")
    if (
        thawed is None
        or state.phase is not Phase.INFUSION
        or state.infusion is not None
        or state.late_infusion_after_thaw_approved
        or state.late_after_thaw_flagged_for == thawed.at
    ):
        return None
    passes_at = thawed.at + timedelta(minutes=protocol.custody.max_minutes_thaw_to_infusion)
    if thawed.recorded_at is not None and thawed.recorded_at > passes_at:
        return None
    return passes_at


def flag_late_infusion_after_thaw(ctx: Context, c: cmd.FlagLateInfusionAfterThaw) -> list[ev.EventPayload]:
    passes_at = thaw_limit_passes_at(ctx.state, ctx.protocol)
    thawed = ctx.state.custody_step("thawed")
    if passes_at is None or thawed is None or ctx.state.chain_of_identity is None:
        ctx.refuse("no thawed cells wait for their infusion")
        return []
    if ctx.now < passes_at:
        ctx.refuse(f"the infusion may still start on time, until {passes_at.isoformat()}")
    return [
        ev.InfusionLateAfterThaw(
            thawed_at=thawed.at, limit_passed_at=passes_at, chain_of_identity=ctx.state.chain_of_identity
        )
    ]
