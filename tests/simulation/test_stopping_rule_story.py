"""The demo's safety story on the time-skipping server: two DLTs pause enrollment, the investigator, supervisor and
DSMB are told, the next enrollment and a pending lymphodepletion are refused with the reason, and the DSMB's signed
decision resumes enrollment (both then go through). The posterior shown is the domain's computation."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from domain.statistics import evaluate_stopping_rule
from domain.trial.reports import DsmbOutcome
from domain.trial.state import Enrollment
from simulation.stopping_rule_story import (
    DECISION_ID,
    FIRST_DLT,
    LATECOMER,
    SECOND_DLT,
    WAITING,
    StoppingRuleStory,
    run_stopping_rule_story,
)


@pytest.fixture
async def story(own_time_skipping_env: WorkflowEnvironment) -> tuple[StoppingRuleStory, list[str]]:
    lines: list[str] = []
    return await run_stopping_rule_story(own_time_skipping_env, PROTOCOL_V1, lines.append), lines


async def test_the_rule_fires_and_the_dsmb_resumes_enrollment(story: tuple[StoppingRuleStory, list[str]]) -> None:
    told, lines = story
    paused = told.paused
    assert paused.enrollment is Enrollment.PAUSED
    assert (paused.stopping_rule.toxicities, paused.evaluable) == (2, (FIRST_DLT, SECOND_DLT))
    expected = evaluate_stopping_rule(2, 2, PROTOCOL_V1.stopping_rule)
    assert paused.stopping_rule.posterior_probability == expected.posterior_probability
    assert {t.role for t in told.told} == {Role.INVESTIGATOR, Role.SUPERVISOR, Role.DSMB}
    assert any("paused by the safety stopping rule" in reason for reason in told.enrollment_refused)
    assert any("no new lymphodepletion until the DSMB decides" in r for r in told.lymphodepletion_refused)
    assert (told.decision.decision_id, told.decision.outcome) == (DECISION_ID, DsmbOutcome.RESUME)
    assert told.decision.decided_by == "safety-dsmb"
    assert told.resumed.enrollment is Enrollment.OPEN
    assert told.after_resume.admitted == 4  # the latecomer, refused while paused, is admitted now

    # The story as the demo prints it: the pause with its posterior, who was told, the refusals, the resume.
    text = "\n".join(lines)
    assert all(line[10:12] == "  " for line in lines)  # each line dated, then its study id or "trial"
    assert f"ENROLLMENT PAUSED: 2 DLTs among 2 evaluable patients, posterior P(DLT rate > 20%) = " \
        f"{expected.posterior_probability:.3f}" in text  # fmt: skip
    assert (
        "  trial  told at once: dsmb (safety-dsmb), investigator (safety-investigator), supervisor (safety-supervisor)"
        in text
    )
    assert f"{LATECOMER}  enrollment refused: enrollment is paused by the safety stopping rule" in text
    assert f"{WAITING}  lymphodepletion refused: the safety stopping rule has paused the trial" in text
    assert f"DSMB decision {DECISION_ID}, signed by safety-dsmb: resume; enrollment open" in text
    assert f"{WAITING}  lymphodepletion prescribed" in text and f"{LATECOMER}  enrolled" in text
