"""Electronic signatures on the journey (21 CFR Part 11): the steps the registry marks signed are refused without a
valid signature of the person making the entry, bound to the entry by its SHA-256; signed entries keep it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.journey import CommandRejected, decide
from domain.journey import commands as cmd
from domain.journey.calendar import primary_endpoint_visit
from domain.journey.phases import Phase
from domain.journey.views import patient_status
from domain.signature import Signature, SignatureMeaning, sign, signed_content_sha256
from domain.toxicity import AdverseEvent, Consciousness
from simulation.journey_steps import signed
from tests.domain.journey_driver import (
    INVESTIGATOR,
    LAB,
    NURSE,
    PHYSICIAN,
    JourneyDriver,
    crs_findings,
    icans_findings,
    marrow,
)

MUST_SIGN = "this step must be electronically signed"


def _accepted_unsigned(journey: JourneyDriver, command: cmd.StaffCommand) -> None:
    """`command` accepted without a signature, and recorded unsigned."""
    events = decide(journey.state, command, journey.now, journey.protocol)
    assert events and all(event.signature is None for event in events)


def _signed_by(command: cmd.StaffCommand, user_id: str, at: datetime) -> cmd.StaffCommand:
    return sign(
        command.model_copy(update={"signature": None}),
        signer_user_id=user_id,
        printed_name="Dr Li Wei",
        signed_at=at,
        meaning=SignatureMeaning.AUTHOR,
    )


def _on_infusion_day() -> JourneyDriver:
    journey = JourneyDriver()
    journey.to_infusion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    journey.move_to(completed.last_dose_on + timedelta(days=2), hour=9)
    return journey


def test_each_always_signed_step_is_refused_unsigned_naming_why_and_nothing_changes() -> None:
    journey = JourneyDriver()
    journey.enroll()
    reasons = journey.refused(cmd.ConfirmEligibility(actor=INVESTIGATOR), sign=False)
    assert reasons == (f"{MUST_SIGN}: it is one of the protocol's signed steps; sign it with your signing PIN",)


def test_a_signed_step_keeps_its_signature_in_every_event_and_is_bound_to_the_entry() -> None:
    journey = _on_infusion_day()
    infusion = signed(journey.infusion_command(), journey.now)
    assert infusion.signature is not None
    assert journey.refused(infusion.model_copy(update={"signature": None}), sign=False) == (
        f"{MUST_SIGN}: it is one of the protocol's signed steps; sign it with your signing PIN",
    )
    events = journey.do(infusion)
    assert events and all(event.signature == infusion.signature for event in events)
    signature = infusion.signature
    assert signature.signed_sha256 == signed_content_sha256(infusion)
    assert signature.signer_user_id == infusion.actor.user_id
    assert journey.state.phase is Phase.TOXICITY_OBSERVATION


def test_a_signature_over_other_values_is_refused() -> None:
    journey = _on_infusion_day()
    infusion = signed(journey.infusion_command(), journey.now)
    # The signature made for 66 million cells, carried by an entry saying 70 million.
    tampered = infusion.model_copy(update={"cells_infused": 7.0e7})
    reasons = journey.refused(tampered, sign=False)
    assert reasons == (
        "the signature does not match this entry: it was signed over other values; check the entry and sign it "
        "with your signing PIN again",
    )


def test_the_patients_status_lists_each_signed_entry_once_with_its_manifestation() -> None:
    journey = _on_infusion_day()  # eligibility, consent and product release were signed on the way
    journey.do(signed(journey.infusion_command(), journey.now))
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert [entry.event_type for entry in status.signatures] == [
        "eligibility_confirmed",
        "consent_signed",
        "product_released",
        "cells_infused",
    ]
    assert len({entry.signature for entry in status.signatures}) == 4, "each signed entry once"
    assert all(entry.signature.printed_name and entry.signature.signed_at.utcoffset() is not None
               for entry in status.signatures)  # fmt: skip
    assert [entry.sequence for entry in status.signatures] == sorted(entry.sequence for entry in status.signatures)


def test_a_signature_of_someone_else_than_the_actor_is_refused() -> None:
    journey = JourneyDriver()
    journey.enroll()
    confirmation = _signed_by(cmd.ConfirmEligibility(actor=INVESTIGATOR), "dr.other", journey.now)
    assert journey.refused(confirmation, sign=False) == (
        f"the signature is dr.other's but {INVESTIGATOR.user_id} is making this entry: only the person making an "
        "entry may sign it",
    )


def test_a_signature_dated_in_the_future_is_refused() -> None:
    journey = JourneyDriver()
    journey.enroll()
    later = journey.now + timedelta(hours=1)
    confirmation = _signed_by(cmd.ConfirmEligibility(actor=INVESTIGATOR), INVESTIGATOR.user_id, later)
    (reason,) = journey.refused(confirmation, sign=False)
    assert reason.startswith("the signature is dated") and reason.endswith("in the future")


def test_the_signature_reason_comes_with_every_other_reason() -> None:
    journey = JourneyDriver()
    journey.enroll()
    # A nurse confirming eligibility, unsigned: both reasons at once.
    reasons = journey.refused(cmd.ConfirmEligibility(actor=NURSE), sign=False)
    assert len(reasons) == 2
    assert any(MUST_SIGN in reason for reason in reasons)


def test_a_signature_keeps_the_site_offset_it_was_made_with() -> None:
    journey = JourneyDriver()
    journey.enroll()
    site = journey.now.astimezone(timezone(timedelta(hours=8)))
    confirmation = _signed_by(cmd.ConfirmEligibility(actor=INVESTIGATOR), INVESTIGATOR.user_id, site)
    (event,) = journey.do(confirmation)
    assert event.signature is not None
    assert event.signature.signed_at.utcoffset() == timedelta(hours=8)
    restored = Signature.model_validate_json(event.signature.model_dump_json())
    assert restored.signed_at.isoformat() == site.isoformat()


# ---------------------------------------------------------------- signed only when a condition holds


def _after_infusion() -> JourneyDriver:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(hours=4)
    return journey


def test_crs_is_signed_from_grade_3_computed_from_the_findings() -> None:
    journey = _after_infusion()
    _accepted_unsigned(journey, cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings()))
    grade_3 = cmd.AssessCrs(
        actor=NURSE,
        assessed_at=journey.now,
        findings=crs_findings(max_temperature_c=39.2, hypotension=True, vasopressors_excluding_vasopressin=1),
    )
    assert journey.refused(grade_3, sign=False) == (
        f"{MUST_SIGN}: the CRS grade is 3 (3 or higher is signed); sign it with your signing PIN",
    )
    events = journey.do(signed(grade_3, journey.now))
    assert [event.type for event in events] == ["crs_assessed", "expedited_report_opened"]
    assert all(event.signature is not None for event in events)


def test_icans_is_signed_from_grade_3() -> None:
    journey = _after_infusion()
    _accepted_unsigned(journey, cmd.AssessIcans(actor=NURSE, assessed_at=journey.now, findings=icans_findings()))
    grade_4 = cmd.AssessIcans(
        actor=NURSE, assessed_at=journey.now, findings=icans_findings(consciousness=Consciousness.UNAROUSABLE)
    )
    (reason,) = journey.refused(grade_4, sign=False)
    assert reason.startswith(f"{MUST_SIGN}: the ICANS grade is 4")


def test_an_adverse_event_is_signed_when_serious_or_from_grade_3() -> None:
    journey = _after_infusion()

    def event(grade: int, serious: bool) -> cmd.RecordAdverseEvent:
        return cmd.RecordAdverseEvent(
            actor=PHYSICIAN,
            adverse_event=AdverseEvent(
                term="Febrile neutropenia",
                ctcae_grade=grade,
                serious=serious,
                related_to_car_t="possible",
                onset_date=journey.today,
            ),
        )

    _accepted_unsigned(journey, event(2, serious=False))
    assert journey.refused(event(2, serious=True), sign=False) == (
        f"{MUST_SIGN}: the adverse event is serious (an SAE); sign it with your signing PIN",
    )
    assert journey.refused(event(3, serious=False), sign=False) == (
        f"{MUST_SIGN}: the adverse event is CTCAE grade 3 (3 or higher is signed); sign it with your signing PIN",
    )


def test_every_correction_is_signed_even_of_an_unsigned_entry() -> None:
    journey = _after_infusion()
    (first,) = journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=crs_findings()))
    assert first.signature is not None  # the driver signs what may be signed; a grade 1 needs none (above)
    correction = cmd.AssessCrs(
        actor=NURSE,
        assessed_at=journey.now,
        findings=crs_findings(max_temperature_c=38.4),
        correction=cmd.Correction(supersedes_sequence=first.sequence, reason="temperature misread"),
    )
    assert journey.refused(correction, sign=False) == (
        f"{MUST_SIGN}: it corrects an earlier entry; sign it with your signing PIN",
    )
    journey.do(signed(correction, journey.now))


def test_the_one_year_response_assessment_is_signed_and_the_day_28_marrow_is_not() -> None:
    journey = _after_infusion()
    day_28 = cmd.RecordDiseaseAssessment(actor=LAB, marrow=marrow(journey.today))
    _accepted_unsigned(journey, day_28)
    visit = primary_endpoint_visit(journey.state, journey.protocol)
    assert visit is not None
    journey.move_to(visit.target_date, hour=10)
    one_year = cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today))
    assert journey.refused(one_year, sign=False) == (
        f"{MUST_SIGN}: it is the one-year response assessment; sign it with your signing PIN",
    )
    journey.do(one_year)


def test_replaying_an_entry_made_before_signatures_were_required_accepts_it_unsigned() -> None:
    journey = JourneyDriver()
    journey.enroll()
    unsigned = cmd.ConfirmEligibility(actor=INVESTIGATOR)
    events = decide(journey.state, unsigned, journey.now, journey.protocol, signatures_required=False)
    assert [event.signature for event in events] == [None]
    # A signature given is checked all the same.
    forged = _signed_by(unsigned, "dr.other", journey.now)
    with pytest.raises(CommandRejected, match="only the person making an entry may sign it"):
        decide(journey.state, forged, journey.now, journey.protocol, signatures_required=False)


def test_a_signature_needs_an_aware_time_and_a_printed_name() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Signature(
            signer_user_id="dr.li",
            printed_name="Dr Li",
            signed_at=datetime(2026, 1, 5, 9, 0),
            meaning=SignatureMeaning.AUTHOR,
            signed_sha256="0" * 64,
        )
    with pytest.raises(ValueError, match="printed_name"):
        Signature(
            signer_user_id="dr.li",
            printed_name="  ",
            signed_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            meaning=SignatureMeaning.AUTHOR,
            signed_sha256="0" * 64,
        )
