"""The chain of custody (protocol, "Product logistics"): every hand-off of the cells checked against the COI label,
in order, by the right role; a cold-chain excursion holds the infusion until the cell lab decides; the infusion
starts within 30 minutes of the end of thawing unless the investigator decides otherwise."""

from __future__ import annotations

from datetime import timedelta

from domain.journey import commands as cmd
from domain.journey.notifications import Topic, notifications_for
from domain.journey.phases import Phase
from domain.journey.views import patient_status
from domain.protocol import PROTOCOL_V1
from simulation import journey_steps as path
from simulation.journey_steps import Milestone
from tests.domain.journey_driver import CELL_LAB, INVESTIGATOR, NURSE, JourneyDriver

OTHER_PATIENTS_LABEL = path.chain_of_identity(path.PathPatient(study_id="TF-002"))


def _tracked() -> JourneyDriver:
    return JourneyDriver(chain_of_custody=True)


def _on_infusion_day(warmest_c: float = -180.0) -> JourneyDriver:
    """Released, received at the site with the logger at `warmest_c`, stored, lymphodepleted, on infusion day."""
    journey = _tracked()
    journey.walk_to(Milestone.RELEASED)
    journey.hand_off("shipped_to_site")
    journey.hand_off("received_at_site", logger_max_temperature_c=warmest_c)
    journey.hand_off("stored")
    journey.prescribe()
    journey.give_lymphodepletion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None and journey.state.phase is Phase.INFUSION
    journey.move_to(completed.infusion_window_opens)
    return journey


def test_the_protocols_cold_chain_and_thaw_limits_have_one_home() -> None:
    assert PROTOCOL_V1.custody.max_shipping_temperature_c == -150.0
    assert PROTOCOL_V1.custody.max_minutes_thaw_to_infusion == 30


def test_the_shared_path_walks_every_hand_off_and_the_status_says_where_the_cells_are() -> None:
    journey = _tracked()
    journey.walk_to(Milestone.RELEASED)
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.custody is not None and status.custody.step == "released"
    journey.hand_off("shipped_to_site")
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.custody is not None
    assert (status.custody.step, status.custody.since, status.custody.hold) == ("shipped_to_site", journey.now, None)
    journey = _tracked()
    journey.walk_to(Milestone.INFUSED)
    steps = [r.step for r in journey.state.current_custody]
    assert steps == [
        "shipped_to_manufacturer",
        "received_by_manufacturer",
        "manufacturing_started",
        "shipped_to_site",
        "received_at_site",
        "stored",
        "thawed",
    ]
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.custody is not None and status.custody.step == "infused"
    assert status.deviations == ()


def test_a_hand_off_with_another_patients_label_is_refused_and_changes_nothing() -> None:
    journey = _tracked()
    journey.walk_to(Milestone.COLLECTED)
    command = path.hand_off(journey.patient, "shipped_to_manufacturer", journey.now)
    reasons = journey.refused(path.amended(command, product_label_coi=OTHER_PATIENTS_LABEL))
    assert reasons == (
        "STOP: the label does not match this patient's cells: the bag belongs to TF-002 collection 1, not to this "
        "patient's TF-001 collection 1",
    )
    mistyped = journey.refused(path.amended(command, product_label_coi=command.product_label_coi[:-1] + "0"))
    assert "a character was misread or mistyped" in mistyped[0]


def test_a_hand_off_out_of_order_or_by_the_wrong_role_is_refused_with_the_reason() -> None:
    journey = _tracked()
    journey.walk_to(Milestone.COLLECTED)
    received = path.hand_off(journey.patient, "received_by_manufacturer", journey.now)
    assert journey.refused(received) == (
        "out of order: the cells are collected; the next hand-off to record is shipped to the manufacturer, not "
        "received by the manufacturer",
    )
    shipped = path.hand_off(journey.patient, "shipped_to_manufacturer", journey.now)
    assert journey.refused(path.amended(shipped, actor=NURSE)) == (
        "a nurse cannot record the cells shipped to the manufacturer; this must be done by the apheresis unit or "
        "the cell lab",
    )
    journey.hand_off("shipped_to_manufacturer")
    assert "already recorded shipped to the manufacturer" in journey.refused(shipped)[0]
    # The release follows the start of manufacturing.
    release = path.product_release(journey.patient, journey.today, journey.protocol)
    assert journey.refused(release) == (
        "out of order: the cells are shipped to the manufacturer "
        f"({journey.now.isoformat()}); record the start of manufacturing before the release",
    )


def test_a_hand_off_dated_before_the_collection_or_the_release_it_follows_is_refused() -> None:
    journey = _tracked()
    journey.walk_to(Milestone.RELEASED)
    product = journey.state.product
    assert product is not None
    early = journey.at_site(product.released_on - timedelta(days=1), hour=12)
    reasons = journey.refused(path.hand_off(journey.patient, "shipped_to_site", early))
    assert reasons == (
        f"the cells were shipped to the site on {early.date().isoformat()}, before the product was released "
        f"({product.released_on.isoformat()})",
    )


