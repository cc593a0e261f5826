"""The trial record as one CDISC ODM 1.3.2 document (a Snapshot): the study metadata of every protocol version in
use, the staff who entered and signed (AdminData), and each patient's clinical data: every event as a form in its
study event, with its audit record (who, when, why: a correction carries its reason) and, when it was signed, its
signature (the manifestation of domain/signature.py: the signer, when, what it means; the SHA-256 it binds).

Patients' subject keys are study ids; no name or birth date leaves the record (exports/items.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from lxml import etree

from domain.journey.events import Event
from domain.protocol import TrialProtocol, protocol_for_version
from domain.signature import SignatureMeaning
from exports.event_map import PHASE_EVENTS, export_of
from exports.items import is_correction, item_values
from exports.odm_metadata import (
    basic_definitions,
    form_oid,
    item_group_oid,
    item_oid,
    mdv_oid,
    metadata_version,
    study_event_oid,
)
from exports.odm_names import ODM_NS, E, element

STUDY_OID = "ST.TRIALFLOW"
SITE_OID = "LOC.SITE"
_MEANINGS = {
    SignatureMeaning.AUTHOR: "I did or witnessed this, and entered it",
    SignatureMeaning.REVIEW: "I checked this entry",
    SignatureMeaning.APPROVAL: "I approve what this entry records",
}
_LEGAL_REASON = "Electronic signature under 21 CFR Part 11, the legally binding equivalent of a handwritten signature"

Records = Mapping[str, Sequence[Event]]  # each patient's events by study id, in sequence order


def _user_oid(user_id: str) -> str:
    return f"USR.{user_id}"


def _signature_oid(meaning: SignatureMeaning) -> str:
    return f"SD.{meaning.value.upper()}"


def _protocol_of(events: Sequence[Event]) -> str:
    """The version a subject's data is described by: the one they are on now (a patient moved onto an amendment is
    described by it; its metadata also defines any visit of the earlier version their data names)."""
    return events[-1].protocol_version


def _visit_codes(events: Sequence[Event]) -> set[str]:
    return {export_of(e.type).study_event_of(e.payload) for e in events} - set(PHASE_EVENTS)


def _stamp(moment: datetime) -> str:
    return moment.isoformat()


def _text_child(parent: etree._Element, tag: str, text: str) -> etree._Element:
    child = etree.SubElement(parent, E(tag))
    child.text = text
    return child


def _admin_data(records: Records, protocols: Sequence[TrialProtocol], effective: Mapping[str, str]) -> etree._Element:
    admin = element("AdminData", StudyOID=STUDY_OID)
    users: dict[str, str | None] = {}
    for events in records.values():
        for event in events:
            users.setdefault(event.actor.user_id, None)
            if event.signature is not None:
                users[event.signature.signer_user_id] = event.signature.printed_name
    for user_id in sorted(users):
        user = etree.SubElement(admin, E("User"), OID=_user_oid(user_id))
        _text_child(user, "LoginName", user_id)
        if users[user_id] is not None:
            _text_child(user, "FullName", str(users[user_id]))  # staff's printed name on their signatures
    location = etree.SubElement(admin, E("Location"), OID=SITE_OID, Name="Trial site", LocationType="Site")
    for protocol in protocols:
        etree.SubElement(
            location,
            E("MetaDataVersionRef"),
            StudyOID=STUDY_OID,
            MetaDataVersionOID=mdv_oid(protocol),
            EffectiveDate=effective[protocol.version],
        )
    for meaning in SignatureMeaning:
        definition = etree.SubElement(admin, E("SignatureDef"), OID=_signature_oid(meaning), Methodology="Electronic")
        _text_child(definition, "Meaning", f"{meaning.value}: {_MEANINGS[meaning]}")
        _text_child(definition, "LegalReason", _LEGAL_REASON)
    return admin


def _audit_record(event: Event) -> etree._Element:
    audit = element("AuditRecord")
    etree.SubElement(audit, E("UserRef"), UserOID=_user_oid(event.actor.user_id))
    etree.SubElement(audit, E("LocationRef"), LocationOID=SITE_OID)
    _text_child(audit, "DateTimeStamp", _stamp(event.occurred_at))
    if event.reason is not None:
        _text_child(audit, "ReasonForChange", event.reason)
    _text_child(audit, "SourceID", f"{event.study_id}#{event.sequence}")  # the record's key of the entry
    return audit


def _signature(event: Event) -> etree._Element | None:
    signed = event.signature
    if signed is None:
        return None
    signature = element("Signature", ID=f"SIG.{event.study_id}.{event.sequence}")
    etree.SubElement(signature, E("UserRef"), UserOID=_user_oid(signed.signer_user_id))
    etree.SubElement(signature, E("LocationRef"), LocationOID=SITE_OID)
    etree.SubElement(signature, E("SignatureRef"), SignatureOID=_signature_oid(signed.meaning))
    _text_child(signature, "DateTimeStamp", _stamp(signed.signed_at))
    _text_child(signature, "CryptoBindingManifest", f"sha256:{signed.signed_sha256}")
    return signature


def _form_data(event: Event) -> etree._Element:
    export = export_of(event.type)
    form = element(
        "FormData",
        FormOID=form_oid(export.step),
        FormRepeatKey=str(event.sequence),
        TransactionType="Update" if is_correction(event) else "Insert",
    )
    form.append(_audit_record(event))
    if (signature := _signature(event)) is not None:
        form.append(signature)
    group = etree.SubElement(form, E("ItemGroupData"), ItemGroupOID=item_group_oid(event.type))
    for path, value in item_values(event.payload).items():
        etree.SubElement(group, E("ItemData"), ItemOID=item_oid(event.type, path), Value=value)
    return form


def _subject_data(study_id: str, events: Sequence[Event]) -> etree._Element:
    subject = element("SubjectData", SubjectKey=study_id)
    etree.SubElement(subject, E("SiteRef"), LocationOID=SITE_OID)
    # Each study event once per subject (repeat key 1), its forms in the record's order.
    by_study_event: dict[str, etree._Element] = {}
    for event in events:
        name = export_of(event.type).study_event_of(event.payload)
        if name not in by_study_event:
            by_study_event[name] = etree.SubElement(
                subject, E("StudyEventData"), StudyEventOID=study_event_oid(name), StudyEventRepeatKey="1"
            )
        by_study_event[name].append(_form_data(event))
    return subject


def odm_document(records: Records, *, created_at: datetime, current: TrialProtocol) -> bytes:
    """The whole record as ODM 1.3.2 XML (UTF-8). `current` is described even before anyone is enrolled on it."""
    versions = sorted({_protocol_of(events) for events in records.values() if events} | {current.version})
    protocols = [protocol_for_version(version) for version in versions]
    effective = {
        version: min(
            (e.occurred_at.date() for events in records.values() for e in events if e.protocol_version == version),
            default=created_at.date(),
        ).isoformat()
        for version in versions
    }
    root = element(
        "ODM",
        FileType="Snapshot",
        Granularity="All",
        FileOID=f"TRIALFLOW.ODM.{created_at.strftime('%Y%m%dT%H%M%S')}",
        CreationDateTime=_stamp(created_at),
        ODMVersion="1.3.2",
        Originator="trialflow",
    )
    study = etree.SubElement(root, E("Study"), OID=STUDY_OID)
    variables = etree.SubElement(study, E("GlobalVariables"))
    _text_child(variables, "StudyName", current.title)
    _text_child(variables, "StudyDescription", current.title)
    _text_child(variables, "ProtocolName", f"{current.accrual.trial_identifier} {current.title}")
    study.append(basic_definitions())
    for protocol in protocols:
        recorded_visits = set().union(
            *(
                _visit_codes(events)
                for events in records.values()
                if events and _protocol_of(events) == protocol.version
            )
        )
        study.append(metadata_version(protocol, recorded_visits))
    root.append(_admin_data(records, protocols, effective))
    for protocol in protocols:
        subjects = [
            _subject_data(study_id, events)
            for study_id, events in sorted(records.items())
            if events and _protocol_of(events) == protocol.version
        ]
        if subjects:
            clinical = etree.SubElement(
                root, E("ClinicalData"), StudyOID=STUDY_OID, MetaDataVersionOID=mdv_oid(protocol)
            )
            clinical.extend(subjects)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


__all__ = ["ODM_NS", "STUDY_OID", "Records", "odm_document"]
