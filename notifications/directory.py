"""The staff directory: who holds each role and how to reach them, read from a TOML file and validated at start.

No file configured: every notification goes to the log channel only (the embedded dev stack). A file must name
someone for every role, since a notification to nobody is a silent failure."""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from domain.journey.notifications import DEFAULT_ESCALATION_ROLES
from domain.roles import Role
from notifications.errors import NotificationConfigurationError

# Every role a notification may name: people, never the workflow itself.
ADDRESSABLE_ROLES: tuple[Role, ...] = tuple(role for role in Role if role is not Role.SYSTEM)
STAFF_ID_PATTERN = r"^[A-Za-z0-9._@-]+$"  # as an actor's user id
_KNOWN_SECTIONS = ("staff", "escalation")

# A practical check, not RFC 5322: one @, a plain local part, a host name of dot-separated labels.
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class StaffDirectoryError(NotificationConfigurationError):
    """The staff directory file is unreadable or invalid; the message names the file and every bad entry."""

    def __init__(self, problems: list[str], source: str) -> None:
        super().__init__(problems, source=f"staff directory {source}")


def _email_address(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an e-mail address (expected name@domain)")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _webhook_url(value: str) -> str:
    # The URL itself is often the webhook's secret: errors show its scheme and host only.
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("is not an http(s) URL with a host")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(
            f"http://{parts.hostname} must use https: messages would cross the network unencrypted "
            "(plain http is accepted only to this machine)"
        )
    if any(character.isspace() for character in value):
        raise ValueError(f"{parts.scheme}://{parts.hostname}... contains white space")
    return value


def _one_or_many(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _stripped(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


EmailAddress = Annotated[str, BeforeValidator(_stripped), AfterValidator(_email_address)]
WebhookUrl = Annotated[str, BeforeValidator(_stripped), AfterValidator(_webhook_url)]


class StaffMember(BaseModel):
    """One person: an id (a display name is allowed, staff are not patients), their roles and their channels."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=STAFF_ID_PATTERN)
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    roles: Annotated[tuple[Role, ...], BeforeValidator(_one_or_many)] = Field(min_length=1)
    email: Annotated[tuple[EmailAddress, ...], BeforeValidator(_one_or_many)] = ()
    webhooks: Annotated[tuple[WebhookUrl, ...], BeforeValidator(_one_or_many)] = ()

    @field_validator("roles")
    @classmethod
    def _people_only(cls, roles: tuple[Role, ...]) -> tuple[Role, ...]:
        if Role.SYSTEM in roles:
            raise ValueError("'system' is the workflow itself, not a role a person holds")
        repeated = sorted(role.value for role, count in Counter(roles).items() if count > 1)
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return roles

    @model_validator(mode="after")
    def _reachable(self) -> StaffMember:
        if not self.email and not self.webhooks:
            raise ValueError(_NO_CHANNEL)
        return self


@dataclass(frozen=True)
class StaffDirectory:
    """The people behind each role, and who covers for a role that cannot be reached."""

    staff: tuple[StaffMember, ...] = ()
    escalation: Mapping[Role, Role] = field(default_factory=dict)
    source: str | None = None  # the file it was read from; None: no directory, the log channel only

    def people_for(self, role: Role) -> tuple[StaffMember, ...]:
        return tuple(person for person in self.staff if role in person.roles)

    def escalation_role(self, role: Role) -> Role:
        """Who is told when `role` cannot be reached: the file's [escalation] table, else the domain's default."""
        return self.escalation.get(role, DEFAULT_ESCALATION_ROLES[role])

    @property
    def uses_email(self) -> bool:
        return any(person.email for person in self.staff)

    @property
    def uses_webhooks(self) -> bool:
        return any(person.webhooks for person in self.staff)


def load_staff_directory(path: Path | None) -> StaffDirectory:
    """The directory in the TOML file at `path` (no path: the empty directory), or a `StaffDirectoryError`
    naming the file and every bad entry: its position and id, the field, and why."""
    if path is None:
        return StaffDirectory()
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise StaffDirectoryError([f"cannot be read: {error.strerror or error}"], source) from None
    except UnicodeDecodeError:
        raise StaffDirectoryError(["is not UTF-8 text"], source) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StaffDirectoryError([f"is not valid TOML: {error}"], source) from None
    return parse_staff_directory(raw, source)


def parse_staff_directory(raw: Mapping[str, Any], source: str) -> StaffDirectory:
    """Validate a parsed directory; every problem is collected before any is reported."""
    problems = [
        f"unknown section {name!r} (expected {' and '.join(repr(s) for s in _KNOWN_SECTIONS)})"
        for name in raw
        if name not in _KNOWN_SECTIONS
    ]
    entries = raw.get("staff", [])
    if not isinstance(entries, list):
        problems.append("'staff' must be a list of [[staff]] tables")
        entries = []
    members, member_problems = _members(entries)
    problems += member_problems
    problems += _duplicate_ids(entries)
    problems += _uncovered_roles(entries)
    escalation, escalation_problems = _escalation(raw.get("escalation", {}))
    problems += escalation_problems
    if problems:
        raise StaffDirectoryError(problems, source)
    return StaffDirectory(staff=tuple(members), escalation=escalation, source=source)


def _label(index: int, entry: object) -> str:
    label = f"staff entry {index + 1}"
    if isinstance(entry, dict) and isinstance(entry.get("id"), str):
        label += f" (id {entry['id']!r})"
    return label


def _members(entries: list[Any]) -> tuple[list[StaffMember], list[str]]:
    members: list[StaffMember] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        label = _label(index, entry)
        if not isinstance(entry, dict):
            problems.append(f"{label}: must be a table with id, roles, and email and/or webhooks")
            continue
        try:
            members.append(StaffMember.model_validate(entry))
        except ValidationError as error:
            problems += [f"{label}: {_issue_text(issue)}" for issue in error.errors()]
            # Pydantic checks the whole entry only once its fields are valid: say this now, not on the next start.
            if not entry.get("email") and not entry.get("webhooks"):
                problems.append(f"{label}: {_NO_CHANNEL}")
    return members, problems


_NO_CHANNEL = "has no channel: give at least one e-mail address (email) or webhook URL (webhooks)"
_ROLE_NAMES = ", ".join(role.value for role in ADDRESSABLE_ROLES)


def _issue_text(issue: Any) -> str:
    where = ""
    for part in issue["loc"]:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = str(issue["msg"]).removeprefix("Value error, ")
    if issue["type"] == "extra_forbidden":
        message = "unknown field (expected id, display_name, roles, email, webhooks)"
    elif issue["type"] == "enum":
        message = f"{issue['input']!r} is not a role a person holds (one of {_ROLE_NAMES})"
    return f"{where}: {message}" if where else message


def _duplicate_ids(entries: list[Any]) -> list[str]:
    positions: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and isinstance(entry.get("id"), str):
            positions.setdefault(entry["id"], []).append(index + 1)
    return [
        f"id {staff_id!r} is used by more than one entry (entries {', '.join(map(str, where))}): ids must be unique"
        for staff_id, where in positions.items()
        if len(where) > 1
    ]


def _uncovered_roles(entries: list[Any]) -> list[str]:
    held: set[str] = set()
    for entry in entries:
        roles = _one_or_many(entry.get("roles")) if isinstance(entry, dict) else None
        if isinstance(roles, list):
            held.update(role for role in roles if isinstance(role, str))
    return [
        f"no one holds the role {role.value!r}: its notifications would reach nobody; add it to someone's roles"
        for role in ADDRESSABLE_ROLES
        if role.value not in held
    ]


def _escalation(raw: object) -> tuple[dict[Role, Role], list[str]]:
    if not isinstance(raw, dict):
        return {}, ["'escalation' must be a table of role = escalation role"]
    escalation: dict[Role, Role] = {}
    problems: list[str] = []
    for key, value in raw.items():
        role = _addressable(key)
        target = _addressable(value) if isinstance(value, str) else None
        if role is None:
            problems.append(f"escalation: {key!r} is not a role a person holds (one of {_ROLE_NAMES})")
        if target is None:
            problems.append(f"escalation.{key}: {value!r} is not a role a person holds (one of {_ROLE_NAMES})")
        if role is not None and target is not None:
            escalation[role] = target
    return escalation, problems


def _addressable(name: str) -> Role | None:
    try:
        role = Role(name)
    except ValueError:
        return None
    return None if role is Role.SYSTEM else role