def test_a_release_corrected_to_before_manufacturing_started_is_refused() -> None:
    journey = _tracked()
    journey.walk_to(Milestone.RELEASED)
    started = journey.state.custody_step("manufacturing_started")
    release = next(e for e in journey.events if e.type == "product_released")
    assert started is not None
    day_before = journey.at_site(release.payload.released_on).date() - timedelta(days=30)  # type: ignore[union-attr]
    command = path.product_release(journey.patient, day_before, journey.protocol)
    correction = cmd.Correction(supersedes_sequence=release.sequence, reason="date typed wrong")
    reasons = journey.refused(path.amended(command, correction=correction))
    assert any("is before manufacturing started" in reason for reason in reasons)


def test_the_logger_is_read_at_the_sites_receipt_only() -> None:
    journey = _tracked()
    journey.walk_to(Milestone.RELEASED)
    journey.hand_off("shipped_to_site")
    unread = path.hand_off(journey.patient, "received_at_site", journey.now)
    assert journey.refused(path.amended(unread, logger_max_temperature_c=None)) == (
        "read the shipper's temperature logger: give the warmest temperature it recorded",
    )
    stored = path.hand_off(journey.patient, "stored", journey.now, logger_max_temperature_c=-170.0)
    reasons = journey.refused(stored)
    assert "the temperature logger is read at the site's receipt only: leave the temperature empty" in reasons


def test_an_excursion_holds_the_infusion_until_the_cell_lab_releases_it_as_a_deviation() -> None:
    journey = _on_infusion_day(warmest_c=-120.0)
    [received] = [r for r in journey.state.current_custody if r.step == "received_at_site"]
    assert received.excursion
    journey.thaw()
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.custody is not None
    assert status.custody.hold == "temperature excursion (-120 °C): awaiting the cell lab's decision"
    assert journey.refused(journey.infusion_command()) == (
        "hold the infusion: the shipper's logger read -120 °C, warmer than -150 °C; the cell lab must decide on the "
        "product first",
    )
    decision = cmd.DecideTemperatureExcursion(actor=CELL_LAB, decision="release_as_deviation", reason="validated")
    assert any("sign" in reason for reason in journey.refused(decision, sign=False))  # a decision is signed
    journey.do(decision)
    assert journey.events[-1].signature is not None  # the decision is signed
    assert "the cell lab has already decided" in journey.refused(decision)[0]
    journey.do(journey.infusion_command())
    assert journey.state.infusion is not None
    assert journey.state.infusion.deviations == (
        "the shipper's logger read -120 °C, warmer than -150 °C (released for infusion as a deviation by the cell lab)",
    )


def test_an_excursion_tells_the_cell_lab_and_the_investigator_at_once() -> None:
    journey = _on_infusion_day(warmest_c=-120.0)
    [received] = [e for e in journey.events if getattr(e.payload, "step", None) == "received_at_site"]
    notes = notifications_for(received)
    assert [(n.role.value, n.topic) for n in notes] == [
        ("cell_lab", Topic.TEMPERATURE_EXCURSION),
        ("investigator", Topic.TEMPERATURE_EXCURSION),
    ]
    assert "read -120 °C at the site's receipt" in notes[0].body and "infusion is held" in notes[0].body
    cold = _on_infusion_day()
    [received] = [e for e in cold.events if getattr(e.payload, "step", None) == "received_at_site"]
    assert notifications_for(received) == []


def test_a_rejected_product_is_never_infused() -> None:
    journey = _on_infusion_day(warmest_c=-140.0)
    journey.do(cmd.DecideTemperatureExcursion(actor=CELL_LAB, decision="reject", reason="cold chain broken"))
    journey.thaw()
    assert journey.refused(journey.infusion_command()) == (
        "do not infuse: the cell lab rejected the product (the shipper's logger read -140 °C, warmer than -150 °C)",
    )


def test_a_cold_shipment_needs_no_decision() -> None:
    journey = _on_infusion_day()
    decision = cmd.DecideTemperatureExcursion(actor=CELL_LAB, decision="reject", reason="no")
    assert journey.refused(decision) == ("no temperature excursion of this patient's cells awaits a decision",)


def test_the_infusion_needs_the_thaw_and_more_than_30_minutes_after_it_needs_the_investigator() -> None:
    journey = _on_infusion_day()
    assert journey.refused(journey.infusion_command()) == (
        f"the cells are stored at the site ({journey.state.custody_step('stored').at.isoformat()}): "  # type: ignore[union-attr]
        "record them thawed before the infusion",
    )
    journey.hand_off("thawed")
    approval = cmd.ApproveLateInfusionAfterThaw(actor=INVESTIGATOR, reason="line blocked, replaced")
    assert "no approval is needed yet" in journey.refused(approval)[0]
    journey.advance(minutes=45)
    assert journey.refused(journey.infusion_command()) == (
        "the infusion started 45 minutes after the end of thawing, more than 30: the investigator must decide first",
    )
    journey.do(approval)
    assert journey.events[-1].signature is not None  # the investigator's decision is signed
    journey.do(journey.infusion_command())
    assert journey.state.infusion is not None
    assert journey.state.infusion.deviations == (
        "the infusion started 45 minutes after the end of thawing, more than 30 (approved by the investigator)",
    )


