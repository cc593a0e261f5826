"""Which study role may issue which command. Supervisors read; only the workflow itself issues timer commands."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from domain.journey.command_registry import COMMANDS, STAFF_COMMANDS
from domain.roles import Role

# Who may issue each command, by kind: read from the command registry.
ALLOWED_ROLES: Mapping[str, frozenset[Role]] = MappingProxyType({kind: entry.roles for kind, entry in COMMANDS.items()})
# Roles no staff command allows: they read the record and write no journey step (supervisors; the DSMB, whose stop
# of the trial reaches journeys from the trial's workflow, never from a person).
_STAFF_ROLES = frozenset(role for entry in STAFF_COMMANDS.values() for role in entry.roles)
READ_ONLY_ROLES = frozenset(Role) - _STAFF_ROLES - {Role.SYSTEM}

_ROLE_WORDS = {
    Role.RESEARCH_COORDINATOR: "a research coordinator",
    Role.INVESTIGATOR: "an investigator",
    Role.APHERESIS_UNIT: "the apheresis unit",
    Role.CELL_LAB: "the cell lab",
    Role.LABORATORY: "the laboratory",
    Role.PHARMACY: "pharmacy",
    Role.NURSE: "a nurse",
    Role.PHYSICIAN: "a physician",
    Role.SUPERVISOR: "a supervisor",
    Role.DSMB: "the data and safety monitoring board",
    Role.SYSTEM: "the system's own timers",
}


def role_problem(command_kind: str, role: Role, command: object = None) -> str | None:
    """Why `role` may not issue `command_kind`, or None when it may. Given the `command`, a registry rule that
    depends on one of its fields (a custody hand-off's step) narrows the roles to that value's."""
    allowed = ALLOWED_ROLES[command_kind]
    action = command_kind.replace("_", " ")
    by = COMMANDS[command_kind].roles_by
    value = getattr(command, by.field, None) if by is not None else None
    if by is not None and isinstance(value, str) and value in by.roles:
        allowed, action = by.roles[value], by.actions[value]
    if role in allowed:
        return None
    who = " or ".join(sorted(_ROLE_WORDS[r] for r in allowed))
    if role is Role.SUPERVISOR:
        return f"supervisors can read the record but not {action}; this must be done by {who}"
    return f"{_ROLE_WORDS[role]} cannot {action}; this must be done by {who}"
