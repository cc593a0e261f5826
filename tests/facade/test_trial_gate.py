"""The trial client asks the TrialWorkflow first: once DLTs cross the stopping boundary the next enrollment is
refused with the reason, a lymphodepletion not yet begun is refused, and only a signed DSMB decision reopens
enrollment (an unsigned one is refused and kept as a refused attempt)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial

import pytest

from domain.journey.commands import RecordLymphodepletionDose
from domain.protocol import PROTOCOL_V1
from domain.roles import Actor, Role
from domain.signature import SignatureMeaning, sign
from domain.site_time import site_date
from domain.statistics import evaluate_stopping_rule
from domain.trial.reports import DsmbDecision, DsmbOutcome
from domain.trial.state import Enrollment
from domain.trial.status import TrialStatus
from facade.errors import CommandRefused
from records.refusals import RefusedAttemptLog
from simulation.journey_steps import Milestone, PathPatient, entered_late, send
from tests.facade.journeys import GRADE_3_CRS, enrollment, infused, today
from tests.servers import Stack
from tests.waiting import poll
from workflows.trial_messages import GateMemo, trial_workflow_id
from workflows.trial_workflow import GATE_MEMO

DSMB = Actor(user_id="dsmb.chair", role=Role.DSMB)


def dsmb_decision(signed: bool = True) -> DsmbDecision:
    now = datetime.now(UTC)
    decision = DsmbDecision(
        decision_id=f"DSMB-{uuid.uuid4().hex[:8]}",
        actor=DSMB,
        outcome=DsmbOutcome.RESUME,
        decided_at=now,
        rationale="Both events reviewed; resume with weekly safety review.",
    )
    if not signed:
        return decision
    return sign(
        decision,
        signer_user_id=DSMB.user_id,
        printed_name="DSMB chair",
        signed_at=now,
        meaning=SignatureMeaning.APPROVAL,
    )


async def published_gate(stack: Stack) -> GateMemo:
    trial_id = trial_workflow_id(PROTOCOL_V1.accrual.trial_identifier, stack.task_queue)
    trial = stack.temporal.get_workflow_handle(trial_id)
    memo: GateMemo = await (await trial.describe()).memo_value(GATE_MEMO, type_hint=GateMemo)
    return memo


async def test_a_paused_trial_refuses_enrollment_and_new_lymphodepletion_until_the_dsmb_resumes(stack: Stack) -> None:
    trial = stack.trial
    # TF-501: enrolled, its product released, its lymphodepletion not yet prescribed.
    day_zero = today()
    released = entered_late(Milestone.PRESCRIBED, PathPatient(study_id="TF-501"), day_zero, PROTOCOL_V1)
    *to_release, prescription = released
    await trial.enroll(enrollment("TF-501", site_date(released[0].at, PROTOCOL_V1.schedule)))
    await send(to_release, partial(trial.record, "TF-501"))
    # TF-504: its lymphodepletion begun (one dose given); TF-506: prescribed, no dose given yet.
    under_way = entered_late(Milestone.LYMPHODEPLETED, PathPatient(study_id="TF-504"), day_zero, PROTOCOL_V1)
    first_dose = next(i for i, step in enumerate(under_way) if isinstance(step.command, RecordLymphodepletionDose))
    await trial.enroll(enrollment("TF-504", site_date(under_way[0].at, PROTOCOL_V1.schedule)))
    await send(under_way[: first_dose + 1], partial(trial.record, "TF-504"))
    prescribed = entered_late(Milestone.LYMPHODEPLETED, PathPatient(study_id="TF-506"), day_zero, PROTOCOL_V1)
    await trial.enroll(enrollment("TF-506", site_date(prescribed[0].at, PROTOCOL_V1.schedule)))
    await send(prescribed[:first_dose], partial(trial.record, "TF-506"))

    await infused(trial, "TF-502", GRADE_3_CRS)
    await infused(trial, "TF-503", GRADE_3_CRS)

    async def paused() -> TrialStatus | None:
        status = await trial.trial_status()
        return status if status.enrollment is Enrollment.PAUSED else None

    status = await poll(paused, "enrollment paused by two DLTs")
    assert (status.stopping_rule.toxicities, status.stopping_rule.patients) == (2, 2)
    expected = evaluate_stopping_rule(2, 2, PROTOCOL_V1.stopping_rule).posterior_probability
    assert status.stopping_rule.posterior_probability == expected and status.more_dlts_to_pause == 0

    # The gate reads the pause from what the trial published in its memo: the server answers it, not the worker.
    assert status.lymphodepletion_refused_because is not None
    assert await published_gate(stack) == GateMemo(refused_because=status.lymphodepletion_refused_because)

    with pytest.raises(CommandRefused) as refused:
        await trial.enroll(enrollment("TF-505", today()))
    assert "enrollment is paused by the safety stopping rule" in refused.value.reasons[0]
    assert trial.store.last_sequence("TF-505") == 0  # nothing recorded, no journey started
    with pytest.raises(CommandRefused) as no_lymphodepletion:
        await trial.record("TF-501", prescription.command)
    assert "no new lymphodepletion until the DSMB decides" in no_lymphodepletion.value.reasons[0]
    # The doses given come from the record: a first dose is refused, a lymphodepletion under way goes on.
    with pytest.raises(CommandRefused) as no_first_dose:
        await trial.record("TF-506", prescribed[first_dose].command)
    assert "no new lymphodepletion until the DSMB decides" in no_first_dose.value.reasons[0]
    await trial.record("TF-504", under_way[first_dose + 1].command)
    assert len((await trial.status("TF-504")).doses_given) == 2

    with pytest.raises(CommandRefused) as unsigned:
        await trial.dsmb_decision(dsmb_decision(signed=False))
    assert "must be electronically signed" in unsigned.value.reasons[0]
    kept = RefusedAttemptLog(trial.store.engine).for_patient(PROTOCOL_V1.accrual.trial_identifier)
    assert [a.command_kind for a in kept][-1:] == ["dsmb_decision"]

    resumed = await trial.dsmb_decision(dsmb_decision())
    assert resumed.enrollment is Enrollment.OPEN
    assert await published_gate(stack) == GateMemo(refused_because=None)  # in the decision's own workflow task
    await trial.enroll(enrollment("TF-505", today()))
    await trial.record("TF-501", prescription.command)
