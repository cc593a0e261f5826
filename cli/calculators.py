"""Staff calculators that need no server: doses, CRS and ICANS grades, the visit calendar, the eligibility check.

Each one calls the pure domain under the protocol version asked for and prints a table, or JSON with `--json`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import Field, model_validator
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.common import (
    COLLECT_UNKNOWN_OPTIONS,
    JsonOption,
    Problems,
    ProtocolVersionOption,
    failed_criteria_table,
    json_help,
    print_json,
    show,
    validated_with_stand_ins,
)
from domain.dosing import (
    CellDoseRange,
    LymphodepletionPlan,
    ProductAssessment,
    ProductClassification,
    car_t_dose_range,
    classify_product,
    plan_lymphodepletion,
)
from domain.eligibility import (
    MAX_RECORDABLE_HEIGHT_CM,
    MAX_RECORDABLE_WEIGHT_KG,
    EligibilityResult,
    NewScreening,
    assess_eligibility,
)
from domain.protocol import CURRENT_PROTOCOL, FrozenModel, LymphodepletingDrug, LymphodepletionRegimen, TrialProtocol
from domain.schedule import (
    ScheduledVisit,
    VisitStatus,
    chemotherapy_resumption_visit,
    efficacy_follow_up_end,
    follow_up_calendar,
    mrd_evaluation_visit,
    visit_status,
)
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

PANEL = "Calculators (no server needed)"

app = typer.Typer()
grade_app = typer.Typer(
    no_args_is_help=True,
    help=(
        "A CRS or ICANS grade by the ASTCT 2019 consensus, with its reasons and whether a "
        f"{CURRENT_PROTOCOL.safety.expedited_report_hours} h report is due."
    ),
)
app.add_typer(grade_app, name="grade", rich_help_panel=PANEL)


# ---------------------------------------------------------------- shared presentation


def _console() -> Console:
    return Console(highlight=False)


def _facts_table(title: str, rows: Iterable[tuple[str, Text | str]]) -> Table:
    """Two columns, what and value; every cell is plain text, never markup ("[...]" in a reason stays)."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("", style="bold", no_wrap=True)
    table.add_column("", overflow="fold")
    for what, value in rows:
        table.add_row(Text(what), value if isinstance(value, Text) else Text(value))
    return table


def _decimals(step: float) -> int:
    return max(0, -int(Decimal(repr(step)).normalize().as_tuple().exponent))


def _to_step(value: float, step: float) -> str:
    """A value recorded to `step` written with the step's decimals: 0.856 m², 25.7 mg, 428 mg."""
    return f"{value:.{_decimals(step)}f}"


def _plain(value: float) -> str:
    """As typed, without a trailing ".0" or an exponent: 30, 0.2, 22.5."""
    return format(Decimal(repr(value)).normalize(), "f")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _cells(count: float) -> str:
    """6.6 × 10⁷, as the protocol writes cell counts."""
    exact = Decimal(repr(count)).normalize()
    exponent = exact.adjusted()
    mantissa = format(exact.scaleb(-exponent).normalize(), "f")
    return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPT)}"


def _choice(value: str | None) -> str | None:
    """An enumeration value as typed: "Nasal-Cannula" and "nasal cannula" are nasal_cannula."""
    return value.strip().lower().replace("-", "_").replace(" ", "_") if value is not None else None


def _choices(enumeration: type[StrEnum]) -> str:
    return ", ".join(member.value for member in enumeration)


def _given(**values: Any) -> dict[str, Any]:
    """The options given; one left out is missing (so "is required"), not null."""
    return {name: value for name, value in values.items() if value is not None}


# ---------------------------------------------------------------- trial dose


class DoseInput(FrozenModel):
    height_cm: float = Field(gt=0, le=MAX_RECORDABLE_HEIGHT_CM)
    weight_kg: float = Field(gt=0, le=MAX_RECORDABLE_WEIGHT_KG)
    creatinine_clearance_ml_min_173m2: float | None = Field(default=None, gt=0)
    product_cells: float | None = Field(default=None, gt=0)


