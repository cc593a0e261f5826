"""The ODM study metadata of one protocol version: study events (the treatment phases and the protocol's visits),
forms (the steps of the command registry), item groups (the kinds of event each step records), items with their
data types and units, and code lists (ASTCT and CTCAE grades, every enumerated field's values)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Final, get_args

from lxml import etree

from domain.journey.command_registry import COMMANDS
from domain.journey.events import EventPayload
from domain.protocol import TrialProtocol
from domain.schedule import chemotherapy_resumption_visit, follow_up_calendar, mrd_evaluation_visit
from domain.toxicity import ASTCT_MAX_GRADE
from exports.event_map import EVENT_EXPORTS, PHASE_EVENTS
from exports.items import Leaf, model_leaves
from exports.odm_names import E, element

PAYLOAD_MODELS: Final = {model.model_fields["type"].default: model for model in get_args(get_args(EventPayload)[0])}
_ANY_DAY = date(2001, 1, 1)  # the calendar's codes and labels do not depend on the infusion date

# The grade items and the scale each is on.
GRADE_SCALES: Final[dict[tuple[str, str], str]] = {
    ("crs_assessed", "grade"): "CL.ASTCT_CRS_GRADE",
    ("icans_assessed", "grade"): "CL.ASTCT_ICANS_GRADE",
    ("adverse_event_recorded", "adverse_event.ctcae_grade"): "CL.CTCAE_GRADE",
}


def mdv_oid(protocol: TrialProtocol) -> str:
    return f"MDV.{protocol.version}"


def study_event_oid(name: str) -> str:
    return f"SE.{name}"


def form_oid(step: str) -> str:
    return f"F.{step.upper()}"


def item_group_oid(event_type: str) -> str:
    return f"IG.{event_type.upper()}"


def item_oid(event_type: str, path: str) -> str:
    return f"IT.{event_type.upper()}.{path.upper()}"


def _unit_oid(unit: str) -> str:
    return "MU." + (re.sub(r"[^A-Za-z0-9]+", "_", unit).strip("_").upper() or "UNIT")


def _choices_oid(event_type: str, path: str) -> str:
    return f"CL.{event_type.upper()}.{path.upper()}"


def visits(protocol: TrialProtocol) -> list[tuple[str, str]]:
    """The protocol's scheduled visits in calendar order: (code, label)."""
    rules = protocol.schedule
    calendar = [
        mrd_evaluation_visit(_ANY_DAY, rules),
        chemotherapy_resumption_visit(_ANY_DAY, rules),
        *follow_up_calendar(_ANY_DAY, rules),
    ]
    return [(visit.code, visit.label) for visit in sorted(calendar, key=lambda v: v.target_date)]


def unit_of(event_type: str, path: str) -> str | None:
    return COMMANDS[EVENT_EXPORTS[event_type].step].units.get(path)


def leaves(event_type: str) -> list[Leaf]:
    return model_leaves(PAYLOAD_MODELS[event_type])


def _translated(tag: str, text: str) -> etree._Element:
    wrapper = element(tag)
    translated = etree.SubElement(wrapper, E("TranslatedText"))
    translated.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    translated.text = text
    return wrapper


def _units() -> list[str]:
    return sorted({unit for entry in COMMANDS.values() for unit in entry.units.values()})


def basic_definitions() -> etree._Element:
    definitions = element("BasicDefinitions")
    for unit in _units():
        measurement = etree.SubElement(definitions, E("MeasurementUnit"), OID=_unit_oid(unit), Name=unit)
        measurement.append(_translated("Symbol", unit))
    return definitions


def _visits_with(protocol: TrialProtocol, recorded: Iterable[str]) -> list[tuple[str, str]]:
    """The protocol's visits, then any other visit code the record names (say, a visit of an earlier version of the
    protocol for a patient since moved onto this one): every study event the clinical data uses is defined."""
    calendar = visits(protocol)
    known = {code for code, _ in calendar}
    return [
        *calendar,
        *((code, "visit recorded under another protocol version") for code in sorted(set(recorded) - known)),
    ]


def _study_events(protocol: TrialProtocol, recorded_visits: Iterable[str]) -> Iterator[tuple[str, str, str]]:
    """(OID name, name, type) of every study event: the phases, then the visits."""
    for name, (label, kind) in PHASE_EVENTS.items():
        yield name, label, kind
    for code, label in _visits_with(protocol, recorded_visits):
        yield code, f"Visit {code}: {label}", "Scheduled"


def _forms_by_study_event(protocol: TrialProtocol, recorded_visits: Iterable[str]) -> dict[str, list[str]]:
    """Each study event's forms (steps), in the registry's order."""
    visit_codes = [code for code, _ in _visits_with(protocol, recorded_visits)]
    forms: dict[str, list[str]] = {}
    for export in EVENT_EXPORTS.values():
        targets = [export.study_event] if isinstance(export.study_event, str) else visit_codes
        for target in targets:
            steps = forms.setdefault(str(target), [])
            if export.step not in steps:
                steps.append(export.step)
    for steps in forms.values():
        steps.sort(key=list(COMMANDS).index)
    return forms


