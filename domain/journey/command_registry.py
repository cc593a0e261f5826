"""One entry per command of a patient's journey: its model, who may issue it, whether it is signed, its help
text and the units of its fields. The API schema, the CLI, the workflow and the role rules all read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from domain.journey import commands as cmd
from domain.journey.custody import CUSTODY_ROLE_SET, CUSTODY_ROLES, STEP_WORDS
from domain.protocol import FrozenModel
from domain.roles import Role


class Signed(StrEnum):
    """Whether a step is electronically signed (21 CFR Part 11, the protocol's "Electronic signatures").

    DSMB decisions are signed too, but they are the trial's, not a command of one patient's journey.
    """

    ALWAYS = "always"
    WHEN = "when"  # only in the case the entry's `signed_when` names
    NEVER = "never"


@dataclass(frozen=True)
class RolesByField:
    """Roles that depend on the value of one of the command's fields: by value, who may, and the action in words."""

    field: str
    roles: Mapping[str, frozenset[Role]]
    actions: Mapping[str, str]


@dataclass(frozen=True, eq=False)
class CommandEntry:
    """What every interface needs to know of one command besides its fields."""

    model: type[FrozenModel]
    roles: frozenset[Role]
    help: str  # one line, in words a nurse understands
    signed: Signed = Signed.NEVER
    signed_when: str | None = None  # the condition, in words, when `signed` is WHEN
    # Units of the fields that have one, by dotted path ("findings.max_temperature_c"); a list's items add "[]".
    units: Mapping[str, str] = field(default_factory=dict)
    # When who may issue it depends on one field's value (a custody hand-off's step): that field, and by each value
    # the roles allowed and the action in words. `roles` is then the union of them all.
    roles_by: RolesByField | None = None

    def __post_init__(self) -> None:
        if (self.signed is Signed.WHEN) != (self.signed_when is not None):
            raise ValueError(f"{self.kind}: a condition is given exactly when the step is signed only sometimes")
        object.__setattr__(self, "units", MappingProxyType(dict(self.units)))

    @property
    def kind(self) -> str:
        return str(self.model.model_fields["kind"].default)


_CLINICIANS = frozenset({Role.PHYSICIAN, Role.INVESTIGATOR})
_BEDSIDE = frozenset({Role.NURSE, Role.PHYSICIAN, Role.INVESTIGATOR})
_SYSTEM = frozenset({Role.SYSTEM})

# The condition of the steps signed only when they correct an earlier entry.
CORRECTION_ONLY = "it corrects an earlier entry"
_CORRECTION = CORRECTION_ONLY

_SCREENING_UNITS: Mapping[str, str] = {
    "screening.end_of_induction_marrow_blasts_percent": "%",
    "screening.induction_day46_mrd_percent": "%",
    "screening.height_cm": "cm",
    "screening.weight_kg": "kg",
    "screening.serum_creatinine_mg_dl": "mg/dL",
    "screening.lvef_percent": "%",
    "screening.shortening_fraction_percent": "%",
    "screening.spo2_room_air_percent": "%",
    "screening.bilirubin_x_uln": "× upper limit of normal",
    "screening.alt_x_uln": "× upper limit of normal",
    "screening.ast_x_uln": "× upper limit of normal",
    "screening.csf_wbc_per_ul": "cells/µL",
}

_STAFF: tuple[CommandEntry, ...] = (
    # ------------------------------------------------------------ screening, consent, collection
    CommandEntry(
        cmd.EnrollPatient,
        frozenset({Role.RESEARCH_COORDINATOR}),
        "Enroll a screened patient: eligibility is decided from the screening data, induction results included.",
        units=_SCREENING_UNITS,
    ),
    CommandEntry(
        cmd.ConfirmEligibility,
        frozenset({Role.INVESTIGATOR}),
        "The investigator confirms the screened patient may join the trial.",
        signed=Signed.ALWAYS,
    ),
    CommandEntry(
        cmd.CorrectScreening,
        frozenset({Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR}),
        "Correct the screening values of the current screening: eligibility is decided again on them.",
        signed=Signed.ALWAYS,
        units=_SCREENING_UNITS,
    ),
    CommandEntry(
        cmd.RecordConsent,
        frozenset({Role.INVESTIGATOR}),
        "Record the guardian's signed consent, and the child's assent from the assent age on.",
        signed=Signed.ALWAYS,
    ),
    CommandEntry(
        cmd.RecordApheresis,
        frozenset({Role.APHERESIS_UNIT}),
        "Record the day the child's white cells were collected (apheresis).",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    CommandEntry(
        cmd.RecordProductRelease,
        frozenset({Role.CELL_LAB}),
        "Record the CAR-T product the cell lab released: the bag's label, its lot and its cell count.",
        signed=Signed.ALWAYS,
        units={"total_viable_car_cells": "cells"},
    ),
    CommandEntry(
        cmd.RecordManufacturingFailure,
        frozenset({Role.CELL_LAB}),
        "Record that the CAR-T product could not be made, and why.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    # ------------------------------------------------------------ chain of custody
    CommandEntry(
        cmd.RecordCustodyHandOff,
        CUSTODY_ROLE_SET,
        "Record a hand-off of the cells with the bag's label; at the site's receipt, the logger's warmest reading.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
        units={"logger_max_temperature_c": "°C"},
        roles_by=RolesByField(
            field="step",
            roles=CUSTODY_ROLES,
            actions={step: f"record the cells {STEP_WORDS[step]}" for step in CUSTODY_ROLES},
        ),
    ),
    CommandEntry(
        cmd.DecideTemperatureExcursion,
        frozenset({Role.CELL_LAB}),
        "Decide on cells that travelled too warm: release them for infusion as a deviation, or reject them.",
        signed=Signed.ALWAYS,
    ),
    CommandEntry(
        cmd.ApproveLateInfusionAfterThaw,
        frozenset({Role.INVESTIGATOR}),
        "Approve an infusion starting later after thawing than the bag's label allows, with the reason.",
        signed=Signed.ALWAYS,
    ),
    # ------------------------------------------------------------ lymphodepletion and infusion
    CommandEntry(
        cmd.PrescribeLymphodepletion,
        _CLINICIANS,
        "Prescribe the chemotherapy before the infusion (fludarabine, cyclophosphamide) from height, weight and "
        "kidney function.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
        units={"height_cm": "cm", "weight_kg": "kg", "creatinine_clearance_ml_min_173m2": "mL/min/1.73 m²"},
    ),
    CommandEntry(
        cmd.RecordLymphodepletionDose,
        frozenset({Role.PHARMACY, Role.NURSE}),
        "Record one dose of fludarabine or cyclophosphamide as it was given.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
        units={"dose_mg": "mg"},
    ),
    CommandEntry(
        cmd.DecideOutOfSpecProduct,
        frozenset({Role.INVESTIGATOR}),
        "Decide what happens to a product outside its release specification: infuse it anyway, or make it again.",
    ),
    CommandEntry(
        cmd.ApproveInfusionOutsideWindow,
        frozenset({Role.INVESTIGATOR}),
        "Approve an infusion outside the protocol's days after the chemotherapy, with the reason.",
    ),
    CommandEntry(
        cmd.RecordInfusion,
        _CLINICIANS,
        "Record the CAR-T infusion at the bedside: the bag's label, the cells given and the checks before it.",
        signed=Signed.ALWAYS,
        units={"cells_infused": "cells", "hours_since_last_fever": "hours", "tocilizumab_doses_on_site": "doses"},
    ),
    CommandEntry(
        cmd.RecordInfusionNotGiven,
        frozenset({Role.INVESTIGATOR}),
        "Record that the CAR-T infusion will not be given, and why.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    # ------------------------------------------------------------ toxicity and safety
    CommandEntry(
        cmd.AssessCrs,
        _BEDSIDE,
        "Record a check for cytokine release syndrome (CRS): temperature, blood pressure support and oxygen.",
        signed=Signed.WHEN,
        signed_when=f"the CRS grade is 3 or higher, or {_CORRECTION}",
        units={"findings.max_temperature_c": "°C", "findings.oxygen_flow_l_per_min": "L/min"},
    ),
    CommandEntry(
        cmd.AssessIcans,
        _BEDSIDE,
        "Record a check for neurotoxicity (ICANS): the ICE or CAPD score, waking, seizures, weakness, brain swelling.",
        signed=Signed.WHEN,
        signed_when=f"the ICANS grade is 3 or higher, or {_CORRECTION}",
    ),
    CommandEntry(
        cmd.RecordAdverseEvent,
        _BEDSIDE,
        "Record an adverse event: what it was, its CTCAE grade, whether it is serious and linked to the CAR-T cells.",
        signed=Signed.WHEN,
        signed_when=f"its CTCAE grade is 3 or higher, it is serious (an SAE), or {_CORRECTION}",
    ),
    CommandEntry(
        cmd.RecordFeverMaskingDose,
        _BEDSIDE,
        "Record a dose of tocilizumab or a corticosteroid: drug, dose and time given (it masks fever at CRS checks).",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
        units={"dose_mg": "mg"},
    ),
    CommandEntry(
        cmd.ConfirmExpeditedReport,
        frozenset({Role.INVESTIGATOR}),
        "Confirm that an expedited safety report (SAE report) was sent to the sponsor.",
        signed=Signed.ALWAYS,
    ),
    # ------------------------------------------------------------ response, chemotherapy, follow-up
    CommandEntry(
        cmd.RecordDiseaseAssessment,
        frozenset({Role.LABORATORY, Role.PHYSICIAN, Role.INVESTIGATOR}),
        "Record a bone-marrow and blood check of how the leukemia responds.",
        signed=Signed.WHEN,
        signed_when=f"it is the one-year response assessment, or {_CORRECTION}",
        units={
            "marrow.marrow_blasts_percent": "%",
            "marrow.neutrophils_10e9_per_l": "× 10⁹/L",
            "marrow.platelets_10e9_per_l": "× 10⁹/L",
            "marrow.mrd_flow_percent": "%",
            "other_tests[].leukemia_percent": "%",
        },
    ),
    CommandEntry(
        cmd.RecordChemotherapyResumed,
        _CLINICIANS,
        "Record that chemotherapy was started again after the CAR-T cells.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    CommandEntry(
        cmd.RecordVisit,
        frozenset({Role.RESEARCH_COORDINATOR}),
        "Record a follow-up visit that took place.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    # ------------------------------------------------------------ exits
    CommandEntry(
        cmd.WithdrawConsent,
        frozenset({Role.INVESTIGATOR}),
        "Record that the family withdrew consent: the patient leaves the study.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    CommandEntry(
        cmd.RecordDeath,
        _CLINICIANS,
        "Record the patient's death, its cause, and whether the treatment caused it.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    CommandEntry(
        cmd.RecordLostToFollowUp,
        frozenset({Role.RESEARCH_COORDINATOR, Role.INVESTIGATOR}),
        "Record that the patient can no longer be reached for follow-up.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    CommandEntry(
        cmd.TakeOffStudy,
        frozenset({Role.INVESTIGATOR}),
        "Take the patient off the study, with the reason.",
        signed=Signed.WHEN,
        signed_when=_CORRECTION,
    ),
    # ------------------------------------------------------------ amendments
    CommandEntry(
        cmd.RecordReconsent,
        frozenset({Role.INVESTIGATOR}),
        "Record the family's answer to a protocol amendment: accepted moves the patient onto it, declined does not.",
        signed=Signed.ALWAYS,
    ),
)

_SYSTEM_COMMANDS: tuple[CommandEntry, ...] = (
    CommandEntry(cmd.ExpireInfusionWindow, _SYSTEM, "The days allowed for the infusion passed without one."),
    CommandEntry(cmd.MarkExpeditedReportOverdue, _SYSTEM, "An expedited safety report was not sent in time."),
    CommandEntry(cmd.SendVisitReminder, _SYSTEM, "Remind the team that a visit's window opens or is closing."),
    CommandEntry(cmd.MarkVisitMissed, _SYSTEM, "A visit's window closed without the visit."),
    CommandEntry(
        cmd.CheckDailyMonitoring,
        _SYSTEM,
        "A day of daily CRS and ICANS monitoring begins: yesterday's gaps are missed.",
    ),
    CommandEntry(cmd.StartFollowUpEra, _SYSTEM, "The patient moves on to the next period of follow-up."),
    CommandEntry(cmd.CompleteJourney, _SYSTEM, "The patient has finished the study's follow-up."),
    CommandEntry(cmd.RecordSlotBooking, _SYSTEM, "The collection's slot was booked in the site's calendar."),
    CommandEntry(cmd.RecordSlotUnavailable, _SYSTEM, "The site's calendar had no slot for the collection."),
    CommandEntry(cmd.CompleteDltWindow, _SYSTEM, "The DLT observation window after the infusion passed without a DLT."),
    CommandEntry(
        cmd.FlagLateInfusionAfterThaw, _SYSTEM, "The thawed cells were not infused in time: the investigator decides."
    ),
    # Sent by the trial's workflow, never typed: attributed to the board member who signed the decision.
    CommandEntry(
        cmd.StopForTrial,
        frozenset({Role.DSMB}),
        "The DSMB stopped the trial: off study before infusion; after it, safety follow-up goes on.",
    ),
    CommandEntry(
        cmd.MoveToProtocolVersion,
        _SYSTEM,
        "The re-consented patient moves onto the amendment: nothing of theirs was in flight.",
    ),
)

# What people record, by kind, in the protocol's order.
STAFF_COMMANDS: Mapping[str, CommandEntry] = MappingProxyType({entry.kind: entry for entry in _STAFF})
# What the workflow's own timers issue, by kind.
SYSTEM_COMMANDS: Mapping[str, CommandEntry] = MappingProxyType({entry.kind: entry for entry in _SYSTEM_COMMANDS})
COMMANDS: Mapping[str, CommandEntry] = MappingProxyType({**STAFF_COMMANDS, **SYSTEM_COMMANDS})

# Every staff command model, for a type check of what arrives as one.
STAFF_COMMAND_MODELS: tuple[type[FrozenModel], ...] = tuple(entry.model for entry in _STAFF)