def test_an_infusion_within_30_minutes_of_the_thaw_is_no_deviation() -> None:
    journey = _on_infusion_day()
    journey.hand_off("thawed")
    journey.advance(minutes=30)
    journey.do(journey.infusion_command())
    assert journey.state.infusion is not None and journey.state.infusion.deviations == ()


def test_a_journey_enrolled_before_the_hand_offs_were_required_is_infused_without_them() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion()
    journey.state = journey.state.model_copy(update={"custody": ()})  # as recorded then: no hand-offs at all
    assert not journey.state.chain_of_custody
    journey.prescribe()
    journey.give_lymphodepletion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    journey.move_to(completed.infusion_window_opens)
    journey.do(journey.infusion_command())
    assert journey.state.infusion is not None


def test_a_hand_off_is_corrected_signed_and_rechecked_between_its_neighbours() -> None:
    journey = _tracked()
    journey.walk_to(Milestone.RELEASED)
    journey.hand_off("shipped_to_site")
    sent = journey.state.custody_step("shipped_to_site")
    assert sent is not None
    journey.advance(hours=2)
    journey.hand_off("received_at_site")
    received = journey.state.custody_step("received_at_site")
    assert received is not None
    correction = cmd.Correction(supersedes_sequence=received.sequence, reason="logger read again")
    command = path.hand_off(journey.patient, "received_at_site", sent.at - timedelta(minutes=1))
    reasons = journey.refused(path.amended(command, correction=correction))
    assert reasons == (
        f"the time the cells were received at the site {(sent.at - timedelta(minutes=1)).isoformat()} is before "
        f"the cells were shipped to the site ({sent.at.isoformat()})",
    )
    fixed_at = sent.at + timedelta(hours=1)
    journey.do(path.amended(command, at=fixed_at, logger_max_temperature_c=-175.0, correction=correction))
    assert journey.events[-1].signature is not None  # every correction is signed
    corrected = journey.state.custody_step("received_at_site")
    assert corrected is not None
    assert (corrected.at, corrected.logger_max_temperature_c, corrected.excursion) == (fixed_at, -175.0, False)
    entry = journey.state.entry(received.sequence)
    assert entry is not None and entry.superseded_by == journey.events[-1].sequence


def test_thawed_cells_not_infused_in_time_tell_the_investigator_at_once_and_only_once() -> None:
    journey = _on_infusion_day()
    journey.hand_off("thawed")
    thawed = journey.state.custody_step("thawed")
    assert thawed is not None
    limit = thawed.at + timedelta(minutes=PROTOCOL_V1.custody.max_minutes_thaw_to_infusion)
    assert journey.run_timers_until(limit - timedelta(seconds=1)) == []  # still on time
    [late] = journey.run_timers_until(limit + timedelta(hours=2))  # once, however long it waits
    assert late.type == "infusion_late_after_thaw" and late.occurred_at == limit
    [note] = notifications_for(late)
    assert (note.role.value, note.topic, note.urgency.value) == (
        "investigator",
        Topic.INFUSION_LATE_AFTER_THAW,
        "immediate",
    )
    assert note.facts.due_at == limit and note.facts.chain_of_identity == journey.state.chain_of_identity
    assert "Decide now" in note.body
    approval = cmd.ApproveLateInfusionAfterThaw(actor=INVESTIGATOR, reason="line blocked, replaced")
    journey.do(approval)
    journey.do(journey.infusion_command())
    assert journey.state.infusion is not None


def test_no_late_thaw_alert_when_infused_on_time_or_approved_first() -> None:
    on_time = _on_infusion_day()
    on_time.hand_off("thawed")
    on_time.advance(minutes=20)
    on_time.do(on_time.infusion_command())
    assert not any(
        e.type == "infusion_late_after_thaw" for e in on_time.run_timers_until(on_time.now + timedelta(hours=1))
    )


def test_a_thaw_entered_after_its_limit_passed_raises_no_alert_but_a_late_infusion_still_needs_the_investigator() -> (
    None
):
    journey = _on_infusion_day()
    journey.hand_off("thawed", at=journey.now - timedelta(minutes=75))  # entered from the chart afterwards
    assert not any(e.type == "infusion_late_after_thaw" for e in journey.run_timers_until(journey.now))
    assert journey.refused(journey.infusion_command()) == (
        "the infusion started 75 minutes after the end of thawing, more than 30: the investigator must decide first",
    )
    on_time = path.amended(journey.infusion_command(), infused_at=journey.now - timedelta(minutes=60))
    journey.do(on_time)
    assert journey.state.infusion is not None and journey.state.infusion.deviations == ()