def metadata_version(protocol: TrialProtocol, recorded_visits: Iterable[str] = ()) -> etree._Element:
    """The metadata of `protocol`; `recorded_visits`: the visit codes its subjects' data name (see _visits_with)."""
    recorded_visits = tuple(recorded_visits)
    mdv = element("MetaDataVersion", OID=mdv_oid(protocol), Name=f"Protocol {protocol.version}")
    mdv.set("Description", f"{protocol.title}, protocol version {protocol.version}")
    protocol_element = etree.SubElement(mdv, E("Protocol"))
    study_events = list(_study_events(protocol, recorded_visits))
    for order, (name, _, _) in enumerate(study_events, start=1):
        etree.SubElement(
            protocol_element,
            E("StudyEventRef"),
            StudyEventOID=study_event_oid(name),
            OrderNumber=str(order),
            Mandatory="No",
        )
    forms = _forms_by_study_event(protocol, recorded_visits)
    for name, label, kind in study_events:
        event_def = etree.SubElement(
            mdv, E("StudyEventDef"), OID=study_event_oid(name), Name=label, Repeating="Yes", Type=kind
        )
        for step in forms.get(name, []):
            etree.SubElement(event_def, E("FormRef"), FormOID=form_oid(step), Mandatory="No")
    for step, entry in COMMANDS.items():
        form = etree.SubElement(mdv, E("FormDef"), OID=form_oid(step), Name=step, Repeating="Yes")
        form.append(_translated("Description", entry.help))
        for event_type, export in EVENT_EXPORTS.items():
            if export.step == step:
                etree.SubElement(form, E("ItemGroupRef"), ItemGroupOID=item_group_oid(event_type), Mandatory="No")
    for event_type in EVENT_EXPORTS:
        group = etree.SubElement(
            mdv, E("ItemGroupDef"), OID=item_group_oid(event_type), Name=event_type, Repeating="No"
        )
        for leaf in leaves(event_type):
            etree.SubElement(group, E("ItemRef"), ItemOID=item_oid(event_type, leaf.path), Mandatory="No")
    code_lists: list[etree._Element] = []
    for event_type in EVENT_EXPORTS:
        for leaf in leaves(event_type):
            item = etree.SubElement(
                mdv, E("ItemDef"), OID=item_oid(event_type, leaf.path), Name=leaf.path, DataType=leaf.data_type
            )
            if (unit := unit_of(event_type, leaf.path)) is not None:
                etree.SubElement(item, E("MeasurementUnitRef"), MeasurementUnitOID=_unit_oid(unit))
            if (scale := GRADE_SCALES.get((event_type, leaf.path))) is not None:
                etree.SubElement(item, E("CodeListRef"), CodeListOID=scale)
            elif leaf.choices:
                oid = _choices_oid(event_type, leaf.path)
                etree.SubElement(item, E("CodeListRef"), CodeListOID=oid)
                code_lists.append(_code_list(oid, f"{event_type} {leaf.path}", "text", leaf.choices))
    mdv.extend(_grade_code_lists(protocol))
    mdv.extend(code_lists)
    return mdv


def _code_list(
    oid: str, name: str, data_type: str, values: tuple[str, ...], decodes: dict[str, str] | None = None
) -> etree._Element:
    code_list = element("CodeList", OID=oid, Name=name, DataType=data_type)
    for value in values:
        item = etree.SubElement(code_list, E("CodeListItem"), CodedValue=value)
        item.append(_translated("Decode", (decodes or {}).get(value, value)))
    return code_list


def _grade_code_lists(protocol: TrialProtocol) -> list[etree._Element]:
    astct = tuple(str(grade) for grade in range(ASTCT_MAX_GRADE + 1))
    ctcae = tuple(str(grade) for grade in range(1, protocol.safety.ctcae_max_grade + 1))
    return [
        _code_list(
            "CL.ASTCT_CRS_GRADE",
            "CRS grade (ASTCT consensus)",
            "integer",
            astct,
            {"0": "No CRS"} | {g: f"ASTCT CRS grade {g}" for g in astct[1:]},
        ),
        _code_list(
            "CL.ASTCT_ICANS_GRADE",
            "ICANS grade (ASTCT consensus)",
            "integer",
            astct,
            {"0": "No ICANS"} | {g: f"ASTCT ICANS grade {g}" for g in astct[1:]},
        ),
        _code_list(
            "CL.CTCAE_GRADE",
            f"CTCAE v{protocol.safety.ctcae_version} grade",
            "integer",
            ctcae,
            {g: f"CTCAE v{protocol.safety.ctcae_version} grade {g}" for g in ctcae},
        ),
    ]
