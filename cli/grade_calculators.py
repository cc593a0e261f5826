"""`trial grade crs` and `trial grade icans`: a CRS or ICANS grade by the ASTCT 2019 consensus, with its reasons
and whether an expedited report is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from pydantic import Field, model_validator
from rich.table import Table
from rich.text import Text

from cli.calculator_output import PANEL, choice_value, choices_text, facts_table, options_given
from cli.common import (
    COLLECT_UNKNOWN_OPTIONS,
    JsonOption,
    Problems,
    ProtocolVersionOption,
    json_help,
    show,
    validated_with_stand_ins,
)
from domain.protocol import CURRENT_PROTOCOL, FrozenModel
from domain.toxicity import (
    CerebralEdema,
    Consciousness,
    CrsFindings,
    FeverMaskingDose,
    FeverMaskingDrug,
    IcansFindings,
    IcansScale,
    MotorFinding,
    OxygenSupport,
    Seizure,
    ToxicityGrading,
    expedited_report_reasons,
    fever_masking_dose,
    grade_crs,
    grade_icans,
    icans_findings_problems,
    icans_scale_for_age,
)

app = typer.Typer()
grade_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "A CRS or ICANS grade by the ASTCT 2019 consensus, with its reasons and whether a "
        f"{CURRENT_PROTOCOL.safety.expedited_report_hours} h report is due."
    ),
)
app.add_typer(grade_app, name="grade", rich_help_panel=PANEL)


class ToxicityGradeReport(FrozenModel):
    protocol_version: str
    grading: ToxicityGrading
    expedited_report_due: bool
    expedited_report_reasons: tuple[str, ...]  # empty when no expedited report is due

    @model_validator(mode="after")
    def _due_exactly_with_reasons(self) -> ToxicityGradeReport:
        if self.expedited_report_due != bool(self.expedited_report_reasons):
            raise ValueError("an expedited report is due exactly when there is a reason for it")
        return self


class CrsGradeReport(ToxicityGradeReport):
    """`trial grade crs --json`."""

    findings: CrsFindings
    fever_masked_by: FeverMaskingDose | None = None  # the dose given, when it falls in the protocol's window


class _MaskingDoseGiven(FrozenModel):
    """A tocilizumab or corticosteroid dose given before the assessment, as the calculator is told of it."""

    drug: FeverMaskingDrug
    dose_mg: float = Field(gt=0, le=5_000)
    hours_before: float = Field(ge=0, le=100_000)


class IcansGradeReport(ToxicityGradeReport):
    """`trial grade icans --json`."""

    age_years: int
    scale: IcansScale
    findings: IcansFindings


def _grade_table(what: str, report: ToxicityGradeReport, hours: int) -> Table:
    rows: list[tuple[str, Text | str]] = [
        ("Grade", Text(f"{what} grade {report.grading.grade}", style="bold")),
        ("Reasons", "\n".join(f"- {reason}" for reason in report.grading.reasons)),
    ]
    if report.expedited_report_due:
        reasons = "\n".join(f"- {reason}" for reason in report.expedited_report_reasons)
        rows.append(("Expedited report", Text(f"DUE within {hours} hours\n{reasons}", style="bold red")))
    else:
        rows.append(("Expedited report", "not needed for this grade"))
    return facts_table(f"{what} by ASTCT 2019 (protocol {report.protocol_version})", rows)


_CRS_OPTIONS = {
    "max_temperature_c": "--temperature",
    "hypotension": "--hypotension",
    "vasopressors_excluding_vasopressin": "--vasopressors",
    "vasopressin": "--vasopressin",
    "oxygen": "--oxygen",
    "oxygen_flow_l_per_min": "--flow",
}


# Valid values that raise no consistency problem of their own (a facemask needs no flow rate and allows one).
_CRS_STAND_INS = {
    "max_temperature_c": 37.0,
    "vasopressors_excluding_vasopressin": 0,
    "oxygen": OxygenSupport.FACEMASK,
    "oxygen_flow_l_per_min": 1.0,
}


@grade_app.command(
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "CRS grade from the findings: fever (unless masked by a tocilizumab or corticosteroid dose given in the "
        f"{CURRENT_PROTOCOL.crs.fever_masking_window_hours} hours before), then the worse of hypotension and "
        "hypoxia; and whether an expedited report is due.\n\n" + json_help(CrsGradeReport)
    ),
)
def crs(
    context: typer.Context,
    temperature: Annotated[
        str | None,
        typer.Option("--temperature", metavar="CELSIUS", help="Highest temperature in °C (required)."),
    ] = None,
    masked_by: Annotated[
        str | None,
        typer.Option(
            "--masked-by",
            metavar="DRUG",
            help=f"A dose given before the assessment that may mask fever: {choices_text(FeverMaskingDrug)}.",
        ),
    ] = None,
    masked_dose: Annotated[
        str | None, typer.Option("--masked-dose", metavar="MG", help="That dose in mg (with --masked-by).")
    ] = None,
    masked_hours_before: Annotated[
        str | None,
        typer.Option(
            "--masked-hours-before",
            metavar="HOURS",
            help="How long before the assessment it was given (with --masked-by).",
        ),
    ] = None,
    hypotension: Annotated[bool, typer.Option("--hypotension", help="Hypotension.")] = False,
    vasopressors: Annotated[
        str | None,
        typer.Option("--vasopressors", metavar="N", help="Vasopressors given, not counting vasopressin (default 0)."),
    ] = None,
    vasopressin: Annotated[bool, typer.Option("--vasopressin", help="Vasopressin given.")] = False,
    oxygen: Annotated[
        str | None,
        typer.Option(
            "--oxygen", metavar="SUPPORT", help=f"Oxygen support (default none): {choices_text(OxygenSupport)}."
        ),
    ] = None,
    flow: Annotated[
        str | None,
        typer.Option("--flow", metavar="L_MIN", help="Oxygen flow in L/min (needed for a nasal cannula)."),
    ] = None,
    protocol_version: ProtocolVersionOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    protocol = problems.protocol(protocol_version)
    findings = problems.validated(
        CrsFindings,
        options_given(
            max_temperature_c=temperature,
            hypotension=hypotension,
            vasopressors_excluding_vasopressin=vasopressors if vasopressors is not None else 0,
            vasopressin=vasopressin,
            oxygen=choice_value(oxygen) or OxygenSupport.NONE,
            oxygen_flow_l_per_min=flow,
        ),
        labels=_CRS_OPTIONS,
        echo_input=True,
        stand_ins=_CRS_STAND_INS,
    )
    given = None
    if masked_by is not None or masked_dose is not None or masked_hours_before is not None:
        given = problems.validated(
            _MaskingDoseGiven,
            options_given(drug=choice_value(masked_by), dose_mg=masked_dose, hours_before=masked_hours_before),
            labels={"drug": "--masked-by", "dose_mg": "--masked-dose", "hours_before": "--masked-hours-before"},
            echo_input=True,
        )
    problems.exit_if_any(as_json)
    assert protocol is not None and findings is not None
    masked = None
    if given is not None:
        assessed_at = datetime.now(UTC).replace(second=0, microsecond=0)
        dose = FeverMaskingDose(
            drug=given.drug, dose_mg=given.dose_mg, given_at=assessed_at - timedelta(hours=given.hours_before)
        )
        masked = fever_masking_dose([dose], assessed_at, protocol.crs)
    grading = grade_crs(findings, protocol.crs, masked)
    reasons = expedited_report_reasons(crs_grade=grading.grade, safety=protocol.safety)
    report = CrsGradeReport(
        protocol_version=protocol.version,
        fever_masked_by=masked,
        findings=findings,
        grading=grading,
        expedited_report_due=bool(reasons),
        expedited_report_reasons=reasons,
    )
    show(report, lambda answer: [_grade_table("CRS", answer, protocol.safety.expedited_report_hours)], as_json)


class _PatientAge(FrozenModel):
    age_years: int = Field(ge=0)


_ICANS_OPTIONS = {
    "age_years": "--age",
    "ice_score": "--ice",
    "capd_score": "--capd",
    "unable_to_perform_assessment": "--unable",
    "consciousness": "--consciousness",
    "seizure": "--seizure",
    "motor": "--motor",
    "cerebral_edema": "--edema",
}


# A refused score stands in as 0: whether it was the right scale for the age is still checked.
_ICANS_STAND_INS = {
    "ice_score": 0,
    "capd_score": 0,
    "consciousness": Consciousness.ALERT,
    "seizure": Seizure.NONE,
    "motor": MotorFinding.NONE,
    "cerebral_edema": CerebralEdema.NONE,
}


@grade_app.command(
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "ICANS grade: the worst of the ICE score (CAPD for younger children, by the protocol's age), "
        "consciousness, seizure, motor findings and cerebral edema; and whether an expedited report is due.\n\n"
        + json_help(IcansGradeReport)
    ),
)
def icans(
    context: typer.Context,
    age: Annotated[
        str | None, typer.Option("--age", metavar="YEARS", help="Age in completed years (required).")
    ] = None,
    ice: Annotated[str | None, typer.Option("--ice", metavar="N", help="ICE score (older children).")] = None,
    capd: Annotated[str | None, typer.Option("--capd", metavar="N", help="CAPD score (younger children).")] = None,
    unable: Annotated[
        bool, typer.Option("--unable", help="The child was unable to perform the ICE or CAPD assessment.")
    ] = False,
    consciousness: Annotated[
        str | None,
        typer.Option("--consciousness", metavar="LEVEL", help=f"Default alert: {choices_text(Consciousness)}."),
    ] = None,
    seizure: Annotated[
        str | None, typer.Option("--seizure", metavar="KIND", help=f"Default none: {choices_text(Seizure)}.")
    ] = None,
    motor: Annotated[
        str | None, typer.Option("--motor", metavar="FINDING", help=f"Default none: {choices_text(MotorFinding)}.")
    ] = None,
    edema: Annotated[
        str | None, typer.Option("--edema", metavar="KIND", help=f"Default none: {choices_text(CerebralEdema)}.")
    ] = None,
    protocol_version: ProtocolVersionOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    protocol = problems.protocol(protocol_version)
    patient = problems.validated(_PatientAge, options_given(age_years=age), labels=_ICANS_OPTIONS, echo_input=True)
    values = options_given(
        ice_score=ice,
        capd_score=capd,
        unable_to_perform_assessment=unable,
        consciousness=choice_value(consciousness) or Consciousness.ALERT,
        seizure=choice_value(seizure) or Seizure.NONE,
        motor=choice_value(motor) or MotorFinding.NONE,
        cerebral_edema=choice_value(edema) or CerebralEdema.NONE,
    )
    findings = problems.validated(
        IcansFindings, values, labels=_ICANS_OPTIONS, echo_input=True, stand_ins=_ICANS_STAND_INS
    )
    # The scale is checked against the age even while another finding is refused, so both are named.
    to_check = findings or validated_with_stand_ins(IcansFindings, values, _ICANS_STAND_INS)
    if protocol is not None and patient is not None and to_check is not None:
        for problem in icans_findings_problems(to_check, patient.age_years, protocol.icans):
            problems.add(None, problem)
    problems.exit_if_any(as_json)
    assert protocol is not None and patient is not None and findings is not None
    grading = grade_icans(findings, patient.age_years, protocol.icans)
    reasons = expedited_report_reasons(icans_grade=grading.grade, safety=protocol.safety)
    report = IcansGradeReport(
        protocol_version=protocol.version,
        age_years=patient.age_years,
        scale=icans_scale_for_age(patient.age_years, protocol.icans),
        findings=findings,
        grading=grading,
        expedited_report_due=bool(reasons),
        expedited_report_reasons=reasons,
    )
    title = f"ICANS ({report.scale}, age {report.age_years})"
    show(report, lambda answer: [_grade_table(title, answer, protocol.safety.expedited_report_hours)], as_json)
