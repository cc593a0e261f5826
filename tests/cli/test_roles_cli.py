"""Role rules through `trial record` and `trial enroll`: the API's refusals for the signed-in role, every reason
printed, exit 1, and each refused attempt kept in the record."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from cli.staff import REFUSED_EXIT_CODE
from domain.roles import Role
from records.refusals import RefusedAttemptLog
from tests.cli.trial_cli import SIGNING_PIN, TrialCli, trial_cli_over_api, worker_logs_kept_out_of_the_cli_output
from tests.facade.infusion_ready import ready_for_infusion
from tests.facade.journeys import enrollment
from tests.servers import Stack


@pytest.fixture(scope="module")
def quiet_worker() -> Iterator[None]:
    with worker_logs_kept_out_of_the_cli_output():
        yield


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli(stack: Stack, quiet_worker: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TrialCli]:
    async with trial_cli_over_api(stack, tmp_path_factory.mktemp("roles-cli")) as anonymous:
        yield anonymous


def problem_document(stderr: str) -> dict[str, Any]:
    """What --json printed on stderr for the refusal: the whole of stderr is the JSON document."""
    document = json.loads(stderr)
    assert isinstance(document, dict)
    return document


async def test_a_supervisor_may_record_nothing_from_the_command_line(cli: TrialCli, stack: Stack) -> None:
    await stack.trial.enroll(enrollment("RC-1001"))
    supervisor = await cli.signed_in("monitor.zhou", Role.SUPERVISOR)
    refused = await supervisor("record", "RC-1001", "confirm-eligibility")

    assert refused.exit_code == REFUSED_EXIT_CODE, refused.output
    assert "RC-1001: refused for 1 reason" in refused.stderr
    assert "supervisors can read the record but not confirm eligibility" in refused.stderr
    assert "trialflow.audit" not in refused.stderr  # said in words; the record keeps the attempt
    as_json = await supervisor("record", "RC-1001", "confirm-eligibility", "--json")
    assert as_json.exit_code == REFUSED_EXIT_CODE
    problem = problem_document(as_json.stderr)
    assert problem["code"] == "forbidden" and problem["message"].startswith("a supervisor can read the trial record")
    kept = RefusedAttemptLog(stack.store.engine).for_patient("RC-1001")
    assert [(a.actor_user_id, a.command_kind) for a in kept] == [("monitor.zhou", "confirm_eligibility")] * 2


async def test_a_nurse_may_not_record_an_infusion_from_the_command_line(
    cli: TrialCli,
    stack: Stack,
    tmp_path: Path,
) -> None:
    fields = await ready_for_infusion(stack.trial, "RC-1002")
    command_file = tmp_path / "infusion.json"
    command_file.write_text(json.dumps({**fields, "infused_at": fields["infused_at"].isoformat()}))

    infuse = ("record", "RC-1002", "record-infusion", "--file", str(command_file))
    refused = await (await cli.signed_in("nurse.ali", Role.NURSE))(*infuse)
    assert refused.exit_code == REFUSED_EXIT_CODE, refused.output
    assert "a nurse cannot record infusion; this must be done by a physician or an investigator" in refused.stderr

    # The nurse was asked for no PIN: the step is not hers to sign. The physician signs it.
    accepted = await (await cli.signed_in("dr.osei", Role.PHYSICIAN))(*infuse, "--pin-stdin", stdin=SIGNING_PIN)
    assert accepted.exit_code == 0, accepted.output
    [attempt] = RefusedAttemptLog(stack.store.engine).for_patient("RC-1002")
    assert (attempt.actor_user_id, attempt.actor_role, attempt.refusal) == ("nurse.ali", "nurse", "forbidden")


async def test_a_role_that_may_not_enroll_is_refused_and_nothing_is_started(
    cli: TrialCli,
    stack: Stack,
    tmp_path: Path,
) -> None:
    screening = tmp_path / "screening.json"
    screening.write_text(json.dumps(enrollment("RC-1003").screening.model_dump(mode="json")))
    nurse = await cli.signed_in("nurse.ali", Role.NURSE)
    refused = await nurse("enroll", "--study-id", "RC-1003", "--file", str(screening), "--json")
    assert refused.exit_code == REFUSED_EXIT_CODE, refused.output
    problem = problem_document(refused.stderr)
    assert problem["code"] == "forbidden" and "a nurse cannot enroll patient" in problem["reasons"][0]
    assert (await nurse("status", "RC-1003")).exit_code == REFUSED_EXIT_CODE  # unknown: nothing started
    assert [a.command_kind for a in RefusedAttemptLog(stack.store.engine).for_patient("RC-1003")] == ["enroll_patient"]
