"""Corrections of every recorded fact: accepted with a reason and a signature, refused unsigned, superseding (the
original stays in the record), the state and views on the corrected value, and refused with the reason when the
correction would make a step already taken invalid."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError

from domain.journey import commands as cmd
from domain.journey.events import Event
from domain.journey.phases import ExitReason, Phase
from domain.journey.views import patient_status
from domain.protocol import FrozenModel
from simulation import journey_steps as path
from tests.domain.journey_driver import (
    COORDINATOR,
    INVESTIGATOR,
    NURSE,
    PHYSICIAN,
    JourneyDriver,
    crs_findings,
    screening,
)

C = TypeVar("C", bound=FrozenModel)
REASON = "typed from the wrong line of the chart"
UNSIGNED = "this step must be electronically signed: it corrects an earlier entry; sign it with your signing PIN"


def correcting(command: C, sequence: int, reason: str = REASON) -> C:
    return path.amended(command, correction=cmd.Correction(supersedes_sequence=sequence, reason=reason))


def entry_of(journey: JourneyDriver, event_type: str, where: Callable[[Any], bool] = lambda _: True) -> Event:
    return next(e for e in journey.events if e.type == event_type and where(e.payload))


def corrected(journey: JourneyDriver, command: cmd.Command, original: Event) -> list[Event]:
    """Refused unsigned (nothing changes), then accepted signed: the original kept, the correction linked to it."""
    assert journey.refused(command, sign=False) == (UNSIGNED,)
    events = journey.do(command)
    first = events[0]
    assert first.reason == REASON and first.signature is not None
    assert first.payload.supersedes == original.sequence  # type: ignore[union-attr]
    assert journey.events[original.sequence - 1] == original  # never overwritten
    entry = journey.state.entry(original.sequence)
    assert entry is not None and entry.superseded_by == first.sequence
    return events


def in_lymphodepletion_with_first_doses() -> JourneyDriver:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    plan = journey.state.lymphodepletion
    assert plan is not None
    steps = path.lymphodepletion_doses(journey.patient, plan.planned_start_on, journey.protocol, plan.daily_dose_mg)
    journey.walk(steps[:2])  # fludarabine and cyclophosphamide, day 1
    return journey


# ---------------------------------------------------------------- lymphodepletion


def test_a_wrong_dose_is_corrected_and_the_status_shows_the_corrected_dose() -> None:
    journey = in_lymphodepletion_with_first_doses()
    original = entry_of(journey, "lymphodepletion_dose_given", lambda p: p.drug == "fludarabine")
    given = original.payload.dose_mg  # type: ignore[union-attr]
    right = correcting(_dose_command(journey, original), original.sequence)
    journey.advance(hours=1)
    corrected(journey, path.amended(right, dose_mg=round(given * 0.98, 1)), original)
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert f"fludarabine day 1: {round(given * 0.98, 1):g} mg" in status.doses_given
    assert len(status.doses_given) == 2  # corrected in place, not a third dose


def _dose_command(journey: JourneyDriver, original: Event) -> cmd.RecordLymphodepletionDose:
    p = original.payload
    return cmd.RecordLymphodepletionDose(
        actor=original.actor,
        drug=p.drug,  # type: ignore[union-attr]
        day_number=p.day_number,  # type: ignore[union-attr]
        dose_mg=p.dose_mg,  # type: ignore[union-attr]
        given_at=p.given_at,  # type: ignore[union-attr]
    )


def test_a_corrected_dose_is_checked_as_when_it_was_recorded() -> None:
    journey = in_lymphodepletion_with_first_doses()
    original = entry_of(journey, "lymphodepletion_dose_given", lambda p: p.drug == "fludarabine")
    command = _dose_command(journey, original)
    too_much = correcting(path.amended(command, dose_mg=command.dose_mg * 2), original.sequence)
    assert journey.refused(too_much)[0].startswith("fludarabine day 1: ")
    other_day = correcting(path.amended(command, day_number=2), original.sequence)
    assert journey.refused(other_day) == (
        f"entry {original.sequence} is fludarabine day 1: a correction keeps the drug and the day; record the right "
        "dose in its own entry",
    )
    consent = entry_of(journey, "consent_signed")
    assert journey.refused(correcting(command, consent.sequence)) == (
        f"entry {consent.sequence} is not a lymphodepletion dose of this patient: nothing to correct",
    )
    with pytest.raises(ValidationError):
        cmd.Correction(supersedes_sequence=original.sequence, reason="  ")


def test_a_corrected_last_dose_time_moves_the_infusion_window() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    last = [e for e in journey.events if e.type == "lymphodepletion_dose_given"][-1]
    earlier = last.payload.given_at - timedelta(hours=3)  # type: ignore[union-attr]
    same_day = correcting(path.amended(_dose_command(journey, last), given_at=earlier), last.sequence)
    assert len(corrected(journey, same_day, last)) == 1  # the same day: the window stays
    last = journey.events[-1]
    # The fludarabine's last day was really a day later than typed (the cyclophosphamide stops on day 2).
    later = last.payload.given_at + timedelta(days=1)  # type: ignore[union-attr]
    journey.advance(days=1)
    events = journey.do(correcting(path.amended(_dose_command(journey, last), given_at=later), last.sequence))
    moved = events[-1]
    assert moved.type == "lymphodepletion_completed"
    assert moved.payload.supersedes == entry_of(journey, "lymphodepletion_completed").sequence  # type: ignore[union-attr]
    new_window = journey.state.lymphodepletion_completed
    assert new_window is not None and new_window.last_dose_on == completed.last_dose_on + timedelta(days=1)
    assert new_window.infusion_window_closes == completed.infusion_window_closes + timedelta(days=1)
    assert journey.state.phase is Phase.INFUSION
    status = patient_status(journey.state, journey.protocol, journey.now)
    infusion_due = next(i for i in status.due if i.code == "INFUSION")
    assert infusion_due.window_closes == new_window.infusion_window_closes


def test_a_dose_time_that_would_put_the_recorded_infusion_outside_its_window_is_refused() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.infuse(days_after_lymphodepletion=2)  # the earliest day of the window
    last = [e for e in journey.events if e.type == "lymphodepletion_dose_given"][-1]
    later = last.payload.given_at + timedelta(days=1)  # type: ignore[union-attr]
    reasons = journey.refused(correcting(path.amended(_dose_command(journey, last), given_at=later), last.sequence))
    assert len(reasons) == 1 and "would be outside its window" in reasons[0]


def test_a_wrong_weight_in_the_prescription_is_corrected_before_the_infusion_only() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.prescribe()
    original = entry_of(journey, "lymphodepletion_prescribed")
    prescription = path.prescription(journey.patient, journey.state.lymphodepletion.planned_start_on, journey.protocol)  # type: ignore[union-attr]
    fixed = correcting(path.amended(prescription, weight_kg=prescription.weight_kg + 1), original.sequence)
    corrected(journey, fixed, original)
    plan = journey.state.lymphodepletion
    assert plan is not None and plan.weight_kg == prescription.weight_kg + 1
    assert journey.state.phase is Phase.LYMPHODEPLETION

    after = JourneyDriver()
    after.to_follow_up()
    original = entry_of(after, "lymphodepletion_prescribed")
    plan = after.state.lymphodepletion
    assert plan is not None
    again = path.prescription(after.patient, plan.planned_start_on, after.protocol)
    assert after.refused(correcting(again, original.sequence)) == (
        "the infusion was checked against this prescription's weight (cells per kg): a prescription is not "
        "corrected after the infusion; the investigator must review it",
    )


# ---------------------------------------------------------------- infusion


def test_a_corrected_infusion_time_moves_day_0_and_the_visit_calendar() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.infuse(days_after_lymphodepletion=3)  # typed; it was the day before, also in the window
    original = entry_of(journey, "cells_infused")
    infusion = journey.state.infusion
    assert infusion is not None
    before = patient_status(journey.state, journey.protocol, journey.now)
    command = journey.infusion_command(infused_at=infusion.infused_at - timedelta(days=1))
    journey.advance(hours=2)
    corrected(journey, correcting(command, original.sequence), original)
    after = patient_status(journey.state, journey.protocol, journey.now)
    assert after.infused_on == infusion.day_zero - timedelta(days=1)
    assert [v.target_date for v in after.visits] == [v.target_date - timedelta(days=1) for v in before.visits]
    assert journey.state.phase is Phase.TOXICITY_OBSERVATION


def test_day_0_does_not_move_under_recorded_assessments_or_visits() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    original = entry_of(journey, "cells_infused")
    infusion = journey.state.infusion
    assert infusion is not None
    journey.advance(hours=1)
    journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings()))
    later = journey.infusion_command(infused_at=journey.now + timedelta(minutes=1))
    reasons = journey.refused(correcting(later, original.sequence))
    assert any("CRS assessment entry" in r and "before the corrected infusion time" in r for r in reasons)
    # A week on, the first visits of the calendar are recorded (or missed): day 0 stays where they were planned.
    journey.run_timers_until(journey.now + timedelta(days=40))
    earlier = journey.infusion_command(infused_at=infusion.infused_at - timedelta(days=1))
    reasons = journey.refused(correcting(earlier, original.sequence))
    assert any("moves day 0" in r and "the investigator must review it" in r for r in reasons)


def test_a_corrected_cell_count_is_checked_against_the_product_and_the_dose() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    original = entry_of(journey, "cells_infused")
    infusion = journey.state.infusion
    product = journey.state.product
    assert infusion is not None and product is not None
    too_many = journey.infusion_command(
        infused_at=infusion.infused_at, cells_infused=product.total_viable_car_cells * 2
    )
    reasons = journey.refused(correcting(too_many, original.sequence))
    assert any("more than the product holds" in r for r in reasons)
    fewer = journey.infusion_command(infused_at=infusion.infused_at, cells_infused=infusion.cells_infused * 0.9)
    corrected(journey, correcting(fewer, original.sequence), original)
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.cells_per_kg == pytest.approx(infusion.cells_per_kg * 0.9)


# ---------------------------------------------------------------- screening, consent, collection, product


def test_a_screening_value_corrected_before_confirmation_decides_eligibility_again() -> None:
    journey = JourneyDriver()
    journey.enroll()
    original = entry_of(journey, "patient_enrolled")
    typed = original.payload.screening  # type: ignore[union-attr]
    wrong_mrd = screening(screening_date=typed.screening_date, induction_day46_mrd_percent=0.0)
    command = cmd.CorrectScreening(
        actor=COORDINATOR, screening=wrong_mrd, correction=cmd.Correction(supersedes_sequence=1, reason=REASON)
    )
    events = corrected(journey, command, original)
    assert [e.type for e in events] == ["patient_enrolled", "eligibility_assessed", "screen_failed"]
    assert journey.state.phase is Phase.OFF_STUDY
    assert journey.state.exit is not None and journey.state.exit.reason is ExitReason.SCREEN_FAILURE
    # Corrected back to eligible values, the screen failure stands: the patient is screened again instead.
    back = cmd.CorrectScreening(
        actor=COORDINATOR,
        screening=typed,
        correction=cmd.Correction(supersedes_sequence=events[0].sequence, reason=REASON),
    )
    assert journey.refused(back) == (
        "the corrected values meet every criterion, but the screen failure ended that screening: screen the "
        "patient again under the same study id (a new screening attempt)",
    )


def test_once_eligibility_is_confirmed_a_correction_that_fails_a_criterion_is_refused() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    original = entry_of(journey, "patient_enrolled")
    typed = original.payload.screening  # type: ignore[union-attr]
    failing = screening(screening_date=typed.screening_date, induction_day46_mrd_percent=0.0)
    correction = cmd.Correction(supersedes_sequence=original.sequence, reason=REASON)
    reasons = journey.refused(cmd.CorrectScreening(actor=INVESTIGATOR, screening=failing, correction=correction))
    assert len(reasons) == 1 and reasons[0].startswith("eligibility was confirmed on the screening values")
    heavier = typed.model_copy(update={"weight_kg": typed.weight_kg + 2})
    command = cmd.CorrectScreening(actor=INVESTIGATOR, screening=heavier, correction=correction)
    corrected(journey, command, original)
    assert journey.state.phase is Phase.APHERESIS and journey.state.eligibility_confirmed


def test_a_consent_date_and_form_version_are_corrected_but_never_after_the_collection() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    original = entry_of(journey, "consent_signed")
    consent = journey.state.consent
    collected = journey.state.collections[0].collected_on
    assert consent is not None
    command = path.consent(journey.patient, consent.signed_on, journey.protocol)
    late = correcting(
        path.amended(command, guardian_consent_signed_on=collected + timedelta(days=1)), original.sequence
    )
    assert any("consent comes first" in r for r in journey.refused(late))
    fixed = correcting(path.amended(command, consent_form_version="ICF v2.2"), original.sequence)
    corrected(journey, fixed, original)
    assert journey.state.consent is not None and journey.state.consent.consent_form_version == "ICF v2.2"
    assert journey.state.phase is Phase.LYMPHODEPLETION


def test_apheresis_and_product_release_are_corrected_and_checked_against_what_followed() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    collection = entry_of(journey, "apheresis_collected")
    product = journey.state.product
    assert product is not None
    late = path.apheresis(journey.patient, product.released_on + timedelta(days=1))
    assert any("after its product's release" in r for r in journey.refused(correcting(late, collection.sequence)))
    earlier = path.apheresis(journey.patient, journey.state.collections[0].collected_on - timedelta(days=1))
    journey.advance(hours=1)
    corrected(journey, correcting(earlier, collection.sequence), collection)
    assert journey.state.collections[0].collected_on == earlier.collected_on

    release = entry_of(journey, "product_released")
    command = path.product_release(
        journey.patient, product.released_on, journey.protocol, cells=product.total_viable_car_cells
    )
    fixed = correcting(path.amended(command, lot_number="SCV-2026-0043"), release.sequence)
    corrected(journey, fixed, release)
    assert journey.state.product is not None and journey.state.product.lot_number == "SCV-2026-0043"
    wrong_bag = correcting(path.amended(command, product_label_coi="TF-999-C1"), journey.events[-1].sequence)
    assert any("does not match this patient's cells" in r for r in journey.refused(wrong_bag))


# ---------------------------------------------------------------- after infusion, and the exits


def test_chemotherapy_resumption_and_a_death_are_corrected_and_the_report_follows() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    journey.move_to(infusion.day_zero + timedelta(days=30))
    journey.do(cmd.RecordChemotherapyResumed(actor=PHYSICIAN, resumed_on=journey.today, from_protocol_step=True))
    original = journey.events[-1]
    elsewhere = cmd.RecordChemotherapyResumed(actor=PHYSICIAN, resumed_on=journey.today, from_protocol_step=False)
    assert any("give the reason" in r for r in journey.refused(correcting(elsewhere, original.sequence)))
    fixed = cmd.RecordChemotherapyResumed(
        actor=PHYSICIAN, resumed_on=journey.today - timedelta(days=2), from_protocol_step=True
    )
    corrected(journey, correcting(fixed, original.sequence), original)
    assert journey.state.chemotherapy is not None and journey.state.chemotherapy.resumed_on == fixed.resumed_on
    assert journey.state.item("CHEMO").done_on == fixed.resumed_on

    journey.do(cmd.RecordDeath(actor=PHYSICIAN, died_on=journey.today, cause="sepsis", treatment_related=False))
    death = entry_of(journey, "patient_died")
    assert not patient_status(journey.state, journey.protocol, journey.now).dose_limiting_toxicity
    related = cmd.RecordDeath(actor=PHYSICIAN, died_on=journey.today, cause="sepsis", treatment_related=True)
    corrected(journey, correcting(related, death.sequence), death)
    assert patient_status(journey.state, journey.protocol, journey.now).dose_limiting_toxicity
    assert journey.state.phase is Phase.OFF_STUDY
    before_infusion = path.amended(related, died_on=infusion.day_zero - timedelta(days=1))
    reasons = journey.refused(correcting(before_infusion, journey.events[-1].sequence))
    assert any("is before the infusion" in r for r in reasons)


def test_a_withdrawal_date_is_corrected_and_only_the_current_exit_is() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.advance(days=2)
    journey.do(cmd.WithdrawConsent(actor=INVESTIGATOR, withdrawn_on=journey.today, reason="family moved abroad"))
    original = journey.events[-1]
    fixed = cmd.WithdrawConsent(
        actor=INVESTIGATOR, withdrawn_on=journey.today - timedelta(days=1), reason="family moved abroad"
    )
    corrected(journey, correcting(fixed, original.sequence), original)
    assert journey.state.exit is not None and journey.state.exit.on == fixed.withdrawn_on
    lost = cmd.RecordLostToFollowUp(actor=INVESTIGATOR, last_contact_on=journey.today, reason="no answer")
    assert journey.refused(correcting(lost, original.sequence)) == (
        f"entry {original.sequence} is not the loss to follow-up of this patient: nothing to correct",
    )


def test_a_correction_of_a_corrected_entry_is_refused() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.advance(days=1)
    journey.do(path.apheresis(journey.patient, journey.today))
    original = journey.events[-1]
    command = path.apheresis(journey.patient, journey.today - timedelta(days=0))
    journey.do(correcting(command, original.sequence))
    assert journey.refused(correcting(command, original.sequence)) == (
        f"entry {original.sequence} was already corrected by entry {journey.events[-1].sequence}: correct the latest "
        "one",
    )
