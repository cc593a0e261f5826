"""The journey's side of command seals (security/command_seal.py): a workflow inbound interceptor, registered by the
journey worker, that verifies the seal of every staff command and of every journey's first run.

- A `record` update whose seal is missing, forged or stale is rejected in its validator, with the reason; nothing is
  recorded. Validators do not run on replay, so a seal's age, judged against `workflow.now()`, is never judged again.
- A journey's first run without a valid seal on its start fails at once, before it records anything. Failing (not
  completing) is the safest end: the status shows it, and the facade's start may reuse the study id of a failed
  journey, so a forged start cannot take a study id away from its real enrollment. The check is deterministic (the
  keys, the start's headers and its first task's time), and behind a patch marker, so a journey started before seals
  existed still replays. A later run is continued-as-new by the journey itself and carries no seal.

The trial's doors (TrialWorkflow) are checked the same way:
- its updates (`admit`, `admit_all`, `dsmb_decision`) are rejected in their validators when the seal is missing,
  forged or stale;
- a `report` signal whose seal is missing or forged is dropped, never applied, and logged (trial id, kind, reason).
  Its age is not judged: a report may wait in Temporal while the trial's worker is down, and a report replayed whole
  counts once by its event id. The check sits behind a patch marker (histories recorded before it replay as they
  ran) and uses nothing but the keys and the signal, so it replays the same;
- its first run fails at once without a valid start seal (a forged start could carry a forged state).

The interceptor holds the keyring given at worker start in a closure: it is created outside the sandbox, and no
workflow module imports it, so the sandbox never re-imports it without its keys. Refusals are logged through
`workflow.logger` with the study id, the command's kind and the reason; no patient data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, RootModel
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ExecuteWorkflowInput,
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from config.journey_ids import study_id_of
from security.client_seals import START_SEAL_HEADER, TRIAL_WORKFLOW
from security.command_seal import SEAL_HEADER, SEAL_REFUSED, SealRefused, verify
from security.keys import SealKeyring
from workflows.journey_messages import JourneyInput
from workflows.patient_journey import PatientJourneyWorkflow

JOURNEY_WORKFLOW: Final = PatientJourneyWorkflow.__name__
RECORD_UPDATE: Final = "record"
TRIAL_STOPPED_UPDATE: Final = "trial_stopped"
JOURNEY_UPDATES: Final = frozenset({RECORD_UPDATE, TRIAL_STOPPED_UPDATE})
TRIAL_UPDATES: Final = frozenset({"admit", "admit_all", "dsmb_decision"})
REPORT_SIGNAL: Final = "report"
# Marks the histories of journeys whose first run was checked for a sealed start.
SEALED_START_PATCH: Final = "sealed-start"
# Marks the trial's histories from which its first run's start and its reports are checked for seals.
SEALED_TRIAL_START_PATCH: Final = "sealed-trial-start"
SEALED_TRIAL_REPORTS_PATCH: Final = "sealed-trial-reports"


class SealCheck(Interceptor):
    """Verifies the journey's command seals against `keyring`."""

    def __init__(self, keyring: SealKeyring) -> None:
        self.keyring = keyring

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        keyring = self.keyring

        class _SealCheckInbound(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                info = workflow.info()
                first_run = info.workflow_type == JOURNEY_WORKFLOW and info.continued_run_id is None
                if first_run and workflow.patched(SEALED_START_PATCH):
                    _check_start(keyring, input)
                trial_first_run = info.workflow_type == TRIAL_WORKFLOW and info.continued_run_id is None
                if trial_first_run and workflow.patched(SEALED_TRIAL_START_PATCH):
                    _check_trial_start(keyring, input)
                return await super().execute_workflow(input)

            def handle_update_validator(self, input: HandleUpdateInput) -> None:
                workflow_type = workflow.info().workflow_type
                if workflow_type == JOURNEY_WORKFLOW and input.update in JOURNEY_UPDATES:
                    _check_command(keyring, input)
                if workflow_type == TRIAL_WORKFLOW and input.update in TRIAL_UPDATES:
                    _check_command(keyring, input, subject=workflow.info().workflow_id)
                super().handle_update_validator(input)

            async def handle_signal(self, input: HandleSignalInput) -> None:
                is_report = workflow.info().workflow_type == TRIAL_WORKFLOW and input.signal == REPORT_SIGNAL
                if is_report and workflow.patched(SEALED_TRIAL_REPORTS_PATCH) and not _report_sealed(keyring, input):
                    return  # dropped: a report nobody sealed never reaches the trial
                await super().handle_signal(input)

        return _SealCheckInbound


def _refused(study_id: str, kind: str, error: SealRefused) -> ApplicationError:
    workflow.logger.warning("command refused: %s for %s: %s", kind, study_id, error.reason)
    return ApplicationError(error.reason, type=SEAL_REFUSED, non_retryable=True)


def _check_command(keyring: SealKeyring, input: HandleUpdateInput, subject: str | None = None) -> None:
    study_id = subject or study_id_of(workflow.info().workflow_id) or workflow.info().workflow_id
    [command] = input.args if len(input.args) == 1 else [None]
    if isinstance(command, RootModel):  # the journey's update takes the command wrapped (StaffCommandMessage)
        command = command.root
    try:
        _verify_message(
            keyring, command, "the update's argument is not a staff command", input.headers, study_id, input.id
        )
    except SealRefused as error:
        raise _refused(study_id, str(getattr(command, "kind", "unknown")), error) from None


def _verify_message(
    keyring: SealKeyring,
    message: object,
    not_a_message: str,
    headers: Mapping[str, Payload],
    subject: str,
    idempotency_key: str,
    *,
    check_age: bool = True,
) -> None:
    """Raises SealRefused unless `message` (an update's or a signal's one argument) carries a valid seal."""
    if not isinstance(message, BaseModel):
        raise SealRefused(not_a_message)
    verify(
        keyring,
        headers.get(SEAL_HEADER),
        study_id=subject,
        command=message,
        idempotency_key=idempotency_key,
        now=workflow.now(),
        check_age=check_age,
    )


def _check_start(keyring: SealKeyring, input: ExecuteWorkflowInput) -> None:
    study_id = study_id_of(workflow.info().workflow_id) or workflow.info().workflow_id
    [journey] = input.args if len(input.args) == 1 else [None]
    enrollment = journey.enrollment if isinstance(journey, JourneyInput) else None
    try:
        if journey is None or enrollment is None:
            raise SealRefused("a journey's first run starts from a sealed enrollment, and this one has none")
        verify(
            keyring,
            input.headers.get(SEAL_HEADER),
            study_id=study_id,
            command=enrollment,
            body=journey,
            idempotency_key=workflow.info().workflow_id,
            now=workflow.now(),
        )
    except SealRefused as error:
        raise _refused(study_id, "enroll_patient", error) from None


def _report_sealed(keyring: SealKeyring, input: HandleSignalInput) -> bool:
    """Whether the report carries a valid seal; a report that does not is logged (trial id, kind, reason only)."""
    trial_id = workflow.info().workflow_id
    [report] = input.args if len(input.args) == 1 else [None]
    try:
        not_a_report = "the signal's argument is not a journey's report"
        _verify_message(keyring, report, not_a_report, input.headers, trial_id, input.signal, check_age=False)
    except SealRefused as error:
        workflow.logger.warning(
            "trial report ignored: %s for %s (study id %s): %s",
            str(getattr(report, "kind", "unknown")),
            trial_id,
            getattr(report, "study_id", "unknown"),
            error.reason,
        )
        return False
    return True


def _check_trial_start(keyring: SealKeyring, input: ExecuteWorkflowInput) -> None:
    trial_id = workflow.info().workflow_id
    [trial] = input.args if len(input.args) == 1 else [None]
    try:
        if trial is None or not hasattr(trial, "model_dump"):
            raise SealRefused("the trial's first run starts from a sealed input, and this one has none")
        verify(
            keyring,
            input.headers.get(START_SEAL_HEADER),
            study_id=trial_id,
            command=trial,
            idempotency_key=trial_id,
            now=workflow.now(),
            check_age=False,  # a signal-with-start may wait for a worker; the same input again starts the same trial
        )
    except SealRefused as error:
        raise _refused(trial_id, "start_trial", error) from None
