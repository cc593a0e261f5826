"""The dashboard's view of the facade's answers: patients grouped by phase in the protocol's order, and the report's
CR analyses (among infused patients; by intention to treat too where the report has it)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from domain.journey.phases import Phase
from domain.protocol import PROTOCOL_V1
from facade import PatientListing, TrialReport, build_report
from web.dashboard import INTENTION_TO_TREAT, PER_PROTOCOL, cr_analyses, patients_by_phase


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


def test_the_reports_cr_rate_among_infused_patients_is_shown_with_its_pending_count() -> None:
    report = build_report([], PROTOCOL_V1)
    [analysis] = cr_analyses(report)
    assert analysis.name == PER_PROTOCOL
    assert analysis.cr_rate == report.primary_endpoint.cr_rate and analysis.pending == 0


def test_a_report_with_both_analyses_shows_intention_to_treat_first() -> None:
    rate = build_report([], PROTOCOL_V1).primary_endpoint.cr_rate
    both = SimpleNamespace(
        primary_endpoint=SimpleNamespace(
            intention_to_treat=SimpleNamespace(cr_rate=rate, pending=3),
            per_protocol=SimpleNamespace(cr_rate=rate, pending=2),
        )
    )
    found = cr_analyses(cast(TrialReport, cast(Any, both)))
    assert [(a.name, a.pending) for a in found] == [(INTENTION_TO_TREAT, 3), (PER_PROTOCOL, 2)]
