"""The trial client against a real Temporal dev server and worker: what operators, staff and supervisors do."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.projections import project_patient
from config.journey_ids import journey_workflow_id
from config.settings import Settings
from domain.journey import commands as cmd
from domain.journey import decide, initial_state
from domain.journey.phases import ExitReason, Phase
from domain.protocol import PROTOCOL_V1
from domain.statistics import evaluate_stopping_rule
from facade import (
    AlreadyEnrolled,
    CommandRefused,
    JourneyClosed,
    PatientListing,
    TrialClient,
    UnknownPatient,
    open_trial_client,
    trial_client,
)
from records.event_rows import to_row
from security.compression import CompressionCodec
from tests.domain.journey_driver import APHERESIS, INVESTIGATOR, NURSE
from tests.facade.journeys import (
    GRADE_1_CRS,
    GRADE_3_CRS,
    SCREEN_FAILURE,
    enrollment,
    infused,
    signed_record,
    site_tomorrow,
    to_apheresis,
    to_lymphodepletion,
    today,
)
from tests.servers import Stack, new_store
from tests.waiting import poll
from workers.worker import journey_worker


async def journey_closed(stack: Stack, study_id: str) -> None:
    """Wait for the journey's workflow to end (a screen failure records its events, then ends)."""
    await stack.temporal.get_workflow_handle(journey_workflow_id(study_id)).result()


# ---------------------------------------------------------------- enrollment


async def test_an_eligible_patient_is_enrolled_and_awaits_the_investigator(stack: Stack) -> None:
    result = await stack.trial.enroll(enrollment("TF-1001"))

    assert result.study_id == "TF-1001"
    assert result.workflow_id == journey_workflow_id("TF-1001")
    assert result.eligible and result.failed_criteria == ()
    assert result.phase is Phase.SCREENING
    described = await stack.temporal.get_workflow_handle(result.workflow_id).describe()
    assert described.status is WorkflowExecutionStatus.RUNNING
    status = await stack.trial.status("TF-1001")
    assert status.phase is Phase.SCREENING and status.failed_criteria == ()


async def test_a_screen_failure_is_enrolled_with_every_reason_then_its_journey_ends(stack: Stack) -> None:
    result = await stack.trial.enroll(enrollment("TF-1002", **SCREEN_FAILURE))

    assert not result.eligible
    assert {c.code for c in result.failed_criteria} == {"performance", "prior_car_t"}
    assert any("Lansky score 30" in c.reason for c in result.failed_criteria)
    assert result.phase is Phase.OFF_STUDY
    await journey_closed(stack, "TF-1002")

    # The journey has ended: the trial record answers, with every reason.
    status = await stack.trial.status("TF-1002")
    assert status.phase is Phase.OFF_STUDY
    assert status.exit is not None and status.exit.reason is ExitReason.SCREEN_FAILURE
    assert status.failed_criteria == tuple(c.reason for c in result.failed_criteria)
    timeline = await stack.trial.timeline("TF-1002")
    assert timeline.source == "record"
    assert [e.type for e in timeline.entries] == ["patient_enrolled", "eligibility_assessed", "screen_failed"]

    with pytest.raises(JourneyClosed, match="TF-1002") as closed:
        await stack.trial.record("TF-1002", cmd.ConfirmEligibility(actor=INVESTIGATOR))
    assert "off study" in str(closed.value)

    # Screened again under the same study id, failing again: a second attempt in the same chain, ended again.
    again = await stack.trial.enroll(enrollment("TF-1002", **SCREEN_FAILURE))
    assert (again.screening_attempt, again.phase, again.eligible) == (2, Phase.OFF_STUDY, False)
    await journey_closed(stack, "TF-1002")
    timeline = await stack.trial.timeline("TF-1002")
    assert [e.sequence for e in timeline.entries] == [1, 2, 3, 4, 5, 6]
    assert (await stack.trial.status("TF-1002")).screening_attempt == 2


