"""define.xml 2.1 for the SDTM datasets: each dataset's structure, class, keys and file, and each variable's type,
length and label (the metadata of exports/sdtm_domains.py; lengths from the data)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from lxml import etree

from domain.protocol import TrialProtocol
from exports.odm_names import ODM_NS, XML_LANG, E
from exports.sdtm import Dataset
from exports.sdtm_domains import Variable

DEF_NS: Final = "http://www.cdisc.org/ns/def/v2.1"
XLINK_NS: Final = "http://www.w3.org/1999/xlink"
SDTMIG: Final = ("SDTMIG", "3.4")
_STANDARD_OID: Final = "STD.SDTMIG"


def D(tag: str) -> str:  # the def: namespace's element, as E is ODM's
    return f"{{{DEF_NS}}}{tag}"


def _description(parent: etree._Element, text: str) -> None:
    description = etree.SubElement(parent, E("Description"))
    translated = etree.SubElement(description, E("TranslatedText"))
    translated.set(XML_LANG, "en")
    translated.text = text


def _length(variable: Variable, dataset: Dataset) -> int:
    if variable.kind == "Num":
        return 8  # SAS numerics are 8 bytes
    return max((len(str(row[variable.name]).encode("utf-8")) for row in dataset.rows), default=1) or 1


def xpt_file(dataset: Dataset) -> str:
    return f"{dataset.name.lower()}.xpt"


def define_document(datasets: Mapping[str, Dataset], protocol: TrialProtocol, *, created_at: datetime) -> bytes:
    """define.xml (Define-XML 2.1.0, SDTMIG 3.4) describing `datasets` as transport files beside it."""
    root = etree.Element(
        E("ODM"),
        nsmap={None: ODM_NS, "def": DEF_NS, "xlink": XLINK_NS},
        attrib={
            "FileType": "Snapshot",
            "FileOID": f"TRIALFLOW.DEFINE.{created_at.strftime('%Y%m%dT%H%M%S')}",
            "CreationDateTime": created_at.isoformat(),
            "ODMVersion": "1.3.2",
            "Originator": "trialflow",
            D("Context"): "Submission",
        },
    )
    study = etree.SubElement(root, E("Study"), OID="ST.TRIALFLOW")
    variables = etree.SubElement(study, E("GlobalVariables"))
    for tag, text in (
        ("StudyName", protocol.accrual.trial_identifier),
        ("StudyDescription", protocol.title),
        ("ProtocolName", f"{protocol.accrual.trial_identifier} protocol {protocol.version}"),
    ):
        etree.SubElement(variables, E(tag)).text = text
    mdv = etree.SubElement(
        study,
        E("MetaDataVersion"),
        OID=f"MDV.SDTM.{protocol.version}",
        Name=f"SDTM tabulations, protocol {protocol.version}",
        Description=f"{SDTMIG[0]} {SDTMIG[1]} datasets of the trial record",
        attrib={D("DefineVersion"): "2.1.0"},
    )
    standards = etree.SubElement(mdv, D("Standards"))
    etree.SubElement(
        standards, D("Standard"), OID=_STANDARD_OID, Name=SDTMIG[0], Type="IG", Version=SDTMIG[1], Status="Final"
    )
    item_defs: list[etree._Element] = []
    for dataset in datasets.values():
        domain = dataset.domain
        group = etree.SubElement(
            mdv,
            E("ItemGroupDef"),
            OID=f"IG.{domain.name}",
            Domain=domain.name,
            Name=domain.name,
            Repeating="No" if domain.name == "DM" else "Yes",
            IsReferenceData="No",
            SASDatasetName=domain.name,
            Purpose="Tabulation",
            attrib={
                D("Structure"): domain.structure,
                D("StandardOID"): _STANDARD_OID,
                D("ArchiveLocationID"): f"LF.{domain.name}",
            },
        )
        _description(group, domain.label)
        for order, variable in enumerate(domain.variables, start=1):
            reference = etree.SubElement(
                group,
                E("ItemRef"),
                ItemOID=f"IT.{domain.name}.{variable.name}",
                OrderNumber=str(order),
                Mandatory="Yes" if variable.name in domain.keys else "No",
                Role=variable.role,
            )
            if variable.name in domain.keys:
                reference.set("KeySequence", str(domain.keys.index(variable.name) + 1))
            item = etree.Element(
                E("ItemDef"),
                OID=f"IT.{domain.name}.{variable.name}",
                Name=variable.name,
                DataType=variable.data_type,
                Length=str(_length(variable, dataset)),
                SASFieldName=variable.name,
            )
            _description(item, variable.label)
            item_defs.append(item)
        etree.SubElement(group, D("Class"), Name=domain.sdtm_class)
        href = {f"{{{XLINK_NS}}}href": xpt_file(dataset)}
        leaf = etree.SubElement(group, D("leaf"), ID=f"LF.{domain.name}", attrib=href)
        etree.SubElement(leaf, D("title")).text = xpt_file(dataset)
    mdv.extend(item_defs)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
