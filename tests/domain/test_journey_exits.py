"""Every way off the path ends the journey with its reason; relapse ends efficacy follow-up only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.journey import commands as cmd
from domain.journey.calendar import CHEMO_CODE, MRD_CODE, scheduled_items
from domain.journey.events import DiseaseAssessed
from domain.journey.notifications import Topic, Urgency, notifications_for
from domain.journey.phases import ExitReason, Phase
from domain.journey.timers import pending_timers
from domain.journey.views import patient_status
from domain.response import DiseaseOutsideMarrow, ExtramedullaryFinding, OtherDiseaseTest
from domain.roles import Role
from tests.domain.journey_driver import (
    COORDINATOR,
    INVESTIGATOR,
    PHYSICIAN,
    JourneyDriver,
    actor,
    crs_findings,
    marrow,
)

CELL_LAB = actor(Role.CELL_LAB)


def _exit(journey: JourneyDriver) -> tuple[Phase, ExitReason | None]:
    return journey.state.phase, journey.state.exit.reason if journey.state.exit else None


def test_screen_failure_names_every_failed_criterion() -> None:
    journey = JourneyDriver()
    journey.enroll(risk_group="high", induction_day46_mrd_percent=0.005, prior_car_t=True)
    assert journey.types() == ["patient_enrolled", "eligibility_assessed", "screen_failed"]
    assert _exit(journey) == (Phase.OFF_STUDY, ExitReason.SCREEN_FAILURE)
    failed = journey.events[-1].payload.failed  # type: ignore[union-attr]
    assert {f.code for f in failed} >= {"risk_group", "mrd_day46", "prior_car_t"}
    assert pending_timers(journey.state, journey.protocol) == []


def test_consent_declined_in_the_consent_phase() -> None:
    journey = JourneyDriver()
    journey.to_consent()
    journey.do(cmd.WithdrawConsent(actor=INVESTIGATOR, withdrawn_on=journey.today, reason="guardian declined"))
    assert _exit(journey) == (Phase.OFF_STUDY, ExitReason.CONSENT_WITHDRAWN)
    assert journey.events[-1].reason == "guardian declined"


def test_manufacturing_failure_allows_one_recollection_then_ends() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.collect()
    journey.advance(days=14)
    journey.do(
        cmd.RecordManufacturingFailure(actor=CELL_LAB, failed_on=journey.today, reason="transduction below spec")
    )
    assert journey.state.phase is Phase.APHERESIS
    first_coi = journey.state.chain_of_identity

    journey.collect()
    assert journey.state.chain_of_identity != first_coi
    assert journey.state.collections[-1].collection_number == 2
    assert journey.state.chain_of_identity is not None and "-C02-" in journey.state.chain_of_identity

    journey.advance(days=14)
    journey.do(cmd.RecordManufacturingFailure(actor=CELL_LAB, failed_on=journey.today, reason="sterility failure"))
    assert _exit(journey) == (Phase.OFF_STUDY, ExitReason.MANUFACTURING_FAILURE)


def test_the_first_collections_bag_cannot_be_released_after_recollection() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.collect()
    first_coi = journey.state.chain_of_identity
    journey.do(cmd.RecordManufacturingFailure(actor=CELL_LAB, failed_on=journey.today, reason="out of spec"))
    journey.collect()
    reasons = journey.refused(
        cmd.RecordProductRelease(
            actor=CELL_LAB,
            product_label_coi=first_coi or "",
            lot_number="L2",
            total_viable_car_cells=1e8,
            released_on=journey.today,
        )
    )
    assert "collection 1" in reasons[0] and "collection 2" in reasons[0]


def test_product_below_minimum_waits_for_the_investigator() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion(cells=4.0e7)  # below 2e6/kg x 22 kg = 4.4e7
    journey.prescribe()
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert "PRODUCT-DECISION" in [d.code for d in status.due]
    journey.give_lymphodepletion()
    journey.move_to(journey.today + timedelta(days=2))
    reasons = journey.refused(journey.infusion_command(cells_infused=4.0e7))
    assert reasons == (
        "4.00e+07 cells is below the minimum of 4.40e+07 cells for 22 kg: the investigator must decide to "
        "infuse it as a deviation first",
    )
    journey.do(cmd.DecideOutOfSpecProduct(actor=INVESTIGATOR, decision="infuse_as_deviation", reason="no alternative"))
    journey.do(journey.infusion_command(cells_infused=4.0e7))
    assert journey.state.infusion is not None
    assert "infused as a deviation" in journey.state.infusion.deviations[0]


def test_product_below_minimum_can_be_remanufactured_once() -> None:
    journey = JourneyDriver()
    journey.to_lymphodepletion(cells=4.0e7)
    journey.prescribe()
    journey.do(cmd.DecideOutOfSpecProduct(actor=INVESTIGATOR, decision="remanufacture", reason="retained cells"))
    assert journey.state.phase is Phase.MANUFACTURING
    assert journey.state.product is None and journey.state.lymphodepletion is None
    journey.release(cells=3.0e7)
    journey.prescribe()
    reasons = journey.refused(cmd.DecideOutOfSpecProduct(actor=INVESTIGATOR, decision="remanufacture", reason="again"))
    assert "the protocol's one re-collection or re-manufacture has been used" in reasons[0]


def test_infusion_window_expiry_escalates_then_infusion_not_given_ends() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    fired = journey.run_timers_until(journey.at_site(completed.infusion_window_closes + timedelta(days=1), hour=12))
    assert [e.type for e in fired] == ["infusion_window_expired"]
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.overdue is True
    assert "LATE-INFUSION" in [d.code for d in status.due]
    journey.do(cmd.RecordInfusionNotGiven(actor=INVESTIGATOR, reason="persistent fungal infection"))
    assert _exit(journey) == (Phase.OFF_STUDY, ExitReason.INFUSION_NOT_GIVEN)


def test_late_infusion_approved_by_the_investigator_is_a_recorded_deviation() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    completed = journey.state.lymphodepletion_completed
    assert completed is not None
    journey.move_to(completed.infusion_window_closes + timedelta(days=2))
    assert journey.state.infusion_window_expired
    journey.do(cmd.ApproveInfusionOutsideWindow(actor=INVESTIGATOR, reason="infection resolved"))
    journey.do(journey.infusion_command())
    assert journey.state.infusion is not None
    assert "16 days after the last lymphodepletion dose" in journey.state.infusion.deviations[0]


def test_death_ends_the_journey_and_opens_a_safety_report_that_outlives_it() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=3)
    journey.do(cmd.RecordDeath(actor=PHYSICIAN, died_on=journey.today, cause="sepsis", treatment_related=True))
    assert _exit(journey) == (Phase.OFF_STUDY, ExitReason.DEATH)
    assert journey.state.treatment_related_death
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.dose_limiting_toxicity is True
    assert status.primary_endpoint == "not_cr"
    [report] = journey.state.open_expedited_reports
    timers = pending_timers(journey.state, journey.protocol)
    assert [t.command.kind for t in timers] == ["mark_expedited_report_overdue"]
    journey.do(
        cmd.ConfirmExpeditedReport(
            actor=INVESTIGATOR, report_id=report.report_id, submitted_at=journey.now, sponsor_reference="SP-1"
        )
    )
    assert pending_timers(journey.state, journey.protocol) == []


def test_lost_to_follow_up() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=60)
    journey.do(
        cmd.RecordLostToFollowUp(actor=COORDINATOR, last_contact_on=journey.today - timedelta(days=20), reason="moved")
    )
    assert _exit(journey) == (Phase.OFF_STUDY, ExitReason.LOST_TO_FOLLOW_UP)
    assert journey.state.exit is not None
    assert journey.state.exit.on == journey.today - timedelta(days=20)


def test_investigator_decision_takes_a_patient_off_study() -> None:
    journey = JourneyDriver()
    journey.to_apheresis()
    journey.do(cmd.TakeOffStudy(actor=INVESTIGATOR, reason="non-compliance with protocol visits"))
    assert _exit(journey) == (Phase.OFF_STUDY, ExitReason.INVESTIGATOR_DECISION)
    reasons = journey.refused(cmd.RecordApheresis(actor=actor(Role.APHERESIS_UNIT), collected_on=journey.today))
    assert reasons == ("cannot record apheresis: TF-001 is off study",)


def test_relapse_ends_efficacy_follow_up_but_survival_follow_up_goes_on() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    journey.move_to(infusion.day_zero + timedelta(days=20))
    journey.do(
        cmd.RecordDiseaseAssessment(
            actor=PHYSICIAN,
            marrow=marrow(journey.today, marrow_blasts_percent=8.0, mrd_flow_percent=7.5),
            other_tests=(OtherDiseaseTest(method="pcr", leukemia_percent=3.0),),
        )
    )
    assert journey.types()[-1] == "relapse_diagnosed"
    assert journey.state.phase is Phase.SURVIVAL_FOLLOW_UP
    codes = [i.code for i in scheduled_items(journey.state, journey.protocol)]
    assert MRD_CODE not in codes  # day 20 is before the MRD window: after relapse it no longer applies
    assert CHEMO_CODE not in codes
    assert "Y15" in codes
    reasons = journey.refused(
        cmd.RecordChemotherapyResumed(actor=PHYSICIAN, resumed_on=journey.today, from_protocol_step=True)
    )
    assert reasons == ("cannot record chemotherapy resumption: TF-001 is in survival follow-up after relapse",)
    # Eras still advance, the phase stays survival follow-up.
    journey.run_timers_until(journey.at_site(infusion.day_zero + timedelta(days=400)))
    assert journey.state.phase is Phase.SURVIVAL_FOLLOW_UP
    assert journey.state.era is Phase.FOLLOW_UP
    assert patient_status(journey.state, journey.protocol, journey.now).primary_endpoint == "not_cr"


def test_the_marrows_own_flow_mrd_does_not_confirm_its_own_blasts() -> None:
    """Protocol, "Response": the marrow sample's own flow MRD is not an "other test"; the journey judges as
    `assess_relapse` does."""
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=40)
    journey.do(
        cmd.RecordDiseaseAssessment(
            actor=PHYSICIAN, marrow=marrow(journey.today, marrow_blasts_percent=8.0, mrd_flow_percent=7.5)
        )
    )
    assert journey.types()[-1] == "disease_assessed"
    assert journey.state.relapse is None
    # A separate flow-cytometry test (e.g. of the blood) does confirm.
    journey.advance(days=1)
    journey.do(
        cmd.RecordDiseaseAssessment(
            actor=PHYSICIAN,
            marrow=marrow(journey.today, marrow_blasts_percent=8.0, mrd_flow_percent=7.5),
            other_tests=(OtherDiseaseTest(method="flow_cytometry", leukemia_percent=2.0),),
        )
    )
    assert journey.types()[-1] == "relapse_diagnosed"


DSMB_MEMBER = actor(Role.DSMB, "dsmb.chair")


def test_the_dsmb_stop_takes_a_patient_not_yet_infused_off_study_and_refuses_the_next_step_with_the_reason() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.do(cmd.StopForTrial(actor=DSMB_MEMBER, decision_id="DSMB-7"))
    assert _exit(journey) == (Phase.OFF_STUDY, ExitReason.TRIAL_STOPPED)
    assert journey.events[-1].actor.user_id == "dsmb.chair"
    reasons = journey.refused(journey.infusion_command())
    assert any("off study (the DSMB stopped the trial)" in reason for reason in reasons), reasons
    # The same stop again, or another decision's: nothing more is recorded.
    before = len(journey.events)
    journey.do(cmd.StopForTrial(actor=DSMB_MEMBER, decision_id="DSMB-7"))
    journey.do(cmd.StopForTrial(actor=DSMB_MEMBER, decision_id="DSMB-8"))
    assert len(journey.events) == before


def test_the_dsmb_stop_keeps_an_infused_patient_in_safety_follow_up() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    journey.infuse()
    journey.do(cmd.StopForTrial(actor=DSMB_MEMBER, decision_id="DSMB-9"))
    assert journey.state.exit is None and journey.state.phase is Phase.TOXICITY_OBSERVATION
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert (status.trial_stopped_by_decision, status.trial_stopped_on) == ("DSMB-9", journey.today)
    assert status.due  # the follow-up's visits are still scheduled
    journey.do(cmd.AssessCrs(actor=PHYSICIAN, assessed_at=journey.now, findings=crs_findings(max_temperature_c=38.5)))


def test_only_the_dsmb_stops_the_trial_for_a_journey() -> None:
    journey = JourneyDriver()
    journey.to_infusion()
    reasons = journey.refused(cmd.StopForTrial(actor=INVESTIGATOR, decision_id="DSMB-10"), sign=False)
    assert any("must be done by the data and safety monitoring board" in reason for reason in reasons), reasons


@pytest.mark.parametrize(
    ("outside", "sites", "words"),
    [
        (DiseaseOutsideMarrow(cns_status="cns3"), ("cns",), "isolated CNS relapse: CSF CNS3 after remission"),
        (
            DiseaseOutsideMarrow(extramedullary=ExtramedullaryFinding(site="testis", proven_by="biopsy")),
            ("extramedullary",),
            "isolated extramedullary relapse: extramedullary disease (testis) proven by biopsy",
        ),
        (
            DiseaseOutsideMarrow(extramedullary=ExtramedullaryFinding(site="mediastinal mass", proven_by="imaging")),
            ("extramedullary",),
            "isolated extramedullary relapse: extramedullary disease (mediastinal mass) proven by imaging",
        ),
    ],
)
def test_isolated_cns_and_proven_extramedullary_relapse_are_relapses(
    outside: DiseaseOutsideMarrow, sites: tuple[str, ...], words: str
) -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=60)
    journey.do(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today), outside_marrow=outside))
    assert journey.types()[-2:] == ["disease_assessed", "relapse_diagnosed"]
    assessed = journey.events[-2].payload
    assert isinstance(assessed, DiseaseAssessed)
    assert assessed.relapse.sites == sites
    assert assessed.relapse.reason.startswith(words)
    assert journey.state.relapse is not None
    assert journey.state.phase is Phase.SURVIVAL_FOLLOW_UP
    assert patient_status(journey.state, journey.protocol, journey.now).relapse_on == journey.today


@pytest.mark.parametrize(
    "outside",
    [
        DiseaseOutsideMarrow(cns_status="cns2"),
        DiseaseOutsideMarrow(extramedullary=ExtramedullaryFinding(site="testis", proven_by=None)),
    ],
)
def test_cns2_and_unproven_extramedullary_disease_are_not_relapses(outside: DiseaseOutsideMarrow) -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    journey.advance(days=60)
    journey.do(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today), outside_marrow=outside))
    assert journey.types()[-1] == "disease_assessed"
    assert journey.state.relapse is None


def test_molecular_recurrence_is_recorded_but_is_not_a_relapse() -> None:
    journey = JourneyDriver()
    journey.to_follow_up()
    infusion = journey.state.infusion
    assert infusion is not None
    days = journey.protocol.response.molecular_recurrence_confirmation_days

    def assess(day: int, mrd: float) -> None:
        journey.move_to(infusion.day_zero + timedelta(days=day))
        journey.do(cmd.RecordDiseaseAssessment(actor=PHYSICIAN, marrow=marrow(journey.today, mrd_flow_percent=mrd)))

    assess(28, 0.001)  # MRD-negative
    assess(90, 0.05)  # positive again: not yet confirmed
    assess(90 + days - 1, 0.08)  # too soon to confirm
    assert journey.state.molecular_recurrence is None
    assess(90 + days, 0.1)
    assert journey.types()[-2:] == ["disease_assessed", "molecular_recurrence_confirmed"]
    recurrence = journey.state.molecular_recurrence
    assert recurrence is not None
    assert recurrence.first_positive_on == infusion.day_zero + timedelta(days=90)
    assert "not a relapse by itself" in recurrence.reason
    status = patient_status(journey.state, journey.protocol, journey.now)
    assert status.molecular_recurrence_on == journey.today
    assert status.relapse_on is None  # not an event-free-survival event
    assert journey.state.phase is not Phase.SURVIVAL_FOLLOW_UP
    [told] = notifications_for(journey.events[-1])
    assert (told.role, told.urgency, told.topic) == (Role.INVESTIGATOR, Urgency.SOON, Topic.MOLECULAR_RECURRENCE)
    assert told.body.startswith(f"Molecular recurrence confirmed on {journey.today.isoformat()}")
    assert "Not a relapse by itself" in told.body
