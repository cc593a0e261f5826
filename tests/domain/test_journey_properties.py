"""Properties of the decider over random command sequences, right and wrong, from any role at any time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import event as observe
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.journey import CommandRejected, decide, fold, initial_state
from domain.journey import commands as cmd
from domain.journey.calendar import scheduled_items
from domain.journey.notifications import notifications_for
from domain.journey.permissions import ALLOWED_ROLES
from domain.journey.phases import Phase
from domain.journey.timers import due_timers
from domain.roles import Actor, Role
from domain.toxicity import AdverseEvent, OxygenSupport
from tests.domain.journey_driver import JourneyDriver, crs_findings, icans_findings, marrow, screening

Build = Callable[[JourneyDriver, st.DataObject, Actor], cmd.Command]


def _label(j: JourneyDriver, data: st.DataObject) -> str:
    good = j.state.chain_of_identity or "COI-TF001-C01-0"
    return data.draw(st.sampled_from([good, good.replace("TF001", "TF002"), "COI-XX", good.lower()]))


def _day(j: JourneyDriver, data: st.DataObject) -> timedelta:
    return timedelta(days=data.draw(st.integers(-40, 3)))


ACTIONS: list[Build] = [
    lambda j, d, a: cmd.EnrollPatient(
        actor=a,
        study_id=d.draw(st.sampled_from(["TF-001", "TF-002"])),
        screening=screening(
            induction_day46_mrd_percent=d.draw(st.sampled_from([0.0, 0.009, 0.01, 2.0])),
            screening_date=j.today + _day(j, d),
        ),
    ),
    lambda j, d, a: cmd.ConfirmEligibility(actor=a),
    lambda j, d, a: cmd.RecordConsent(
        actor=a,
        guardian_consent_signed_on=j.today + _day(j, d),
        consent_form_version="v1",
        child_assent_obtained=d.draw(st.sampled_from([True, False, None])),
    ),
    lambda j, d, a: cmd.RecordApheresis(actor=a, collected_on=j.today + _day(j, d)),
    lambda j, d, a: cmd.RecordProductRelease(
        actor=a,
        product_label_coi=_label(j, d),
        lot_number="L1",
        total_viable_car_cells=d.draw(st.sampled_from([1e6, 4.4e7, 1e8, 5e9])),
        released_on=j.today + _day(j, d),
    ),
    lambda j, d, a: cmd.RecordManufacturingFailure(actor=a, failed_on=j.today, reason="out of spec"),
    lambda j, d, a: cmd.PrescribeLymphodepletion(
        actor=a,
        height_cm=d.draw(st.floats(60, 190)),
        weight_kg=d.draw(st.floats(8, 90)),
        creatinine_clearance_ml_min_173m2=d.draw(st.sampled_from([20.0, 29.9, 30.0, 55.0, 70.0, 70.1, 120.0])),
        renal_adjustment=d.draw(st.sampled_from(["accept", "decline", None])),
        planned_start_on=j.today + timedelta(days=d.draw(st.integers(-2, 3))),
    ),
    lambda j, d, a: cmd.RecordLymphodepletionDose(
        actor=a,
        drug=d.draw(st.sampled_from(["fludarabine", "cyclophosphamide"])),
        day_number=d.draw(st.integers(1, 5)),
        dose_mg=d.draw(st.sampled_from([1.0, 25.7, 428.0, 4280.0])),
        given_at=j.now - timedelta(hours=d.draw(st.integers(0, 30))),
        deviation_reason=d.draw(st.sampled_from([None, "vomited half"])),
    ),
    lambda j, d, a: cmd.DecideOutOfSpecProduct(
        actor=a, decision=d.draw(st.sampled_from(["infuse_as_deviation", "remanufacture"])), reason="r"
    ),
    lambda j, d, a: cmd.ApproveInfusionOutsideWindow(actor=a, reason="clinically stable"),
    lambda j, d, a: j.infusion_command(
        actor=a,
        product_label_coi=_label(j, d),
        cells_infused=d.draw(st.sampled_from([1e6, 4.4e7, 6.6e7, 8.8e7, 2e8])),
        **d.draw(
            st.sampled_from(
                [{"hours_since_last_fever": h, "no_fever": False} for h in (None, 3.0, 30.0)] + [{"no_fever": True}]
            )
        ),
        tocilizumab_doses_on_site=d.draw(st.integers(0, 3)),
    ),
    lambda j, d, a: cmd.RecordInfusionNotGiven(actor=a, reason="infection"),
    lambda j, d, a: cmd.AssessCrs(
        actor=a,
        assessed_at=j.now - timedelta(hours=d.draw(st.integers(0, 48))),
        findings=crs_findings(
            max_temperature_c=d.draw(st.floats(36, 41)),
            hypotension=True,
            vasopressors_excluding_vasopressin=d.draw(st.integers(0, 3)),
            oxygen=d.draw(st.sampled_from(list(OxygenSupport))),
            oxygen_flow_l_per_min=4.0,
        ),
        correction=d.draw(
            st.sampled_from([None, cmd.Correction(supersedes_sequence=j.state.last_sequence or 1, reason="typo")])
        ),
    ),
    lambda j, d, a: cmd.AssessIcans(
        actor=a,
        assessed_at=j.now,
        findings=icans_findings(capd_score=d.draw(st.integers(0, 32))),
    ),
    lambda j, d, a: cmd.RecordAdverseEvent(
        actor=a,
        adverse_event=AdverseEvent(
            term="rash",
            ctcae_grade=d.draw(st.integers(1, 5)),
            serious=d.draw(st.booleans()),
            related_to_car_t="possible",
            onset_date=j.today + _day(j, d),
        ),
    ),
    lambda j, d, a: cmd.ConfirmExpeditedReport(
        actor=a,
        report_id=d.draw(st.sampled_from([r.report_id for r in j.state.expedited_reports] or ["ER-00001"])),
        submitted_at=j.now,
        sponsor_reference="SP",
    ),
    lambda j, d, a: cmd.RecordDiseaseAssessment(
        actor=a,
        marrow=marrow(j.today + _day(j, d), marrow_blasts_percent=d.draw(st.sampled_from([0.0, 3.0, 10.0, 30.0]))),
    ),
    lambda j, d, a: cmd.RecordChemotherapyResumed(
        actor=a, resumed_on=j.today + _day(j, d), from_protocol_step=d.draw(st.booleans())
    ),
    lambda j, d, a: cmd.RecordVisit(
        actor=a,
        visit_code=d.draw(
            st.sampled_from([i.code for i in scheduled_items(j.state, j.protocol)] or ["D7"]) | st.just("X9")
        ),
        visit_date=j.today + _day(j, d),
    ),
]


# Ways off the path: drawn rarely, so most sequences live long enough to reach follow-up.
EXITS: list[Build] = [
    lambda j, d, a: cmd.WithdrawConsent(actor=a, withdrawn_on=j.today, reason="family decision"),
    lambda j, d, a: cmd.RecordDeath(actor=a, died_on=j.today, cause="sepsis", treatment_related=d.draw(st.booleans())),
    lambda j, d, a: cmd.RecordLostToFollowUp(actor=a, last_contact_on=j.today, reason="moved"),
    lambda j, d, a: cmd.TakeOffStudy(actor=a, reason="investigator decision"),
]


def next_right_step(j: JourneyDriver, d: st.DataObject, a: Actor) -> cmd.Command:
    """The step the protocol expects next, so random sequences also reach treatment and follow-up."""
    state, today = j.state, j.today
    match state.phase:
        case Phase.NOT_ENROLLED:
            return cmd.EnrollPatient(actor=a, study_id="TF-001", screening=screening(screening_date=today))
        case Phase.SCREENING:
            return cmd.ConfirmEligibility(actor=a)
        case Phase.CONSENT:
            return cmd.RecordConsent(
                actor=a,
                guardian_consent_signed_on=today,
                consent_form_version="v1",
                child_assent_obtained=True,
            )
        case Phase.APHERESIS:
            return cmd.RecordApheresis(actor=a, collected_on=today)
        case Phase.MANUFACTURING:
            return cmd.RecordProductRelease(
                actor=a,
                product_label_coi=state.chain_of_identity or "",
                lot_number="L1",
                total_viable_car_cells=2e8,
                released_on=today,
            )
        case Phase.LYMPHODEPLETION if state.lymphodepletion is None:
            return cmd.PrescribeLymphodepletion(
                actor=a,
                height_cm=120,
                weight_kg=22,
                creatinine_clearance_ml_min_173m2=100,
                planned_start_on=today,
            )
        case Phase.LYMPHODEPLETION:
            plan = state.lymphodepletion
            assert plan is not None
            drug, day = next(
                (drug, day)
                for drug, days in plan.days.items()
                for day in range(1, days + 1)
                if state.dose_given(drug, day) is None
            )
            return cmd.RecordLymphodepletionDose(
                actor=a, drug=drug, day_number=day, dose_mg=plan.daily_dose_mg[drug], given_at=j.now
            )
        case Phase.INFUSION:
            return j.infusion_command(actor=a)
    pending = [i for i in scheduled_items(state, j.protocol) if not state.item(i.code).resolved]
    code = pending[0].code if pending else "D7"
    return cmd.RecordVisit(actor=a, visit_code=code, visit_date=today)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_command_sequence_keeps_the_record_consistent(data: st.DataObject) -> None:
    journey = JourneyDriver()
    steps = data.draw(st.integers(5, 60), label="steps")
    for _ in range(steps):
        journey.advance(hours=data.draw(st.sampled_from([0, 1, 6, 24, 24 * 7, 24 * 40])))
        journey.run_timers_until(journey.now)
        roll = data.draw(st.integers(0, 99))
        build = next_right_step if roll < 70 else data.draw(st.sampled_from(ACTIONS if roll < 97 else EXITS))
        try:
            command = build(journey, data, Actor(user_id="u1", role=Role.SUPERVISOR))
        except ValidationError:
            continue  # refused by the command model before it reaches the decider: also a refusal
        # Mostly the right role for the job, sometimes anyone at all.
        right_roles = sorted(ALLOWED_ROLES[command.kind])
        role = data.draw(st.sampled_from(right_roles) if data.draw(st.integers(0, 4)) else st.sampled_from(list(Role)))
        command = command.model_copy(update={"actor": Actor(user_id="u1", role=role)})
        before = journey.state.model_copy(deep=True)
        try:
            events = decide(journey.state, command, journey.now, journey.protocol)
        except CommandRejected as rejection:
            reasons = rejection.reasons
        else:
            reasons = ()
        if reasons:
            assert all(isinstance(r, str) and r for r in reasons)
            assert journey.state == before  # nothing changed
            continue
        journey.state = fold(journey.state, events)
        journey.events.extend(events)

    journey.run_timers_until(journey.now)
    observe(f"reached {journey.state.phase.value}")
    events = journey.events
    # Contiguous sequence numbers, each entry naming who and under which protocol.
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert all(e.protocol_version == "1.0" and e.study_id == "TF-001" for e in events)
    # evolve is total over what decide accepted, and the fold of the record is the state.
    assert fold(initial_state("TF-001"), events) == journey.state
    state = journey.state
    assert 0 <= state.highest_crs_grade <= 4 and 0 <= state.highest_icans_grade <= 4
    assert state.last_sequence == len(events)
    # No timer is ever left due: the workflow's loop always makes progress.
    assert due_timers(state, journey.protocol, journey.now) == []
    # Only the system issues timer events, and only staff issue staff events.
    system_types = {"visit_reminder_issued", "visit_missed", "follow_up_era_started", "journey_completed"}
    for event in events:
        if event.type in system_types:
            assert event.actor.role is Role.SYSTEM
    # Every event's notifications are built and written from their facts: one that failed would fail the workflow
    # task that announces it.
    for event in events:
        for note in notifications_for(event, tuple(events)):
            assert note.subject.startswith("TF-001: ") and note.body


@settings(max_examples=60, deadline=None)
@given(role=st.sampled_from([r for r in Role if r is not Role.RESEARCH_COORDINATOR]))
def test_only_a_coordinator_enrolls(role: Role) -> None:
    journey = JourneyDriver()
    reasons = journey.refused(
        cmd.EnrollPatient(actor=Actor(user_id="x", role=role), study_id="TF-001", screening=screening())
    )
    assert any("must be done by a research coordinator" in r for r in reasons)
