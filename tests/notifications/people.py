"""Staff directories for the tests: someone for every role, with the channels a test asks for."""

from __future__ import annotations

from typing import Any

from domain.roles import Role
from notifications.directory import ADDRESSABLE_ROLES, StaffDirectory, parse_staff_directory


def staff_entry(role: Role, **channels: Any) -> dict[str, Any]:
    return {"id": f"{role.value}.1", "roles": [role.value], **channels}


def directory_of(entries: list[dict[str, Any]], escalation: dict[str, str] | None = None) -> StaffDirectory:
    raw: dict[str, Any] = {"staff": entries}
    if escalation:
        raw["escalation"] = escalation
    return parse_staff_directory(raw, "test directory")


def webhook_directory(url_for_role: Any, **escalation: str) -> StaffDirectory:
    """One person per role, each with one webhook: `url_for_role(role)`."""
    return directory_of([staff_entry(role, webhooks=[url_for_role(role)]) for role in ADDRESSABLE_ROLES], escalation)


def email_directory(address_for_role: Any) -> StaffDirectory:
    return directory_of([staff_entry(role, email=[address_for_role(role)]) for role in ADDRESSABLE_ROLES])
