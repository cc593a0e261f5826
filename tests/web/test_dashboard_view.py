"""The dashboard's view of the facade's answers: patients grouped by phase in the protocol's order, the report's
CR analyses (among infused patients; by intention to treat too where the report has it), and the trial's status
shown only when it is the record's own trial."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1
from domain.trial.state import TrialState
from domain.trial.status import TrialStatus
from domain.trial.status import trial_status as status_of_trial
from facade import PatientListing, build_report
from web.dashboard import INTENTION_TO_TREAT, PER_PROTOCOL, cr_analyses, patients_by_phase, trial_of_this_record


def listing(study_id: str, phase: Phase | None) -> PatientListing:
    return PatientListing(
        study_id=study_id,
        workflow_id=f"journey-{study_id}",
        running=phase is not None,
        phase=phase,
        next_due_on=None,
        overdue=False,
        expedited_report_open=False,
        highest_crs_grade=0,
        highest_icans_grade=0,
        protocol_version=PROTOCOL_V1.version,
    )


def test_patients_are_grouped_by_phase_in_the_protocols_order_each_by_study_id() -> None:
    listings = [
        listing("WB-3903", Phase.INFUSION),
        listing("WB-3902", Phase.SCREENING),
        listing("WB-3901", Phase.INFUSION),
        listing("WB-3904", None),  # not yet indexed with a phase
    ]
    grouped = [(phase, [p.study_id for p in listed]) for phase, listed in patients_by_phase(listings)]
    assert grouped == [
        (Phase.NOT_ENROLLED, ["WB-3904"]),
        (Phase.SCREENING, ["WB-3902"]),
        (Phase.INFUSION, ["WB-3901", "WB-3903"]),
    ]


def test_the_primary_analysis_comes_first_then_per_protocol_each_with_its_pending_count() -> None:
    report = build_report([], PROTOCOL_V1)
    found = cr_analyses(report)
    assert [a.name for a in found] == [INTENTION_TO_TREAT, PER_PROTOCOL]
    assert found[0].cr_rate == report.primary_endpoint.intention_to_treat.cr_rate
    assert found[1].cr_rate == report.primary_endpoint.per_protocol.cr_rate
    assert [a.pending for a in found] == [0, 0]


def trial_status(admitted: int) -> TrialStatus:
    now = datetime(2026, 3, 2, tzinfo=UTC)
    return status_of_trial(TrialState(trial_identifier="TF"), now, PROTOCOL_V1).model_copy(
        update={"admitted": admitted}
    )


def test_the_trials_status_is_shown_only_when_it_is_this_records_trial() -> None:
    enrolled = build_report([], PROTOCOL_V1)
    enrolled = enrolled.model_copy(update={"enrollment": enrolled.enrollment.model_copy(update={"enrolled": 3})})
    # The record's own trial: it admitted the patients before their enrollment was recorded.
    own = trial_status(admitted=3)
    assert trial_of_this_record(own, enrolled) == (own, None)
    # A fresh trial beside a kept record (trial-demo --record-url): another trial's state, not shown.
    shown, why = trial_of_this_record(trial_status(admitted=0), enrolled)
    assert shown is None and why is not None and "admitted nobody" in why and "3 enrolled" in why
    # No patient yet: a trial that admitted nobody is this record's.
    empty = build_report([], PROTOCOL_V1)
    assert trial_of_this_record(trial_status(admitted=0), empty)[0] is not None
    # Temporal not answering: why is said.
    shown, why = trial_of_this_record(ConnectionError("temporal:7233 refused"), enrolled)
    assert shown is None and why is not None and "temporal:7233 refused" in why