async def test_the_same_study_id_is_never_started_twice_even_once_its_journey_has_ended(
    stack: Stack, tmp_path: Path
) -> None:
    await stack.trial.enroll(enrollment("TF-1011"))
    await stack.trial.enroll(enrollment("TF-1012", **SCREEN_FAILURE))
    await journey_closed(stack, "TF-1012")
    # A client whose record knows nobody: only Temporal's id policies stand between it and a second journey.
    with new_store(tmp_path) as empty_record:
        forgetful = TrialClient(stack.temporal, empty_record, task_queue=stack.task_queue, seal_keys=stack.seal_keys)
        for study_id in ("TF-1011", "TF-1012"):  # running, and ended
            with pytest.raises(AlreadyEnrolled, match=study_id):
                await forgetful.enroll(enrollment(study_id))

        # Two operators enrolling the same child at once: one journey, one clear error.
        outcomes = await asyncio.gather(
            *(forgetful.enroll(enrollment("TF-1013")) for _ in range(2)), return_exceptions=True
        )
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadyEnrolled", "EnrollmentResult"]


async def test_an_enrollment_the_protocol_refuses_lists_every_reason_and_starts_nothing(stack: Stack) -> None:
    refused = enrollment("TF-1021", screened_on=today() + timedelta(days=2)).model_copy(update={"actor": NURSE})

    with pytest.raises(CommandRefused) as raised:
        await stack.trial.enroll(refused)

    assert raised.value.study_id == "TF-1021"
    assert len(raised.value.reasons) == 2
    assert any("nurse cannot enroll patient" in r for r in raised.value.reasons)
    assert any("is in the future" in r for r in raised.value.reasons)
    with pytest.raises(RPCError) as missing:
        await stack.temporal.get_workflow_handle(journey_workflow_id("TF-1021")).describe()
    assert missing.value.status is RPCStatusCode.NOT_FOUND
    assert stack.store.events_for("TF-1021") == []


# ---------------------------------------------------------------- staff


async def test_staff_steps_are_recorded_and_read_back_from_the_running_journey(stack: Stack) -> None:
    await to_apheresis(stack.trial, "TF-1101")
    result = await stack.trial.record(
        "TF-1101", cmd.RecordApheresis(actor=APHERESIS, collected_on=today()), update_id="TF-1101-apheresis"
    )
    assert [e.type for e in result.events] == ["apheresis_collected"]

    status = await stack.trial.status("TF-1101")
    assert status.phase is Phase.MANUFACTURING
    assert status.chain_of_identity is not None and status.last_sequence == result.events[-1].sequence
    timeline = await stack.trial.timeline("TF-1101")
    assert timeline.source == "workflow"
    assert [e.type for e in timeline.entries] == [
        "patient_enrolled",
        "eligibility_assessed",
        "eligibility_confirmed",
        "consent_signed",
        "slot_booked",  # consent booked the earliest free collection slot
        "apheresis_collected",
    ]
    # The booked slot and its product's expected release, in the status (the record's calendar agrees).
    [booked] = [b for b in (await stack.trial.slots()).expected_releases if b.study_id == "TF-1101"]
    assert status.collection_booked_on == booked.collection_date
    assert status.expected_release == booked.expected_release == booked.collection_date + timedelta(days=12)
    assert [(e.sequence, e.type) for e in timeline.entries] == [
        (e.sequence, e.event_type) for e in stack.store.events_for("TF-1101")
    ]

    # Sent again with the same update id (a retry after a lost answer): answered again, applied once.
    again = await stack.trial.record(
        "TF-1101", cmd.RecordApheresis(actor=APHERESIS, collected_on=today()), update_id="TF-1101-apheresis"
    )
    assert again == result
    assert (await stack.trial.status("TF-1101")).last_sequence == status.last_sequence


