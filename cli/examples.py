"""`trial example screening`: a synthetic eligible child's screening data as JSON, to try `trial enroll` with
(the README's walk-through starts from it). Invented values only; never a real child's."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from pydantic import Field

from cli.common import Problems, ProtocolVersionOption
from cli.synthetic import eligible_screening
from domain.protocol import FrozenModel
from domain.site_time import site_date

PANEL = "Examples (no server needed)"

app = typer.Typer()
example_app = typer.Typer(help="Synthetic input to try the other commands with.")
app.add_typer(example_app, name="example", rich_help_panel=PANEL)


class ExampleChild(FrozenModel):
    screened_on: date | None = None
    age_years: int = Field(default=9, ge=1, le=30)
    height_cm: float = Field(default=120.0, gt=0, le=250)
    weight_kg: float = Field(default=22.0, gt=0, le=250)


@example_app.command("screening", help="An eligible child's ScreeningData (domain/eligibility.py) as JSON on stdout.")
def screening(
    screened_on: Annotated[
        str | None,
        typer.Option("--screened-on", metavar="DATE", help="The screening date; today at the site if omitted."),
    ] = None,
    age_years: Annotated[str, typer.Option("--age-years", metavar="YEARS", help="Age in completed years.")] = "9",
    height_cm: Annotated[str, typer.Option("--height-cm", metavar="CM")] = "120",
    weight_kg: Annotated[str, typer.Option("--weight-kg", metavar="KG")] = "22",
    protocol_version: ProtocolVersionOption = None,
) -> None:
    problems = Problems()
    protocol = problems.protocol(protocol_version)
    values = {"screened_on": screened_on, "age_years": age_years, "height_cm": height_cm, "weight_kg": weight_kg}
    labels = {name: "--" + name.replace("_", "-") for name in values}
    child = problems.validated(ExampleChild, values, labels=labels, echo_input=True)
    problems.exit_if_any(as_json=False)
    assert child is not None and protocol is not None
    day = child.screened_on or site_date(datetime.now(UTC), protocol.schedule)
    data = eligible_screening(day, child.age_years, child.height_cm, child.weight_kg, protocol)
    typer.echo(json.dumps(data.model_dump(mode="json"), indent=2))