_DOSE_OPTIONS = {
    "height_cm": "--height-cm",
    "weight_kg": "--weight-kg",
    "creatinine_clearance_ml_min_173m2": "--crcl",
    "product_cells": "--product-cells",
}


class RenalCheck(StrEnum):
    NOT_MADE = "not_made"  # no creatinine clearance given: normal renal function is not assumed
    FULL_DOSE = "full_dose"  # clearance given, no reduction applies
    REDUCTION_SUGGESTED = "reduction_suggested"  # needs the physician's confirmation; never applied here


class DoseReport(FrozenModel):
    """`trial dose --json`. The prescription is the full dose; a renal reduction is only a suggestion."""

    protocol_version: str
    lymphodepletion: LymphodepletionPlan
    renal_check: RenalCheck
    creatinine_clearance_ml_min_173m2: float | None
    cell_dose: CellDoseRange
    product: ProductAssessment | None
    notes: tuple[str, ...]

    @model_validator(mode="after")
    def _renal_check_matches_the_plan(self) -> DoseReport:
        suggested = self.lymphodepletion.renal_suggestion is not None
        if suggested != (self.renal_check is RenalCheck.REDUCTION_SUGGESTED):
            raise ValueError("the renal check and the plan's renal suggestion disagree")
        if (self.creatinine_clearance_ml_min_173m2 is None) != (self.renal_check is RenalCheck.NOT_MADE):
            raise ValueError("a renal check is made exactly when a creatinine clearance is given")
        return self


NEEDS_PHYSICIAN_CONFIRMATION = "needs the physician's confirmation"
NO_RENAL_CHECK = "no creatinine clearance given (--crcl): no renal check was made, normal renal function is not assumed"


def dose_report(request: DoseInput, protocol: TrialProtocol) -> DoseReport:
    regimen = protocol.lymphodepletion
    crcl = request.creatinine_clearance_ml_min_173m2
    plan = plan_lymphodepletion(request.height_cm, request.weight_kg, crcl, regimen)
    notes: tuple[str, ...]
    if crcl is None:
        check, notes = RenalCheck.NOT_MADE, (NO_RENAL_CHECK,)
    elif plan.renal_suggestion is None:
        check, notes = RenalCheck.FULL_DOSE, ()
    else:
        check = RenalCheck.REDUCTION_SUGGESTED
        notes = (
            f"the renal reduction of fludarabine is a suggestion that {NEEDS_PHYSICIAN_CONFIRMATION}: "
            "the prescription stays at the full dose until the physician confirms it",
        )
    product = (
        classify_product(request.product_cells, request.weight_kg, protocol.cell_dose)
        if request.product_cells is not None
        else None
    )
    return DoseReport(
        protocol_version=protocol.version,
        lymphodepletion=plan,
        renal_check=check,
        creatinine_clearance_ml_min_173m2=crcl,
        cell_dose=car_t_dose_range(request.weight_kg, protocol.cell_dose),
        product=product,
        notes=notes,
    )


def _drug_row(drug: LymphodepletingDrug, daily_mg: float, days: int) -> tuple[str, str]:
    per_m2 = f"{_plain(drug.mg_per_m2_per_day)} mg/m²/day"
    return drug.name.capitalize(), f"{_to_step(daily_mg, drug.rounding_mg)} mg/day for {days} days ({per_m2})"


