"""`trial`: the command line of trialflow. The version and the protocol live here; each group of commands
lives in its own small module and is added below.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import NoReturn

import typer

from cli import admin, audit, calculators, dsmb, examples, exports, login, protocol_view, signing, staff, supervisor
from cli.common import JsonOption, json_help, print_json, run_app
from cli.protocol_view import protocol_rows
from cli.trial_help import trial_level_help
from domain.protocol import CURRENT_PROTOCOL, PROTOCOLS, FrozenModel

app = typer.Typer(
    name="trial",
    help="trialflow: the durable workflow engine of the pediatric CD19/CD22 CAR-T trial.\n\n" + trial_level_help(),
    no_args_is_help=True,
    add_completion=False,
)
# Without a name, a module's commands join the top level: `trial dose`, `trial grade crs`, ...
app.add_typer(calculators.app)
app.add_typer(staff.app)
app.add_typer(supervisor.app)
app.add_typer(dsmb.app)
app.add_typer(audit.app)
app.add_typer(exports.app)
app.add_typer(login.app)
app.add_typer(signing.app)
app.add_typer(admin.app)
app.add_typer(examples.app)
app.add_typer(protocol_view.app, name="protocol")

__all__ = ["app", "main", "protocol_rows"]


def _trialflow_version() -> str:
    try:
        return distribution_version("trialflow")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


class VersionInfo(FrozenModel):
    """What `trial version --json` prints."""

    trialflow: str
    protocol_current: str
    protocols_known: tuple[str, ...]


@app.command(help=f"The trialflow version and the protocol versions it knows.\n\n{json_help(VersionInfo)}")
def version(as_json: JsonOption = False) -> None:
    info = VersionInfo(
        trialflow=_trialflow_version(),
        protocol_current=CURRENT_PROTOCOL.version,
        protocols_known=tuple(sorted(PROTOCOLS)),
    )
    if as_json:
        print_json(info)
        return
    typer.echo(f"trialflow {info.trialflow}")
    typer.echo(f"protocol {info.protocol_current} (current); known: {', '.join(info.protocols_known)}")


def main() -> NoReturn:
    """The `trial` command."""
    run_app(app)


if __name__ == "__main__":
    main()
