"""`trial dose`: lymphodepletion and CAR-T doses for one child, under the protocol version asked for."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from pydantic import Field, model_validator
from rich.table import Table
from rich.text import Text

from cli.calculator_output import (
    PANEL,
    cell_count,
    facts_table,
    options_given,
    plain_number,
    to_step,
)
from cli.common import (
    COLLECT_UNKNOWN_OPTIONS,
    JsonOption,
    Problems,
    ProtocolVersionOption,
    json_help,
    show,
)
from domain.body_measurements import MAX_RECORDABLE_HEIGHT_CM, MAX_RECORDABLE_WEIGHT_KG
from domain.dosing import (
    CellDoseRange,
    LymphodepletionPlan,
    ProductAssessment,
    ProductClassification,
    car_t_dose_range,
    classify_product,
    plan_lymphodepletion,
)
from domain.protocol import FrozenModel, LymphodepletingDrug, LymphodepletionRegimen, TrialProtocol

app = typer.Typer()


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
    per_m2 = f"{plain_number(drug.mg_per_m2_per_day)} mg/m²/day"
    return drug.name.capitalize(), f"{to_step(daily_mg, drug.rounding_mg)} mg/day for {days} days ({per_m2})"


def _renal_text(report: DoseReport, regimen: LymphodepletionRegimen) -> Text:
    plan = report.lymphodepletion
    if report.renal_check is RenalCheck.NOT_MADE:
        return Text(f"NOT MADE: {NO_RENAL_CHECK}", style="yellow")
    if report.renal_check is RenalCheck.FULL_DOSE:
        clearance = plain_number(report.creatinine_clearance_ml_min_173m2 or 0)
        return Text(f"creatinine clearance {clearance} mL/min/1.73 m²: no reduction")
    suggestion, adjusted = plan.renal_suggestion, plan.fludarabine_adjusted_daily_mg
    assert suggestion is not None and adjusted is not None  # DoseReport checks this
    full = to_step(plan.fludarabine_daily_mg, regimen.fludarabine.rounding_mg)
    return Text(
        f"SUGGESTION, {NEEDS_PHYSICIAN_CONFIRMATION}: fludarabine "
        f"{to_step(adjusted, regimen.fludarabine.rounding_mg)} mg/day instead of {full} mg/day "
        f"({suggestion.reason}). Not applied: the prescription above stays at the full dose until confirmed.",
        style="bold yellow",
    )


_PRODUCT_WORDS = {ProductClassification.IN_RANGE: "IN RANGE", ProductClassification.ABOVE_MAXIMUM: "ABOVE MAXIMUM"}


def _dose_table(report: DoseReport, protocol: TrialProtocol) -> Table:
    plan, regimen, cells, rules = report.lymphodepletion, protocol.lymphodepletion, report.cell_dose, protocol.cell_dose
    rows: list[tuple[str, Text | str]] = [
        (
            "Body surface area",
            f"{to_step(plan.bsa_m2, regimen.bsa_rounding_m2)} m² (Mosteller, recorded to "
            f"{plain_number(regimen.bsa_rounding_m2)} m²; every dose is computed from this value)",
        ),
        _drug_row(regimen.fludarabine, plan.fludarabine_daily_mg, plan.fludarabine_days),
        _drug_row(regimen.cyclophosphamide, plan.cyclophosphamide_daily_mg, plan.cyclophosphamide_days),
        ("Renal check", _renal_text(report, regimen)),
        (
            "CAR-T target",
            f"{cell_count(cells.target_cells)} viable CAR+ cells ({cell_count(rules.target_cells_per_kg)}/kg "
            f"× {plain_number(cells.weight_kg)} kg, the weight at lymphodepletion)",
        ),
        (
            "CAR-T allowed range",
            f"{cell_count(cells.min_cells)} to {cell_count(cells.max_cells)} cells "
            f"({cell_count(rules.min_cells_per_kg)} to {cell_count(rules.max_cells_per_kg)}/kg)",
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
            verdict = Text(f"{words}: infuse {cell_count(product.cells_to_infuse)} cells. {explanation}", style=style)
        rows.append(("Released product", verdict))
    measured = f"{plain_number(plan.height_cm)} cm, {plain_number(plan.weight_kg)} kg"
    title = f"Doses for {measured} (protocol {report.protocol_version})"
    return facts_table(title, rows)


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
        options_given(
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
    show(report, lambda answer: [_dose_table(answer, protocol)], as_json)
