"""The SDTM datasets this trial fills and their variables (SDTMIG 3.4 names, labels and types). Names are at most
8 characters and labels 40, as SAS transport v5 requires."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from exports.event_map import AE, DM, DS, EX, RS, SV


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    kind: Literal["Char", "Num"] = "Char"
    role: str = "Record Qualifier"
    numeric: Literal["integer", "float"] = "integer"  # a Num's define.xml data type

    @property
    def data_type(self) -> str:
        return "text" if self.kind == "Char" else self.numeric


@dataclass(frozen=True)
class Domain:
    name: str
    label: str
    sdtm_class: str  # define.xml's def:Class
    structure: str
    variables: tuple[Variable, ...]
    keys: tuple[str, ...]  # the natural key, in sort order

    def names(self) -> list[str]:
        return [variable.name for variable in self.variables]


def _common(prefix: str) -> tuple[Variable, ...]:
    return (
        Variable("STUDYID", "Study Identifier", role="Identifier"),
        Variable("DOMAIN", "Domain Abbreviation", role="Identifier"),
        Variable("USUBJID", "Unique Subject Identifier", role="Identifier"),
        Variable(f"{prefix}SEQ", "Sequence Number", "Num", role="Identifier"),
    )


DOMAINS: Final[dict[str, Domain]] = {
    DM: Domain(
        DM,
        "Demographics",
        "SPECIAL PURPOSE",
        "One record per subject",
        (
            Variable("STUDYID", "Study Identifier", role="Identifier"),
            Variable("DOMAIN", "Domain Abbreviation", role="Identifier"),
            Variable("USUBJID", "Unique Subject Identifier", role="Identifier"),
            Variable("SUBJID", "Subject Identifier for the Study", role="Topic"),
            Variable("RFSTDTC", "Subject Reference Start Date/Time"),
            Variable("RFICDTC", "Date/Time of Informed Consent"),
            Variable("DTHDTC", "Date/Time of Death"),
            Variable("DTHFL", "Subject Death Flag"),
            Variable("SITEID", "Study Site Identifier"),
            Variable("AGE", "Age", "Num"),
            Variable("AGEU", "Age Units", role="Variable Qualifier"),
            Variable("SEX", "Sex"),
            Variable("ARMCD", "Planned Arm Code"),
            Variable("ARM", "Description of Planned Arm", role="Synonym Qualifier"),
            Variable("ACTARMCD", "Actual Arm Code"),
            Variable("ACTARM", "Description of Actual Arm", role="Synonym Qualifier"),
            Variable("ARMNRS", "Reason Arm and/or Actual Arm is Null"),
        ),
        ("STUDYID", "USUBJID"),
    ),
    DS: Domain(
        DS,
        "Disposition",
        "EVENTS",
        "One record per disposition status or protocol milestone per subject",
        (
            *_common("DS"),
            Variable("DSTERM", "Reported Term for the Disposition Event", role="Topic"),
            Variable("DSDECOD", "Standardized Disposition Term", role="Synonym Qualifier"),
            Variable("DSCAT", "Category for Disposition Event", role="Grouping Qualifier"),
            Variable("DSSTDTC", "Start Date/Time of Disposition Event", role="Timing"),
        ),
        ("STUDYID", "USUBJID", "DSSEQ"),
    ),
    EX: Domain(
        EX,
        "Exposure",
        "INTERVENTIONS",
        "One record per constant dosing interval per subject",
        (
            *_common("EX"),
            Variable("EXTRT", "Name of Treatment", role="Topic"),
            Variable("EXCAT", "Category of Treatment", role="Grouping Qualifier"),
            Variable("EXDOSE", "Dose", "Num", numeric="float"),
            Variable("EXDOSU", "Dose Units", role="Variable Qualifier"),
            Variable("EXROUTE", "Route of Administration"),
            Variable("EXADJ", "Reason for Dose Adjustment"),
            Variable("EXSTDTC", "Start Date/Time of Treatment", role="Timing"),
        ),
        ("STUDYID", "USUBJID", "EXSEQ"),
    ),
    AE: Domain(
        AE,
        "Adverse Events",
        "EVENTS",
        "One record per adverse event per subject",
        (
            *_common("AE"),
            Variable("AETERM", "Reported Term for the Adverse Event", role="Topic"),
            Variable("AEDECOD", "Dictionary-Derived Term", role="Synonym Qualifier"),
            Variable("AECAT", "Category for Adverse Event", role="Grouping Qualifier"),
            Variable("AESCAT", "Subcategory for Adverse Event", role="Grouping Qualifier"),
            Variable("AESER", "Serious Event"),
            Variable("AEREL", "Causality"),
            Variable("AETOXGR", "Standard Toxicity Grade"),
            Variable("AESTDTC", "Start Date/Time of Adverse Event", role="Timing"),
        ),
        ("STUDYID", "USUBJID", "AESEQ"),
    ),
    RS: Domain(
        RS,
        "Disease Response and Clin Classification",
        "FINDINGS",
        "One record per response assessment per subject",
        (
            *_common("RS"),
            Variable("RSTESTCD", "Assessment Short Name", role="Topic"),
            Variable("RSTEST", "Assessment Name", role="Synonym Qualifier"),
            Variable("RSCAT", "Category for Assessment", role="Grouping Qualifier"),
            Variable("RSORRES", "Result or Finding in Original Units", role="Result Qualifier"),
            Variable("RSORRESU", "Original Units", role="Variable Qualifier"),
            Variable("RSSTRESC", "Result or Finding in Standard Format", role="Result Qualifier"),
            Variable(
                "RSSTRESN", "Numeric Result/Finding in Standard Units", "Num", role="Result Qualifier", numeric="float"
            ),
            Variable("RSSTRESU", "Standard Units", role="Variable Qualifier"),
            Variable("RSDTC", "Date/Time of Assessment", role="Timing"),
        ),
        ("STUDYID", "USUBJID", "RSSEQ"),
    ),
    SV: Domain(
        SV,
        "Subject Visits",
        "SPECIAL PURPOSE",
        "One record per subject per actual visit",
        (
            Variable("STUDYID", "Study Identifier", role="Identifier"),
            Variable("DOMAIN", "Domain Abbreviation", role="Identifier"),
            Variable("USUBJID", "Unique Subject Identifier", role="Identifier"),
            Variable("VISITNUM", "Visit Number", "Num", role="Topic", numeric="float"),
            Variable("VISIT", "Visit Name", role="Synonym Qualifier"),
            Variable("SVSTDTC", "Start Date/Time of Visit", role="Timing"),
            Variable("SVENDTC", "End Date/Time of Visit", role="Timing"),
        ),
        ("STUDYID", "USUBJID", "VISITNUM"),
    ),
}