def _renal_text(report: DoseReport, regimen: LymphodepletionRegimen) -> Text:
    plan = report.lymphodepletion
    if report.renal_check is RenalCheck.NOT_MADE:
        return Text(f"NOT MADE: {NO_RENAL_CHECK}", style="yellow")
    if report.renal_check is RenalCheck.FULL_DOSE:
        return Text(
            f"creatinine clearance {_plain(report.creatinine_clearance_ml_min_173m2 or 0)} mL/min/1.73 m²: no reduction"
        )
    suggestion, adjusted = plan.renal_suggestion, plan.fludarabine_adjusted_daily_mg
    assert suggestion is not None and adjusted is not None  # DoseReport checks this
    full = _to_step(plan.fludarabine_daily_mg, regimen.fludarabine.rounding_mg)
    return Text(
        f"SUGGESTION, {NEEDS_PHYSICIAN_CONFIRMATION}: fludarabine "
        f"{_to_step(adjusted, regimen.fludarabine.rounding_mg)} mg/day instead of {full} mg/day "
        f"({suggestion.reason}). Not applied: the prescription above stays at the full dose until confirmed.",
        style="bold yellow",
    )


_PRODUCT_WORDS = {ProductClassification.IN_RANGE: "IN RANGE", ProductClassification.ABOVE_MAXIMUM: "ABOVE MAXIMUM"}


def _dose_table(report: DoseReport, protocol: TrialProtocol) -> Table:
    plan, regimen, cells, rules = report.lymphodepletion, protocol.lymphodepletion, report.cell_dose, protocol.cell_dose
    rows: list[tuple[str, Text | str]] = [
        (
            "Body surface area",
            f"{_to_step(plan.bsa_m2, regimen.bsa_rounding_m2)} m² (Mosteller, recorded to "
            f"{_plain(regimen.bsa_rounding_m2)} m²; every dose is computed from this value)",
        ),
        _drug_row(regimen.fludarabine, plan.fludarabine_daily_mg, plan.fludarabine_days),
        _drug_row(regimen.cyclophosphamide, plan.cyclophosphamide_daily_mg, plan.cyclophosphamide_days),
        ("Renal check", _renal_text(report, regimen)),
        (
            "CAR-T target",
            f"{_cells(cells.target_cells)} viable CAR+ cells ({_cells(rules.target_cells_per_kg)}/kg "
            f"× {_plain(cells.weight_kg)} kg, the weight at lymphodepletion)",
        ),
        (
            "CAR-T allowed range",
            f"{_cells(cells.min_cells)} to {_cells(cells.max_cells)} cells "
            f"({_cells(rules.min_cells_per_kg)} to {_cells(rules.max_cells_per_kg)}/kg)",
        ),
    ]
    if report.product is not None:
        product = report.product
        explanation = f"{product.explanation[:1].upper()}{product.explanation[1:]}."
        if product.classification is ProductClassification.BELOW_MINIMUM:
            # Not a dose to give: infusing it at all is the investigator's decision.
            verdict = Text(f"BELOW MINIMUM, out of specification: {explanation}", style="bold red")
        else:
            style = "green" if product.classification is ProductClassification.IN_RANGE else "bold yellow"
            words = _PRODUCT_WORDS[product.classification]
            verdict = Text(f"{words}: infuse {_cells(product.cells_to_infuse)} cells. {explanation}", style=style)
        rows.append(("Released product", verdict))
    title = f"Doses for {_plain(plan.height_cm)} cm, {_plain(plan.weight_kg)} kg (protocol {report.protocol_version})"
    return _facts_table(title, rows)