async def test_a_refused_command_names_every_reason_and_changes_nothing(stack: Stack) -> None:
    await stack.trial.enroll(enrollment("TF-1102"))
    await signed_record(stack.trial, "TF-1102", cmd.ConfirmEligibility(actor=INVESTIGATOR))
    before = await stack.trial.status("TF-1102")
    tomorrow = site_tomorrow()
    wrong = cmd.RecordConsent(
        actor=NURSE, guardian_consent_signed_on=tomorrow, consent_form_version="ICF v2.1", child_assent_obtained=None
    )

    with pytest.raises(CommandRefused) as raised:
        await stack.trial.record("TF-1102", wrong)

    reasons = raised.value.reasons
    assert len(reasons) == 4, reasons
    assert any(r.startswith("a nurse cannot record consent") for r in reasons)
    assert any(r.startswith("this step must be electronically signed") for r in reasons)
    assert any(f"the consent date {tomorrow.isoformat()} is in the future" in r for r in reasons)
    assert any("the child's own assent is required from age 8" in r for r in reasons)
    assert "TF-1102" in str(raised.value) and all(r in str(raised.value) for r in reasons)
    assert await stack.trial.status("TF-1102") == before
    assert len(stack.store.events_for("TF-1102")) == before.last_sequence


async def test_a_patient_never_enrolled_is_unknown_everywhere(stack: Stack) -> None:
    for ask in (
        stack.trial.status("TF-1999"),
        stack.trial.timeline("TF-1999"),
        stack.trial.record("TF-1999", cmd.ConfirmEligibility(actor=INVESTIGATOR)),
    ):
        with pytest.raises(UnknownPatient, match="no patient with study id TF-1999"):
            await ask


async def test_a_journey_temporal_has_forgotten_is_answered_by_the_record(stack: Stack) -> None:
    """After the retention period Temporal has no trace of an ended journey; the trial record keeps it."""
    enrolled = decide(initial_state("TF-1201"), enrollment("TF-1201", **SCREEN_FAILURE), datetime.now(UTC), PROTOCOL_V1)
    stack.store.append([to_row(e) for e in enrolled])
    stack.store.rebuild_projections(project_patient, study_ids=["TF-1201"])

    status = await stack.trial.status("TF-1201")
    assert status.phase is Phase.OFF_STUDY and status.last_sequence == len(enrolled)
    timeline = await stack.trial.timeline("TF-1201")
    assert timeline.source == "record" and [e.sequence for e in timeline.entries] == [1, 2, 3]
    with pytest.raises(JourneyClosed, match="TF-1201"):
        await stack.trial.record("TF-1201", cmd.ConfirmEligibility(actor=INVESTIGATOR))
    # Screened again: the record alone gives the new run its state; the attempt follows in the same chain.
    again = await stack.trial.enroll(enrollment("TF-1201"))
    assert (again.screening_attempt, again.phase, again.eligible) == (2, Phase.SCREENING, True)
    status = await stack.trial.status("TF-1201")
    assert (status.phase, status.last_sequence, status.screening_attempt) == (Phase.SCREENING, 5, 2)

    async def attempt_recorded() -> list[int] | None:
        timeline = await stack.trial.timeline("TF-1201")  # the workflow's, once it has recorded the attempt
        last = await asyncio.to_thread(stack.store.last_sequence, "TF-1201")
        sequences = [e.sequence for e in timeline.entries]
        return sequences if timeline.source == "workflow" and len(sequences) == 5 and last == 5 else None

    assert await poll(attempt_recorded, "the new screening attempt recorded") == [1, 2, 3, 4, 5]
    with pytest.raises(AlreadyEnrolled, match="TF-1201"):  # eligible now: never screened again
        await stack.trial.enroll(enrollment("TF-1201"))


@workflow.defn(name="PatientJourneyWorkflow")
class CannotReplayTheJourney:
    """A worker deployed with the wrong code: replaying a recorded journey to answer a query fails."""

    @workflow.run
    async def run(self, *_: Any) -> None:
        await workflow.wait_condition(lambda: False)


