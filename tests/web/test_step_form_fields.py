"""The step forms as generated from the command registry (no browser): every staff step has a form whose inputs carry
the model's types, ranges, choices and the registry's units; a posted form becomes the command's values, and every
problem lands at its field; a due item names its form; the grade chart and the events' own times come from the
record's payloads."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pydantic import BaseModel, ValidationError

from domain.journey import commands as cmd
from domain.journey import events as ev
from domain.journey.command_registry import STAFF_COMMANDS
from domain.journey.status_view import DueItem
from domain.roles import Actor, Role
from domain.schedule import VisitStatus
from facade.audit import AuditEntry
from web.patient_view import grade_chart, happened_moments
from web.patient_words import EVENT_WORDS, VISIT_STATUS_WORDS
from web.step_forms import FORM_WIDE, FormGroup, form_of, group_names, leaves, posted_values, problems_by_field
from web.step_links import item_link, may_record, step_of, steps_for
from web.step_words import CHOICE_WORDS, FIELD_WORDS, GROUP_WORDS, STEP_HELP, STEP_WORDS

NURSE = Actor(user_id="nurse.chen", role=Role.NURSE)


def fields_of(kind: str) -> dict[str, object]:
    return {f.name: f for f in leaves(form_of(STAFF_COMMANDS[kind]))}


def test_every_staff_step_has_a_form_with_words_for_its_title_groups_and_fields() -> None:
    for kind, entry in STAFF_COMMANDS.items():
        assert kind in STEP_WORDS, kind
        assert STEP_HELP[kind] == entry.help, f"{kind}: the catalog's help is not the registry's"
        items = form_of(entry)
        assert not any(f.name in ("kind", "actor", "signature") for f in leaves(items)), kind
        for field in leaves(items):
            assert field.leaf in FIELD_WORDS, f"{kind}: {field.name} has no label"
            assert all(choice in CHOICE_WORDS for choice in field.choices), f"{kind}: {field.name}'s choices"
        for group in group_names(items):
            assert group.rsplit(".", 1)[-1] in GROUP_WORDS, f"{kind}: {group}"


def test_the_crs_form_carries_the_models_types_ranges_choices_and_the_registrys_units() -> None:
    found = fields_of("assess_crs")
    temperature = found["findings.max_temperature_c"]
    assert (temperature.kind, temperature.unit, temperature.required) == ("number", "°C", True)
    assert (temperature.low, temperature.high) == (30, 45)
    assert found["findings.hypotension"].kind == "boolean"
    assert found["findings.vasopressors_excluding_vasopressin"].kind == "integer"
    assert "nasal_cannula" in found["findings.oxygen"].choices
    flow = found["findings.oxygen_flow_l_per_min"]
    assert (flow.required, flow.above, flow.maximum, flow.unit) == (False, 0, 100, "L/min")
    assert found["assessed_at"].kind == "datetime"
    groups = {i.name: i for i in form_of(STAFF_COMMANDS["assess_crs"]) if isinstance(i, FormGroup)}
    assert not groups["findings"].optional
    correction = groups["correction"]
    assert correction.optional
    assert not any(f.required for f in leaves(correction.items))


def test_a_posted_form_becomes_the_commands_values_in_site_time_and_an_empty_correction_is_left_out() -> None:
    items = form_of(STAFF_COMMANDS["assess_crs"])
    form = {
        "assessed_at": "2026-12-06T09:30",
        "findings.max_temperature_c": "38.6",
        "findings.hypotension": "false",
        "findings.vasopressors_excluding_vasopressin": "0",
        "findings.vasopressin": "false",
        "findings.oxygen": "none",
        "findings.oxygen_flow_l_per_min": "",
        "correction.supersedes_sequence": "",
        "correction.reason": " ",
    }
    values = posted_values(items, form, "+08:00")
    assert "correction" not in values and "oxygen_flow_l_per_min" not in values["findings"]
    command = cmd.AssessCrs.model_validate({**values, "actor": NURSE})
    assert command.assessed_at == datetime(2026, 12, 6, 1, 30, tzinfo=UTC)
    assert command.findings.max_temperature_c == 38.6


def test_every_problem_is_filed_at_its_field_and_a_models_own_check_at_its_group() -> None:
    items = form_of(STAFF_COMMANDS["assess_crs"])
    form = {
        "findings.max_temperature_c": "51",
        "findings.hypotension": "false",
        "findings.vasopressors_excluding_vasopressin": "2",
        "findings.vasopressin": "false",
        "findings.oxygen": "none",
    }
    with pytest.raises(ValidationError) as raised:
        cmd.AssessCrs.model_validate({**posted_values(items, form, "+08:00"), "actor": NURSE})
    known = {f.name for f in leaves(items)} | group_names(items)
    problems = problems_by_field(raised.value, known)
    assert problems["assessed_at"] == ["is required"]
    assert problems["findings.max_temperature_c"] == ["must be at most 45"]
    assert FORM_WIDE not in problems

    consistent = {**form, "assessed_at": "2026-12-06T09:30", "findings.max_temperature_c": "38"}
    with pytest.raises(ValidationError) as raised:
        cmd.AssessCrs.model_validate({**posted_values(items, consistent, "+08:00"), "actor": NURSE})
    assert problems_by_field(raised.value, known) == {"findings": ["vasopressors are recorded but hypotension is not"]}


def test_each_due_item_names_its_form_and_what_it_starts_with() -> None:
    def item(code: str, role: Role = Role.RESEARCH_COORDINATOR) -> DueItem:
        return DueItem(code=code, what=code, responsible=role)

    assert step_of(item("ELIGIBILITY")) == ("confirm_eligibility", {})
    assert step_of(item("LD-FLU-2")) == ("record_lymphodepletion_dose", {"drug": "fludarabine", "day_number": "2"})
    assert step_of(item("LD-CYC-1")) == ("record_lymphodepletion_dose", {"drug": "cyclophosphamide", "day_number": "1"})
    assert step_of(item("ER-00012")) == ("confirm_expedited_report", {"report_id": "ER-00012"})
    assert step_of(item("MRD")) == ("record_disease_assessment", {})
    assert item_link("WB-1", item("D7")) == "/patient/WB-1/steps/record_visit?visit_code=D7"
    for kind, entry in STAFF_COMMANDS.items():
        assert kind == "enroll_patient" or kind in steps_for(next(iter(entry.roles)))
    assert may_record(Role.NURSE, item("LD-FLU-1")) and not may_record(Role.NURSE, item("ELIGIBILITY"))
    assert "enroll_patient" not in steps_for(Role.RESEARCH_COORDINATOR)  # enrollment has its own page
    assert steps_for(Role.SUPERVISOR) == []


def audit_event(sequence: int, event_type: str, payload: dict[str, object]) -> AuditEntry:
    at = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    return AuditEntry(
        entry="event",
        study_id="WB-1",
        sequence=sequence,
        occurred_at=at,
        recorded_at=at,
        actor_user_id="nurse.chen",
        actor_role="nurse",
        event_type=event_type,
        protocol_version="1.0",
        payload=json.dumps(payload),
        reason=None,
        previous_hash=None,
        hash=None,
        refused_command=None,
        refusal=None,
        refusal_reasons=None,
    )


def test_the_chart_plots_each_assessment_at_its_own_time_and_a_correction_replaces_what_it_corrects() -> None:
    entries = [
        audit_event(5, "crs_assessed", {"assessed_at": "2026-12-01T01:00:00Z", "grade": 1}),
        audit_event(6, "icans_assessed", {"assessed_at": "2026-12-02T01:00:00Z", "grade": 0}),
        audit_event(7, "crs_assessed", {"assessed_at": "2026-12-03T01:00:00Z", "grade": 3}),
        audit_event(8, "crs_assessed", {"assessed_at": "2026-12-03T01:00:00Z", "grade": 2, "supersedes": 7}),
        audit_event(9, "apheresis_collected", {"collected_on": "2026-11-20"}),
    ]
    chart = grade_chart(entries)
    assert [p.grade for p in chart.crs] == [1, 2] and [p.grade for p in chart.icans] == [0]
    assert chart.crs[0].x == chart.left and chart.crs[-1].x == chart.right
    assert chart.crs[1].y < chart.crs[0].y < chart.icans[0].y  # higher grades are drawn higher
    assert chart.path(chart.crs).startswith("M")
    happened = happened_moments(entries)
    assert happened[9] == date(2026, 11, 20) and happened[5] == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert grade_chart(entries[-1:]).empty


def test_every_event_type_and_visit_status_has_words_on_the_patients_page() -> None:
    types = {
        model.model_fields["type"].default
        for model in vars(ev).values()
        if isinstance(model, type) and issubclass(model, BaseModel) and "type" in model.model_fields
    }
    types = {t for t in types if isinstance(t, str)}
    assert len(types) > 30 and types <= set(EVENT_WORDS), sorted(types - set(EVENT_WORDS))
    assert {status.value for status in VisitStatus} == set(VISIT_STATUS_WORDS)
