"""The record as CDISC ODM 1.3.2 (exports/odm.py), on a synthetic record built through the decider: the document
validates against the official schema odmlib ships; the metadata comes from the protocol and the command registry;
every event is a form with its audit record (who, when, why) and, when signed, its signature; no birth date."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from domain.journey.command_registry import COMMANDS
from domain.journey.events import Event
from domain.protocol import CURRENT_PROTOCOL
from exports.odm import odm_document
from exports.odm_metadata import visits
from exports.odm_names import ODM_NS
from exports.schemas import ODM_1_3_2, schema_problems
from tests.exports.synthetic_record import CORRECTION_REASON, SCREEN_FAILED, TREATED, synthetic_record

NS = {"odm": ODM_NS}
CREATED_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def form_of(root: etree._Element, study_id: str, sequence: int) -> etree._Element:
    """The form of the record's entry `sequence` (its audit record's SourceID names it)."""
    [form] = root.xpath(f"//odm:FormData[odm:AuditRecord/odm:SourceID='{study_id}#{sequence}']", namespaces=NS)
    return form


@pytest.fixture(scope="module")
def record() -> dict[str, list[Event]]:
    return synthetic_record()


@pytest.fixture(scope="module")
def document(record: dict[str, list[Event]]) -> bytes:
    return odm_document(record, created_at=CREATED_AT, current=CURRENT_PROTOCOL)


@pytest.fixture(scope="module")
def root(document: bytes) -> etree._Element:
    return etree.fromstring(document)


def test_the_document_validates_against_the_odm_1_3_2_schema(document: bytes) -> None:
    assert schema_problems(document, ODM_1_3_2) == []


def test_the_schema_check_finds_a_broken_document(root: etree._Element) -> None:
    broken = etree.fromstring(etree.tostring(root))
    form = broken.find(".//odm:FormData", NS)
    assert form is not None
    del form.attrib["FormOID"]
    problems = schema_problems(etree.tostring(broken), ODM_1_3_2)
    assert problems and any("FormOID" in problem for problem in problems)


def test_study_events_are_the_treatment_phases_and_every_visit_of_the_protocol(root: etree._Element) -> None:
    oids = [e.get("OID") for e in root.iterfind(".//odm:StudyEventDef", NS)]
    for code, _ in visits(CURRENT_PROTOCOL):
        assert f"SE.{code}" in oids
    assert {"SE.SCREENING", "SE.INFUSION", "SE.SAFETY", "SE.D7", "SE.MRD", "SE.M3", "SE.Y15"} <= set(oids)
    d7 = root.find(".//odm:StudyEventDef[@OID='SE.D7']", NS)
    assert d7 is not None
    assert {ref.get("FormOID") for ref in d7} == {"F.SEND_VISIT_REMINDER", "F.MARK_VISIT_MISSED", "F.RECORD_VISIT"}


def test_forms_are_the_steps_of_the_command_registry_with_their_help(root: etree._Element) -> None:
    forms = {f.get("OID"): f for f in root.iterfind(".//odm:FormDef", NS)}
    assert set(forms) == {f"F.{kind.upper()}" for kind in COMMANDS}
    crs = forms["F.ASSESS_CRS"]
    assert crs.findtext("odm:Description/odm:TranslatedText", namespaces=NS) == COMMANDS["assess_crs"].help


def test_items_have_data_types_units_and_the_grades_their_code_lists(root: etree._Element) -> None:
    def item(oid: str) -> etree._Element:
        found = root.find(f".//odm:ItemDef[@OID='{oid}']", NS)
        assert found is not None, oid
        return found

    temperature = item("IT.CRS_ASSESSED.FINDINGS.MAX_TEMPERATURE_C")
    assert temperature.get("DataType") == "float"
    [unit_ref] = temperature.iterfind("odm:MeasurementUnitRef", NS)
    unit = root.find(f".//odm:MeasurementUnit[@OID='{unit_ref.get('MeasurementUnitOID')}']", NS)
    assert unit is not None and unit.get("Name") == "°C"
    assert item("IT.CELLS_INFUSED.INFUSED_AT").get("DataType") == "datetime"
    assert item("IT.CONSENT_SIGNED.SIGNED_ON").get("DataType") == "date"
    assert item("IT.ADVERSE_EVENT_RECORDED.ADVERSE_EVENT.SERIOUS").get("DataType") == "boolean"

    def code_list(item_oid: str) -> list[str]:
        ref = item(item_oid).find("odm:CodeListRef", NS)
        assert ref is not None
        found = root.find(f".//odm:CodeList[@OID='{ref.get('CodeListOID')}']", NS)
        assert found is not None
        return [entry.get("CodedValue") for entry in found]

    assert code_list("IT.CRS_ASSESSED.GRADE") == ["0", "1", "2", "3", "4"]
    assert code_list("IT.ICANS_ASSESSED.GRADE") == ["0", "1", "2", "3", "4"]
    assert code_list("IT.ADVERSE_EVENT_RECORDED.ADVERSE_EVENT.CTCAE_GRADE") == ["1", "2", "3", "4", "5"]
    assert code_list("IT.DISEASE_ASSESSED.RESPONSE.CATEGORY") == ["cr", "cri", "no_remission"]


def test_every_event_is_a_form_with_its_audit_record_and_values(
    root: etree._Element, record: dict[str, list[Event]]
) -> None:
    for study_id, events in record.items():
        subject = root.find(f".//odm:SubjectData[@SubjectKey='{study_id}']", NS)
        assert subject is not None
        forms = {
            f.findtext("odm:AuditRecord/odm:SourceID", namespaces=NS): f for f in subject.iter(f"{{{ODM_NS}}}FormData")
        }
        assert set(forms) == {f"{study_id}#{event.sequence}" for event in events}
        for event in events:
            form = forms[f"{study_id}#{event.sequence}"]
            audit = form.find("odm:AuditRecord", NS)
            assert audit is not None
            assert audit.find("odm:UserRef", NS).get("UserOID") == f"USR.{event.actor.user_id}"  # type: ignore[union-attr]
            stamp = datetime.fromisoformat(audit.findtext("odm:DateTimeStamp", namespaces=NS) or "")
            assert stamp == event.occurred_at
            assert audit.findtext("odm:ReasonForChange", namespaces=NS) == event.reason
            assert form.find("odm:ItemGroupData", NS).get("ItemGroupOID") == f"IG.{event.type.upper()}"  # type: ignore[union-attr]


def test_a_correction_carries_its_reason_and_the_entry_it_supersedes(
    root: etree._Element, record: dict[str, list[Event]]
) -> None:
    [correction] = [e for e in record[TREATED] if e.reason == CORRECTION_REASON]
    form = form_of(root, TREATED, correction.sequence)
    assert form.get("TransactionType") == "Update"
    values = {i.get("ItemOID"): i.get("Value") for i in form.iter(f"{{{ODM_NS}}}ItemData")}
    assert values["IT.ADVERSE_EVENT_RECORDED.SUPERSEDES"] == str(correction.sequence - 1)
    assert values["IT.ADVERSE_EVENT_RECORDED.ADVERSE_EVENT.CTCAE_GRADE"] == "1"


def test_signed_entries_carry_their_signature_manifestation(
    root: etree._Element, record: dict[str, list[Event]]
) -> None:
    signed = [e for e in record[TREATED] if e.signature is not None]
    assert {e.type for e in signed} >= {"consent_signed", "cells_infused", "crs_assessed"}
    for event in record[TREATED]:
        form = form_of(root, TREATED, event.sequence)
        signature = form.find("odm:Signature", NS)
        if event.signature is None:
            assert signature is None
            continue
        assert signature is not None
        assert signature.find("odm:UserRef", NS).get("UserOID") == f"USR.{event.signature.signer_user_id}"  # type: ignore[union-attr]
        meaning = signature.find("odm:SignatureRef", NS).get("SignatureOID")  # type: ignore[union-attr]
        assert meaning == f"SD.{event.signature.meaning.value.upper()}"
        assert (
            datetime.fromisoformat(signature.findtext("odm:DateTimeStamp", namespaces=NS) or "")
            == event.signature.signed_at
        )
        manifest = signature.findtext("odm:CryptoBindingManifest", namespaces=NS)
        assert manifest == f"sha256:{event.signature.signed_sha256}"
        user = root.find(f".//odm:AdminData/odm:User[@OID='USR.{event.signature.signer_user_id}']", NS)
        assert user is not None and user.findtext("odm:FullName", namespaces=NS) == event.signature.printed_name


def test_no_birth_date_leaves_the_record(document: bytes, record: dict[str, list[Event]]) -> None:
    assert b"DATE_OF_BIRTH" not in document.upper()
    for events in record.values():
        enrolled = events[0].payload
        birth = enrolled.screening.date_of_birth  # type: ignore[union-attr]
        assert birth.isoformat().encode() not in document


def test_the_screen_failure_is_a_subject_too(root: etree._Element) -> None:
    subject = root.find(f".//odm:SubjectData[@SubjectKey='{SCREEN_FAILED}']", NS)
    assert subject is not None
    assert subject.find(".//odm:ItemGroupData[@ItemGroupOID='IG.SCREEN_FAILED']", NS) is not None


def dangling_references(root: etree._Element) -> list[str]:
    """Every OID the document refers to that it does not define (the schema cannot check this), within each
    ClinicalData's MetaDataVersion."""
    problems: list[str] = []
    definitions = {
        "StudyEventOID": "StudyEventDef",
        "FormOID": "FormDef",
        "ItemGroupOID": "ItemGroupDef",
        "ItemOID": "ItemDef",
        "CodeListOID": "CodeList",
    }
    units = set(root.xpath("//odm:MeasurementUnit/@OID", namespaces=NS))
    problems += [
        f"unit {oid}"
        for oid in root.xpath("//odm:MeasurementUnitRef/@MeasurementUnitOID", namespaces=NS)
        if oid not in units
    ]
    users = set(root.xpath("//odm:AdminData/odm:User/@OID", namespaces=NS))
    problems += [f"user {oid}" for oid in root.xpath("//odm:UserRef/@UserOID", namespaces=NS) if oid not in users]
    meanings = set(root.xpath("//odm:SignatureDef/@OID", namespaces=NS))
    problems += [
        f"signature {o}" for o in root.xpath("//odm:SignatureRef/@SignatureOID", namespaces=NS) if o not in meanings
    ]
    for mdv in root.iterfind(".//odm:MetaDataVersion", NS):
        defined = {
            attribute: set(mdv.xpath(f"odm:{tag}/@OID", namespaces=NS)) for attribute, tag in definitions.items()
        }
        clinical = root.xpath(f"odm:ClinicalData[@MetaDataVersionOID='{mdv.get('OID')}']", namespaces=NS)
        for scope in (mdv, *clinical):
            for attribute, known in defined.items():
                for oid in scope.xpath(f".//@{attribute}", namespaces=NS):
                    if oid not in known:
                        problems.append(f"{mdv.get('OID')}: {attribute} {oid}")
    return problems


def test_every_oid_the_document_uses_is_defined(root: etree._Element) -> None:
    assert dangling_references(root) == []


def test_a_visit_the_calendar_does_not_know_is_still_defined(record: dict[str, list[Event]]) -> None:
    """A patient's data may name a visit of another protocol version: its study event is defined all the same."""
    events = list(record[TREATED])
    visit = next(e for e in events if e.type == "visit_completed")
    odd = visit.model_copy(
        update={"sequence": len(events) + 1, "payload": visit.payload.model_copy(update={"visit_code": "D60"})}
    )
    root = etree.fromstring(odm_document({TREATED: [*events, odd]}, created_at=CREATED_AT, current=CURRENT_PROTOCOL))
    assert root.find(".//odm:StudyEventDef[@OID='SE.D60']", NS) is not None
    assert dangling_references(root) == []
    broken = etree.fromstring(etree.tostring(root))
    for definition in broken.iterfind(".//odm:StudyEventDef[@OID='SE.D60']", NS):
        definition.getparent().remove(definition)
    assert "MDV.1.0: StudyEventOID SE.D60" in dangling_references(broken)
