"""Screening, consent, apheresis and manufacturing: from enrollment to a released product."""

from __future__ import annotations

from domain.chain_of_identity import (
    chain_of_identity_mismatch,
    issue_chain_of_identity,
    parse_chain_of_identity,
)
from domain.dosing import classify_product
from domain.eligibility import assess_eligibility, missing_induction_values, missing_recent_therapy
from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.context import Context
from domain.journey.handlers.custody import check_before_release
from domain.journey.phases import ExitReason, Phase
from domain.journey.state import JourneyState


def screen_failed(state: JourneyState) -> bool:
    """Whether the patient's latest screening failed: they may be screened again under the same study id."""
    return state.phase is Phase.OFF_STUDY and state.exit is not None and state.exit.reason is ExitReason.SCREEN_FAILURE


def enroll_patient(ctx: Context, c: cmd.EnrollPatient) -> list[ev.EventPayload]:
    """A first screening, or a screen failure's new screening attempt (the attempt before stays on record)."""
    state = ctx.state
    again = screen_failed(state)
    if state.phase is not Phase.NOT_ENROLLED and not again:
        ctx.refuse(f"{c.study_id} is already enrolled")
        return []
    if c.study_id != state.study_id:
        ctx.refuse(f"this journey belongs to {state.study_id}, not to {c.study_id}")
    ctx.check_day(c.screening.screening_date, "the screening date", (state.screening_date, "the failed screening"))
    if ctx.induction_criteria:
        for missing in missing_induction_values(c.screening):
            ctx.refuse(missing)
    for missing in missing_recent_therapy(c.screening, ctx.protocol.eligibility):  # amendment 1.1 on
        ctx.refuse(missing)
    result = assess_eligibility(c.screening, ctx.protocol.eligibility, induction_criteria=ctx.induction_criteria)
    attempt = state.screening_attempt + 1 if again else 1
    payloads: list[ev.EventPayload] = [
        ev.PatientEnrolled(
            study_id=c.study_id, screening=c.screening, attempt=attempt, chain_of_custody=ctx.chain_of_custody
        ),
        ev.EligibilityAssessed(result=result),
    ]
    if not result.eligible:
        payloads.append(ev.ScreenFailed(failed=result.failed))
    return payloads


def confirm_eligibility(ctx: Context, c: cmd.ConfirmEligibility) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.SCREENING}, "confirm eligibility"):
        return []
    return [ev.EligibilityConfirmed()]


def record_consent(ctx: Context, c: cmd.RecordConsent) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.CONSENT}, "record consent"):
        return []
    ctx.check_day(c.guardian_consent_signed_on, "the consent date", (ctx.state.screening_date, "screening"))
    return [consent_signed(ctx, c)]


def consent_signed(ctx: Context, c: cmd.RecordConsent, supersedes: int | None = None) -> ev.ConsentSigned:
    """The consent `c` records, the child's assent refused into `ctx` when missing: a new one, or a correction."""
    age = ctx.age_on(c.guardian_consent_signed_on)
    if (problem := assent_problem(ctx, age, c.child_assent_obtained)) is not None:
        ctx.refuse(problem)
    return ev.ConsentSigned(
        signed_on=c.guardian_consent_signed_on,
        consent_form_version=c.consent_form_version,
        child_assent_obtained=c.child_assent_obtained,
        age_years=age,
        supersedes=supersedes,
    )


def assent_problem(ctx: Context, age: int, child_assent_obtained: bool | None) -> str | None:
    """Why consent at `age` is incomplete without the child's own assent; None when it is complete."""
    assent_age = ctx.protocol.consent.assent_from_age_years
    if age >= assent_age and child_assent_obtained is not True:
        return (
            f"the child is {age} years old: the child's own assent is required from age {assent_age}; "
            "record the assent, or record consent withdrawn if the child declines"
        )
    return None


