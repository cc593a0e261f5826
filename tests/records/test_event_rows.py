"""The mapper between domain events and stored rows: a journey's events survive the round trip unchanged."""

from __future__ import annotations

from datetime import timedelta
from typing import get_args

from domain.journey import commands as cmd
from domain.journey.envelope import SIGNATURE_KEY
from domain.journey.events import Event, EventPayload
from domain.toxicity import AdverseEvent, FeverMaskingDrug
from records.event_rows import to_event, to_row
from tests.domain.journey_driver import NURSE, PHYSICIAN, JourneyDriver, crs_findings
from workflows.journey_messages import timeline_entry


def infused_journey() -> list[Event]:
    journey = JourneyDriver()
    journey.to_follow_up()
    return journey.events


def test_every_event_reads_back_as_the_same_fact() -> None:
    events = infused_journey()
    assert [to_event(to_row(event)) for event in events] == events


def test_a_row_spells_the_envelope_flat() -> None:
    event = infused_journey()[0]
    row = to_row(event)
    assert (row.event_type, row.actor_user_id, row.actor_role) == (
        event.type,
        event.actor.user_id,
        "research_coordinator",
    )
    assert row.payload == event.payload.model_dump(mode="json")


def test_the_timeline_reads_the_same_from_the_event_and_from_its_row() -> None:
    for event in infused_journey():
        assert timeline_entry(to_event(to_row(event))) == timeline_entry(event)


def test_a_signed_entry_keeps_its_signature_in_the_hashed_payload_and_reads_back_with_it() -> None:
    events = infused_journey()
    signed = [event for event in events if event.signature is not None]
    assert {event.type for event in signed} >= {"eligibility_confirmed", "consent_signed", "cells_infused"}
    for event in signed:
        row = to_row(event)
        assert row.payload[SIGNATURE_KEY] == event.signature.model_dump(mode="json")  # type: ignore[union-attr]
        assert to_event(row) == event
    unsigned = next(event for event in events if event.signature is None)
    assert SIGNATURE_KEY not in to_row(unsigned).payload


def test_no_event_payload_has_a_field_named_as_the_reserved_signature_key() -> None:
    for payload in get_args(get_args(EventPayload)[0]):
        assert SIGNATURE_KEY not in payload.model_fields, payload.__name__


def test_doses_masked_grades_and_awareness_read_back_and_so_do_entries_made_before_them() -> None:
    """Issue 16's facts (a masking dose, a CRS grade naming it, a report's awareness) survive the round trip; a CRS
    entry stored with the old "fever masked" box reads back with it."""
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=1)
    journey.do(
        cmd.RecordFeverMaskingDose(actor=NURSE, drug=FeverMaskingDrug.TOCILIZUMAB, dose_mg=8, given_at=journey.now)
    )
    journey.advance(hours=1)
    findings = crs_findings(max_temperature_c=37.0, hypotension=True, vasopressors_excluding_vasopressin=1)
    journey.do(cmd.AssessCrs(actor=NURSE, assessed_at=journey.now, findings=findings))
    sae = AdverseEvent(
        term="sepsis",
        ctcae_grade=3,
        serious=True,
        related_to_car_t="unlikely",
        onset_date=journey.today,
        aware_at=journey.now - timedelta(hours=1),
    )
    journey.do(cmd.RecordAdverseEvent(actor=PHYSICIAN, adverse_event=sae))
    new = journey.events[-5:]
    assert [e.type for e in new] == [
        "fever_masking_dose_given",
        "crs_assessed",
        "expedited_report_opened",
        "adverse_event_recorded",
        "expedited_report_opened",
    ]
    assert [to_event(to_row(event)) for event in new] == new

    old = to_row(new[1])
    old.payload["findings"]["fever_masked_by_treatment"] = True
    old.payload.pop("fever_masked_by")
    read = to_event(old).payload
    assert read.findings.fever_masked_by_treatment is True  # type: ignore[union-attr]