@app.command(
    rich_help_panel=PANEL,
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "Lymphodepletion and CAR-T doses for one child: BSA, fludarabine and cyclophosphamide daily doses and days, "
        "the renal suggestion, the cell target and allowed range, and optionally where a released product falls."
        "\n\nA renal reduction is only ever a suggestion that needs the physician's confirmation; without --crcl "
        "no renal check is made.\n\n" + json_help(DoseReport)
    ),
)
def dose(
    context: typer.Context,
    height_cm: Annotated[str | None, typer.Option("--height-cm", metavar="CM", help="Height in cm (required).")] = None,
    weight_kg: Annotated[
        str | None,
        typer.Option("--weight-kg", metavar="KG", help="Weight in kg at lymphodepletion (required)."),
    ] = None,
    crcl: Annotated[
        str | None,
        typer.Option("--crcl", metavar="ML_MIN", help="Creatinine clearance in mL/min/1.73 m², for the renal check."),
    ] = None,
    product_cells: Annotated[
        str | None,
        typer.Option("--product-cells", metavar="CELLS", help="Viable CAR+ cells in the released product, e.g. 9.1e7."),
    ] = None,
    protocol_version: ProtocolVersionOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    protocol = problems.protocol(protocol_version)
    request = problems.validated(
        DoseInput,
        _given(
            height_cm=height_cm,
            weight_kg=weight_kg,
            creatinine_clearance_ml_min_173m2=crcl,
            product_cells=product_cells,
        ),
        labels=_DOSE_OPTIONS,
        echo_input=True,
    )
    problems.exit_if_any(as_json)
    assert protocol is not None and request is not None
    report = dose_report(request, protocol)
    if as_json:
        print_json(report)
        return
    console = _console()
    console.print(_dose_table(report, protocol))


# ---------------------------------------------------------------- trial grade crs | icans


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
    return _facts_table(f"{what} by ASTCT 2019 (protocol {report.protocol_version})", rows)


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
            help=f"A dose given before the assessment that may mask fever: {_choices(FeverMaskingDrug)}.",
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
        typer.Option("--oxygen", metavar="SUPPORT", help=f"Oxygen support (default none): {_choices(OxygenSupport)}."),
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
        _given(
            max_temperature_c=temperature,
            hypotension=hypotension,
            vasopressors_excluding_vasopressin=vasopressors if vasopressors is not None else 0,
            vasopressin=vasopressin,
            oxygen=_choice(oxygen) or OxygenSupport.NONE,
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
            _given(drug=_choice(masked_by), dose_mg=masked_dose, hours_before=masked_hours_before),
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
    if as_json:
        print_json(report)
        return
    _console().print(_grade_table("CRS", report, protocol.safety.expedited_report_hours))


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
        typer.Option("--consciousness", metavar="LEVEL", help=f"Default alert: {_choices(Consciousness)}."),
    ] = None,
    seizure: Annotated[
        str | None, typer.Option("--seizure", metavar="KIND", help=f"Default none: {_choices(Seizure)}.")
    ] = None,
    motor: Annotated[
        str | None, typer.Option("--motor", metavar="FINDING", help=f"Default none: {_choices(MotorFinding)}.")
    ] = None,
    edema: Annotated[
        str | None, typer.Option("--edema", metavar="KIND", help=f"Default none: {_choices(CerebralEdema)}.")
    ] = None,
    protocol_version: ProtocolVersionOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    protocol = problems.protocol(protocol_version)
    patient = problems.validated(_PatientAge, _given(age_years=age), labels=_ICANS_OPTIONS, echo_input=True)
    values = _given(
        ice_score=ice,
        capd_score=capd,
        unable_to_perform_assessment=unable,
        consciousness=_choice(consciousness) or Consciousness.ALERT,
        seizure=_choice(seizure) or Seizure.NONE,
        motor=_choice(motor) or MotorFinding.NONE,
        cerebral_edema=_choice(edema) or CerebralEdema.NONE,
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
    if as_json:
        print_json(report)
        return
    _console().print(
        _grade_table(f"ICANS ({report.scale}, age {report.age_years})", report, protocol.safety.expedited_report_hours)
    )


# ---------------------------------------------------------------- trial schedule


class ScheduleInput(FrozenModel):
    infusion_date: date
    status_on: date | None = None


_SCHEDULE_OPTIONS = {"infusion_date": "--infusion-date", "status_on": "--on"}


class CalendarEntry(FrozenModel):
    visit: ScheduledVisit
    status: VisitStatus | None  # only with --on: the visit's status on that date


class ScheduleReport(FrozenModel):
    """`trial schedule --json`: every visit and assessment, sorted by target date."""

    protocol_version: str
    infusion_date: date
    status_on: date | None
    efficacy_follow_up_end: date
    visits: tuple[CalendarEntry, ...]


def schedule_report(request: ScheduleInput, protocol: TrialProtocol) -> ScheduleReport:
    rules, infusion = protocol.schedule, request.infusion_date
    visits = sorted(
        (
            *follow_up_calendar(infusion, rules),
            mrd_evaluation_visit(infusion, rules),
            chemotherapy_resumption_visit(infusion, rules),
        ),
        key=lambda visit: visit.target_date,
    )
    on = request.status_on
    return ScheduleReport(
        protocol_version=protocol.version,
        infusion_date=infusion,
        status_on=on,
        efficacy_follow_up_end=efficacy_follow_up_end(infusion, rules),
        visits=tuple(
            CalendarEntry(visit=visit, status=visit_status(visit, on) if on is not None else None) for visit in visits
        ),
    )


_STATUS_STYLE = {
    VisitStatus.OPEN: "green",
    VisitStatus.CLOSING_SOON: "bold yellow",
    VisitStatus.MISSED: "bold red",
}


def _schedule_table(report: ScheduleReport) -> Table:
    table = Table(
        title=(
            f"Visit calendar: infusion (day 0) {report.infusion_date.isoformat()}, protocol {report.protocol_version}"
        ),
        title_justify="left",
        caption=(
            f"Efficacy follow-up ends {report.efficacy_follow_up_end.isoformat()}; "
            "long-term follow-up runs to the last visit. Window dates are inclusive."
        ),
        caption_justify="left",
    )
    for column in ("Code", "Visit", "Series", "Target", "Window opens", "Window closes", "Reminder"):
        table.add_column(column, no_wrap=column in ("Code", "Target", "Window opens", "Window closes", "Reminder"))
    if report.status_on is not None:
        table.add_column(f"Status on {report.status_on.isoformat()}", no_wrap=True)
    for entry in report.visits:
        visit = entry.visit
        cells = [
            Text(visit.code),
            Text(visit.label),
            Text(visit.series),
            Text(visit.target_date.isoformat()),
            Text(visit.window_opens.isoformat()),
            Text(visit.window_closes.isoformat()),
            Text(visit.remind_on.isoformat()),
        ]
        if entry.status is not None:
            cells.append(Text(entry.status.value.replace("_", " "), style=_STATUS_STYLE.get(entry.status, "")))
        table.add_row(*cells)
    return table


@app.command(
    rich_help_panel=PANEL,
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "The visit calendar from the infusion date to the end of long-term follow-up, with each window, the MRD "
        "evaluation and the resumption of chemotherapy; with --on, each visit's status on that date.\n\n"
        + json_help(ScheduleReport)
    ),
)
def schedule(
    context: typer.Context,
    infusion_date: Annotated[
        str | None,
        typer.Option("--infusion-date", metavar="YYYY-MM-DD", help="The CAR-T infusion date, day 0 (required)."),
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", metavar="YYYY-MM-DD", help="Show each visit's status on this date.")
    ] = None,
    protocol_version: ProtocolVersionOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    protocol = problems.protocol(protocol_version)
    request = problems.validated(
        ScheduleInput,
        _given(infusion_date=infusion_date, status_on=on),
        labels=_SCHEDULE_OPTIONS,
        echo_input=True,
    )
    problems.exit_if_any(as_json)
    assert protocol is not None and request is not None
    report = schedule_report(request, protocol)
    if as_json:
        print_json(report)
        return
    _console().print(_schedule_table(report))


# ---------------------------------------------------------------- trial eligibility


class EligibilityReport(FrozenModel):
    """`trial eligibility --json`. The screening data (with its birth date) is never part of it."""

    protocol_version: str
    result: EligibilityResult


def _read_text(source: str, problems: Problems) -> str | None:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.add("--file", f"there is no file {source!r}")
    except IsADirectoryError:
        problems.add("--file", f"{source!r} is a folder, not a file")
    except UnicodeDecodeError:
        problems.add("--file", f"{source!r} is not a UTF-8 text file")
    except OSError as error:
        problems.add("--file", f"{source!r} cannot be read: {error.strerror}")
    return None


def _screening_document(text: str, problems: Problems) -> dict[str, Any] | None:
    """The JSON object in `text`. No message quotes the file's content: it holds a birth date (PHI)."""
    if not text.strip():
        problems.add("--file", "the screening file is empty: it must hold one JSON object")
        return None
    repeated: list[str] = []

    def no_repeated_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        repeated.extend(sorted({name for name in names if names.count(name) > 1}))
        return dict(pairs)

    try:
        document = json.loads(text, object_pairs_hook=no_repeated_fields)
    except json.JSONDecodeError as error:
        problems.add("--file", f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}")
        return None
    for name in repeated:
        problems.add(name, "is given more than once: give each field once")
    if not isinstance(document, dict):
        problems.add("--file", "the screening file must hold one JSON object of named fields")
        return None
    return document


def _egfr_shown(value: float, threshold: float) -> str:
    """To one decimal unless that would put it on the other side of the threshold."""
    for decimals in range(1, 16):
        shown = round(value, decimals)
        if (shown < threshold) == (value < threshold):
            return _plain(shown)
    return _plain(value)


def _eligibility_output(report: EligibilityReport, protocol: TrialProtocol) -> list[Table]:
    result = report.result
    verdict = (
        Text("ELIGIBLE: every inclusion criterion is met and no exclusion criterion applies", style="bold green")
        if result.eligible
        else Text(
            f"NOT ELIGIBLE: {len(result.failed)} criteri{'on' if len(result.failed) == 1 else 'a'} failed",
            style="bold red",
        )
    )
    egfr = _egfr_shown(result.egfr_ml_min_173m2, protocol.eligibility.min_egfr_ml_min_173m2)
    summary = _facts_table(
        f"Eligibility (protocol {report.protocol_version})",
        [
            ("Result", verdict),
            ("Age", f"{result.age_years} years"),
            ("eGFR (bedside Schwartz)", f"{egfr} mL/min/1.73 m²"),
            ("Performance scale", result.performance_scale.value.capitalize()),
            ("CNS3", "yes" if result.cns3 else "no"),
        ],
    )
    if result.eligible:
        return [summary]
    return [summary, failed_criteria_table(result.failed)]


@app.command(
    rich_help_panel=PANEL,
    context_settings=COLLECT_UNKNOWN_OPTIONS,
    help=(
        "Check screening data against every inclusion and exclusion criterion: eligible, or every failed criterion "
        "with its reason. The file is a ScreeningData JSON object (domain/eligibility.py); its birth date is never "
        "shown. Exits 0 with a result, eligible or not.\n\n" + json_help(EligibilityReport)
    ),
)
def eligibility(
    context: typer.Context,
    file: Annotated[
        str | None,
        typer.Option(
            "--file", "-f", metavar="PATH", help="The screening data as JSON; - reads it from stdin (required)."
        ),
    ] = None,
    protocol_version: ProtocolVersionOption = None,
    as_json: JsonOption = False,
) -> None:
    problems = Problems()
    problems.unknown_arguments(context)
    protocol = problems.protocol(protocol_version)
    data = None
    if file is None:
        problems.add("--file", "is required: the screening data as a JSON file, or - for stdin")
    else:
        text = _read_text(file, problems)
        document = _screening_document(text, problems) if text is not None else None
        if document is not None:
            # echo_input stays off: no value from the file is quoted back (the birth date is PHI).
            data = problems.validated(NewScreening, document)
    problems.exit_if_any(as_json)
    assert protocol is not None and data is not None
    report = EligibilityReport(protocol_version=protocol.version, result=assess_eligibility(data, protocol.eligibility))
    show(report, lambda answer: _eligibility_output(answer, protocol), as_json)