def record_apheresis(ctx: Context, c: cmd.RecordApheresis) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.APHERESIS}, "record apheresis"):
        return []
    consent = ctx.state.consent
    ctx.check_day(c.collected_on, "the collection date", (consent.signed_on if consent else None, "consent"))
    collection_number = len(ctx.state.collections) + 1
    coi = issue_chain_of_identity(ctx.patient, collection_number)
    return [
        ev.ApheresisCollected(
            collected_on=c.collected_on, collection_number=collection_number, chain_of_identity=str(coi)
        )
    ]


def record_product_release(ctx: Context, c: cmd.RecordProductRelease) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.MANUFACTURING}, "record a product release"):
        return []
    expected = ctx.state.chain_of_identity
    assert expected is not None  # manufacturing follows a collection
    check_before_release(ctx, c.released_on)
    return [product_released(ctx, c, expected)]


def product_released(
    ctx: Context, c: cmd.RecordProductRelease, expected_coi: str, supersedes: int | None = None
) -> ev.ProductReleased:
    """The release `c` records, its bag label and date refused into `ctx` when wrong: a new one, or a correction.
    A correction after the prescription assesses the product again against the prescribed weight."""
    mismatch = chain_of_identity_mismatch(c.product_label_coi, parse_chain_of_identity(expected_coi))
    if mismatch:
        ctx.refuse(f"the product label does not match this patient's cells: {mismatch}")
    collected = ctx.state.collections[-1].collected_on
    ctx.check_day(c.released_on, "the release date", (collected, "the collection"))
    plan = ctx.state.lymphodepletion
    assessment = None
    if plan is not None:
        assessment = classify_product(c.total_viable_car_cells, plan.weight_kg, ctx.protocol.cell_dose)
    return ev.ProductReleased(
        chain_of_identity=expected_coi,
        lot_number=c.lot_number,
        total_viable_car_cells=c.total_viable_car_cells,
        released_on=c.released_on,
        product_assessment=assessment,
        supersedes=supersedes,
    )


def record_slot_booking(ctx: Context, c: cmd.RecordSlotBooking) -> list[ev.EventPayload]:
    """The slot booked for the next collection: after consent (the first) or a failed manufacture (a re-collection)."""
    if not ctx.require_phase({Phase.APHERESIS}, "record a slot booking"):
        return []
    _check_next_collection_unbooked(ctx, c.collection_number)
    if c.expected_release <= c.collection_date:
        ctx.refuse("the expected release must come after the collection")
    return [
        ev.SlotBooked(
            collection_number=c.collection_number,
            week=c.week,
            slot_number=c.slot_number,
            collection_date=c.collection_date,
            expected_release=c.expected_release,
        )
    ]


def _check_next_collection_unbooked(ctx: Context, collection_number: int) -> None:
    """The calendar answers for the next collection only, and only while it has no slot yet."""
    expected = len(ctx.state.collections) + 1
    if collection_number != expected:
        ctx.refuse(f"the next collection is number {expected}, not {collection_number}")
    booked = ctx.state.slot_booking
    if booked is not None and booked.collection_number == collection_number:
        ctx.refuse(f"collection {collection_number} already has its slot")


def record_slot_unavailable(ctx: Context, c: cmd.RecordSlotUnavailable) -> list[ev.EventPayload]:
    """The calendar had no slot for the next collection: the status says why, until a slot is booked."""
    if not ctx.require_phase({Phase.APHERESIS}, "record that no slot could be booked"):
        return []
    _check_next_collection_unbooked(ctx, c.collection_number)
    return [
        ev.SlotNotBooked(
            collection_number=c.collection_number,
            reason=c.reason,
            searched_from=c.searched_from,
            searched_weeks=c.searched_weeks,
        )
    ]


def record_manufacturing_failure(ctx: Context, c: cmd.RecordManufacturingFailure) -> list[ev.EventPayload]:
    if not ctx.require_phase({Phase.MANUFACTURING}, "record a manufacturing failure"):
        return []
    collected = ctx.state.collections[-1].collected_on
    ctx.check_day(c.failed_on, "the failure date", (collected, "the collection"))
    allowed = ctx.state.manufacturing_retries_used < ctx.protocol.manufacturing.max_recollections
    return [ev.ManufacturingFailed(failed_on=c.failed_on, reason=c.reason, recollection_allowed=allowed)]
