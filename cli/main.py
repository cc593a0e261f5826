"""`trial`: the command line of trialflow. The version and the protocol live here; each group of commands
lives in its own small module and is added below.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import NoReturn

import typer

from cli.common import JsonOption, json_help, print_json, run_app
from cli.lazy_group import lazy_group
from domain.protocol import CURRENT_PROTOCOL, PROTOCOLS, FrozenModel

SUMMARY = "trialflow: the durable workflow engine of the pediatric CD19/CD22 CAR-T trial."

# Each top-level command and the module whose `app` holds it, in `trial --help` order; the module is imported only
# when its command runs (or help is shown). (module, None): its commands join the top level (`trial dose`,
# `trial grade crs`); (module, name): its app is the sub-group `trial <name>`. tests/cli/test_lazy_commands.py
# checks this against the modules' own commands.
COMMAND_HOMES: dict[str, tuple[str, str | None]] = {
    "dose": ("cli.dose_calculator", None),
    "schedule": ("cli.schedule_calculator", None),
    "eligibility": ("cli.eligibility_calculator", None),
    "grade": ("cli.grade_calculators", None),
    **dict.fromkeys(("enroll", "record"), ("cli.staff", None)),
    "status": ("cli.status", None),
    **dict.fromkeys(("timeline", "list", "report", "verify", "notifications", "slots"), ("cli.supervisor", None)),
    "dsmb-decision": ("cli.dsmb", None),
    "audit": ("cli.audit", None),
    "export": ("cli.exports", None),
    **dict.fromkeys(("login", "whoami", "logout"), ("cli.login", None)),
    "signing-pin": ("cli.signing", None),
    "admin": ("cli.admin", None),
    "example": ("cli.examples", None),
    "protocol": ("cli.protocol_view", "protocol"),
}


def _help() -> str:
    from cli.trial_help import trial_level_help  # the custody steps' words: only for `trial --help`

    return f"{SUMMARY}\n\n{trial_level_help()}"


app = typer.Typer(
    name="trial",
    cls=lazy_group(COMMAND_HOMES, _help),
    help=SUMMARY,
    no_args_is_help=True,
    add_completion=False,
)

__all__ = ["COMMAND_HOMES", "app", "main"]


@app.callback()
def _trial() -> None:
    # A callback keeps `trial` a group: with `version` its only command defined here, typer would make it the app.
    pass


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