async def test_a_journey_its_workers_cannot_answer_for_is_answered_by_the_record(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor still reads the patient when no worker runs, and when the worker fails to answer (overloaded
    past the SDK's deadlock limit, or a bug): the record answers, and the failure is logged for an engineer."""
    monkeypatch.setattr(trial_client, "JOURNEY_ANSWERS_WITHIN", timedelta(seconds=2))
    with new_store(tmp_path) as record:
        task_queue = f"{stack.task_queue}-unanswered"
        trial = TrialClient(stack.temporal, record, task_queue=task_queue, seal_keys=stack.seal_keys)
        async with journey_worker(stack.temporal, record, task_queue=task_queue):
            await to_apheresis(trial, "TF-1251")
            answered = await trial.status("TF-1251")
            assert answered.phase is Phase.APHERESIS
            assert (await trial.timeline("TF-1251")).source == "workflow"

        # No worker: the query waits JOURNEY_ANSWERS_WITHIN, then the record answers.
        with capture_logs() as logs:
            status = await trial.status("TF-1251")
            timeline = await trial.timeline("TF-1251")
        assert status == answered
        assert timeline.source == "record" and len(timeline.entries) == answered.last_sequence
        assert [entry["event"] for entry in logs] == ["journey_cannot_answer"] * 2

        # A worker that fails the query (here it cannot replay the journey): the record answers at once.
        async with Worker(
            stack.temporal,
            task_queue=task_queue,
            workflows=[CannotReplayTheJourney],
            workflow_runner=UnsandboxedWorkflowRunner(),  # this test module is no workflow code
        ):
            with capture_logs() as logs:
                assert await trial.status("TF-1251") == answered
            [failed] = logs
            assert failed["event"] == "journey_cannot_answer" and failed["study_id"] == "TF-1251"
            assert "TMPRL1100" in failed["error"]  # the SDK's nondeterminism error, said to the engineer


# ---------------------------------------------------------------- supervisors


async def test_journeys_are_listed_by_phase_by_overdue_and_by_open_expedited_report(stack: Stack) -> None:
    await asyncio.gather(to_apheresis(stack.trial, "TF-1301"), to_apheresis(stack.trial, "TF-1302"))
    await stack.trial.enroll(enrollment("TF-1303"))
    # Lymphodepletion prescribed to start two days ago, no dose given: overdue.
    ld_start = await to_lymphodepletion(stack.trial, "TF-1304", today() + timedelta(days=3))
    await infused(stack.trial, "TF-1305", crs=GRADE_3_CRS)
    await stack.trial.enroll(enrollment("TF-1306", **SCREEN_FAILURE))
    mine = {f"TF-130{n}" for n in range(1, 7)}

    async def listed(**filters: Any) -> dict[str, PatientListing]:
        return {p.study_id: p for p in await stack.trial.list_patients(**filters) if p.study_id in mine}

    async def settled(expected: set[str], **filters: Any) -> dict[str, PatientListing]:
        async def check() -> dict[str, PatientListing] | None:
            found = await listed(**filters)
            return found if set(found) == expected else None

        return await poll(check, f"journeys listed with {filters}")

    in_apheresis = await settled({"TF-1301", "TF-1302"}, phase=Phase.APHERESIS)
    assert all(p.phase is Phase.APHERESIS and p.running and not p.overdue for p in in_apheresis.values())
    assert set(await settled({"TF-1303"}, phase="screening")) == {"TF-1303"}

    [late] = (await settled({"TF-1304"}, overdue=True)).values()
    assert late.phase is Phase.LYMPHODEPLETION and late.next_due_on == ld_start
    [reported] = (await settled({"TF-1305"}, expedited_report_open=True)).values()
    assert reported.phase is Phase.TOXICITY_OBSERVATION
    assert (reported.highest_crs_grade, reported.highest_icans_grade) == (3, 0)
    assert reported.protocol_version == PROTOCOL_V1.version
    assert set(await settled({"TF-1303"}, phase=Phase.SCREENING, overdue=False, expedited_report_open=False)) == {
        "TF-1303"
    }

    # An ended journey stays listed (until Temporal's retention), marked as no longer running.
    async def ended() -> PatientListing | None:
        found = await listed(phase=Phase.OFF_STUDY)
        return found["TF-1306"] if "TF-1306" in found and not found["TF-1306"].running else None

    await journey_closed(stack, "TF-1306")
    closed = await poll(ended, "the ended journey listed as ended")
    assert closed.next_due_on is None and set(await listed(phase=Phase.OFF_STUDY)) == {"TF-1306"}

    everyone = [p.study_id for p in await stack.trial.list_patients()]
    assert mine <= set(everyone) and everyone == sorted(everyone)
    assert len(everyone) == len(set(everyone))  # each journey once, however many runs it has had


async def test_the_report_counts_the_cohort_in_the_record(stack: Stack, tmp_path: Path) -> None:
    """A cohort of its own (its own record, served by its own worker): five patients whose numbers are known."""
    with new_store(tmp_path) as record:
        task_queue = f"{stack.task_queue}-report"
        async with journey_worker(stack.temporal, record, task_queue=task_queue):
            trial = TrialClient(stack.temporal, record, task_queue=task_queue, seal_keys=stack.seal_keys)
            await asyncio.gather(
                trial.enroll(enrollment("TF-1401", **SCREEN_FAILURE)),
                trial.enroll(enrollment("TF-1402")),
                to_apheresis(trial, "TF-1403"),
                infused(trial, "TF-1404", crs=GRADE_3_CRS),
                infused(trial, "TF-1405", crs=GRADE_1_CRS),
            )

            async def summarised() -> int | None:  # the screen failure is recorded by its workflow, not the call
                count = len(record.patient_summaries())
                return count if count == 5 else None

            await poll(summarised, "five patients in the record")
            report = await trial.report()
            verification = await trial.verify()

    assert report.protocol_version == PROTOCOL_V1.version
    enrollment_ = report.enrollment
    assert enrollment_.patients == 5 and enrollment_.screen_failures == 1
    assert {phase: n for phase, n in enrollment_.by_phase.items() if n} == {
        Phase.OFF_STUDY: 1,
        Phase.SCREENING: 1,
        Phase.APHERESIS: 1,
        Phase.TOXICITY_OBSERVATION: 2,
    }
    assert {reason: n for reason, n in enrollment_.exits_by_reason.items() if n} == {ExitReason.SCREEN_FAILURE: 1}
    endpoint = report.primary_endpoint.per_protocol
    assert (endpoint.patients, endpoint.assessed, endpoint.complete_responses, endpoint.pending) == (2, 0, 0, 2)
    assert endpoint.cr_rate.rate is None and (endpoint.cr_rate.ci_low, endpoint.cr_rate.ci_high) == (0.0, 1.0)
    itt = report.primary_endpoint.intention_to_treat  # the patient in apheresis too; not the one in screening
    assert (itt.patients, itt.assessed, itt.pending) == (3, 0, 3)
    assert report.toxicity.highest_crs_grade == {0: 0, 1: 1, 2: 0, 3: 1, 4: 0}
    assert report.toxicity.highest_icans_grade == {0: 2, 1: 0, 2: 0, 3: 0, 4: 0}
    assert report.toxicity.dose_limiting_toxicities == 1
    assert report.stopping_rule == evaluate_stopping_rule(1, 2, PROTOCOL_V1.stopping_rule)
    assert verification.ok and verification.checked_studies == 5
    # Each journey's workflow witnessed its head: the running ones by query, the ended screen failure by its result.
    assert "the head each journey's workflow holds (5 of 5 journeys)" in verification.describe()


async def test_the_whole_record_verifies(stack: Stack) -> None:
    report = await stack.trial.verify()
    assert report.ok, report.describe()
    assert report.checked_events == sum(len(stack.store.events_for(s)) for s in stack.store.study_ids())


# ---------------------------------------------------------------- configuration


async def test_a_client_built_from_the_settings_reaches_temporal_and_the_record(stack: Stack) -> None:
    settings = Settings(
        _env_file=None,
        temporal_address=stack.server.address,
        data_dir=stack.data_dir,
    )
    async with open_trial_client(settings) as trial:
        codec = trial.temporal.data_converter.payload_codec  # no keys configured: compressing, not encrypting
        assert isinstance(codec, CompressionCodec) and codec.then is None
        assert trial.store.study_ids() == stack.store.study_ids()
        assert (await trial.report()).enrollment.patients == len(stack.store.patient_summaries())
        status = await trial.status("TF-1001")
        assert (status.phase, status.last_sequence) == (Phase.SCREENING, 2)
