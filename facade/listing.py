"""Finding journeys through Temporal's visibility index: the query, built safely, and each row read back.

Only enumeration values, booleans and constants are ever put into a query: no caller's text reaches it.
"""

from __future__ import annotations

from temporalio.client import WorkflowExecution, WorkflowExecutionStatus

from config import search_attributes as sa
from config.journey_ids import WORKFLOW_ID_PREFIX, journey_workflow_id
from domain.journey.phases import Phase
from domain.journey.status_view import PatientStatus
from domain.protocol import TrialProtocol, protocol_for_version
from domain.site_time import site_date
from facade.models import PatientListing

# A run closed by continue-as-new is followed by a newer run of the same journey: list the newest only.
_EVERY_JOURNEY = (
    f"WorkflowId STARTS_WITH '{WORKFLOW_ID_PREFIX}'",
    f"{sa.TRIAL_PHASE.name} IS NOT NULL",
    "ExecutionStatus != 'ContinuedAsNew'",
)


def _boolean(name: str, value: object) -> str:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, got {value!r}")
    return "true" if value else "false"


def journeys_query(
    phase: Phase | str | None = None, overdue: bool | None = None, expedited_report_open: bool | None = None
) -> str:
    """The visibility query for journeys matching every filter given (None: no filter)."""
    clauses = list(_EVERY_JOURNEY)
    if phase is not None:
        clauses.append(f"{sa.TRIAL_PHASE.name} = '{Phase(phase).value}'")  # a Phase, or ValueError
    if overdue is not None:
        clauses.append(f"{sa.OVERDUE.name} = {_boolean('overdue', overdue)}")
    if expedited_report_open is not None:
        clauses.append(f"{sa.EXPEDITED_REPORT_OPEN.name} = {_boolean('expedited_report_open', expedited_report_open)}")
    return " AND ".join(clauses)


def _phase(value: str | None) -> Phase | None:
    try:
        return Phase(value) if value is not None else None
    except ValueError:  # a phase a newer worker knows and this client does not
        return None


def listing_from(execution: WorkflowExecution, protocol: TrialProtocol) -> PatientListing:
    """One row of the list; the next due date is the site's calendar date the workflow stored as a moment."""
    attributes = execution.typed_search_attributes
    phase = attributes.get(sa.TRIAL_PHASE)
    version = attributes.get(sa.PROTOCOL_VERSION)
    next_due = attributes.get(sa.NEXT_DUE_DATE)
    try:
        rules = protocol_for_version(version).schedule if version else protocol.schedule
    except ValueError:  # a version this client does not know: the site's calendar is the same
        rules = protocol.schedule
    return PatientListing(
        study_id=execution.id.removeprefix(WORKFLOW_ID_PREFIX),
        workflow_id=execution.id,
        running=execution.status is WorkflowExecutionStatus.RUNNING,
        phase=_phase(phase),
        next_due_on=site_date(next_due, rules) if next_due is not None else None,
        overdue=bool(attributes.get(sa.OVERDUE)),
        expedited_report_open=bool(attributes.get(sa.EXPEDITED_REPORT_OPEN)),
        highest_crs_grade=attributes.get(sa.HIGHEST_CRS_GRADE) or 0,
        highest_icans_grade=attributes.get(sa.HIGHEST_ICANS_GRADE) or 0,
        protocol_version=version,
    )


def listing_from_record(status: PatientStatus) -> PatientListing:
    """One row of the list as the trial record's summary has it, for a journey Temporal does not list (ended past
    retention, or a kept record such as the demo's whose workflows are gone): not running, nothing due here."""
    return PatientListing(
        study_id=status.study_id,
        workflow_id=journey_workflow_id(status.study_id),
        running=False,
        phase=status.phase,
        next_due_on=None,
        overdue=False,
        expedited_report_open=bool(status.open_expedited_reports),
        highest_crs_grade=status.highest_crs_grade,
        highest_icans_grade=status.highest_icans_grade,
        protocol_version=status.protocol_version,
    )
