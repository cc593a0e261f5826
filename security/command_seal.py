"""Command seals: the trial client seals every staff command (and every enrollment) with HMAC-SHA256 under the seal
keys (security/keys.py); the journey verifies the seal before it takes the command. Anyone who reaches Temporal
without the seal key, even with the payload key, cannot hand a journey a command, nor replay a sealed one changed.

The seal travels in a Temporal header (`SEAL_HEADER`), so the command itself and the recorded histories stay as
they were. It covers the study id, the command's kind, the whole command (canonical JSON of its model, so a field
added later is sealed too), the actor's user id and role, the idempotency key (the update id; for an enrollment,
the workflow id) and the issue time; it names its key id. Headers are not encrypted: a seal holds no patient data.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from temporalio.api.common.v1 import Payload

from domain.canonical_json import canonical_json
from domain.entered_content import entered_content
from security.keys import SealKeyring

SEAL_HEADER: Final = "trialflow-seal"
# The failure type of a refused seal, as the trial client sees it.
SEAL_REFUSED: Final = "CommandSealRefused"
# The one home of a seal's lifetime: a command reaches its journey within seconds (the client resends for 30 s at
# most), so a seal older than 5 minutes is a replayed one, refused.
SEAL_MAX_AGE: Final = timedelta(minutes=5)
# Clocks of the API's host and of Temporal's differ a little: a seal from a few seconds ahead is not forged.
SEAL_CLOCK_SKEW: Final = timedelta(seconds=30)
_FORMAT: Final = "trialflow-command-seal-v1"


class SealRefused(Exception):
    """A command's seal is missing, forged or stale; `reason` says which, in words (never a key or a MAC)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Seal(BaseModel):
    """What the header carries: which key sealed, when, and the MAC (hex)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str = Field(min_length=1, max_length=64)
    issued_at: AwareDatetime
    mac: str = Field(pattern=r"^[0-9a-f]{64}$")


def command_body(command: BaseModel) -> Any:
    """The command as JSON values: the same on both sides of Temporal (the worker reads the model the client sent)."""
    return entered_content(command)


def sealed_message(
    *,
    key_id: str,
    study_id: str,
    kind: str,
    body: Any,
    user_id: str,
    role: str,
    idempotency_key: str,
    issued_at: datetime,
) -> bytes:
    """The bytes the MAC covers: one spelling of them (domain/canonical_json.py), so either side computes the same."""
    return canonical_json(
        {
            "format": _FORMAT,
            "key_id": key_id,
            "study_id": study_id,
            "kind": kind,
            "command": body,
            "actor_user_id": user_id,
            "actor_role": role,
            "idempotency_key": idempotency_key,
            "issued_at": issued_at.isoformat(),
        }
    ).encode("utf-8")


def _mac(
    keyring: SealKeyring,
    key_id: str,
    *,
    study_id: str,
    command: BaseModel,
    body: BaseModel | None,
    idempotency_key: str,
    issued_at: datetime,
) -> str:
    """The HMAC-SHA256 (hex) of the sealed message under the key `key_id`, which the keyring must know."""
    kind, user_id, role = _actor_of(command)
    message = sealed_message(
        key_id=key_id,
        study_id=study_id,
        kind=kind,
        body=command_body(body or command),
        user_id=user_id,
        role=role,
        idempotency_key=idempotency_key,
        issued_at=issued_at,
    )
    return hmac.new(keyring.key(key_id), message, hashlib.sha256).hexdigest()


def _actor_of(command: BaseModel) -> tuple[str, str, str]:
    """The command's kind, actor user id and role (every staff command has them)."""
    actor = getattr(command, "actor", None)
    role = getattr(getattr(actor, "role", None), "value", None)
    return str(getattr(command, "kind", "")), str(getattr(actor, "user_id", "")), str(role or "")


def seal(
    keyring: SealKeyring,
    *,
    study_id: str,
    command: BaseModel,
    body: BaseModel | None = None,
    idempotency_key: str,
    issued_at: datetime,
) -> Payload:
    """The header payload sealing `command` (its kind and actor); `body` is what is sealed whole (default the command).

    For an enrollment, `body` is the workflow's whole input, and `command` the enrollment in it."""
    mac = _mac(
        keyring,
        keyring.active_key_id,
        study_id=study_id,
        command=command,
        body=body,
        idempotency_key=idempotency_key,
        issued_at=issued_at,
    )
    sealed = Seal(key_id=keyring.active_key_id, issued_at=issued_at, mac=mac)
    return Payload(metadata={"encoding": b"json/plain"}, data=sealed.model_dump_json().encode("utf-8"))


def verify(
    keyring: SealKeyring,
    header: Payload | None,
    *,
    study_id: str,
    command: BaseModel,
    body: BaseModel | None = None,
    idempotency_key: str,
    now: datetime,
    check_age: bool = True,
) -> None:
    """Raises SealRefused unless `header` seals exactly this command, for this study id and idempotency key, with a
    configured key, issued within SEAL_MAX_AGE before `now` (and not beyond SEAL_CLOCK_SKEW after it).

    `check_age=False` for what is harmless when replayed whole and may wait long in Temporal before a worker reads
    it: a journey's report to the trial (counted once by its event id), the trial's start."""
    if header is None:
        raise SealRefused("the command carries no seal: only the trial's API may send commands")
    try:
        sealed = Seal.model_validate_json(header.data)
    except ValidationError:
        raise SealRefused("the command's seal is malformed") from None
    if not keyring.knows(sealed.key_id):
        raise SealRefused(f"the command's seal names the key id {sealed.key_id!r}, which is not configured")
    mac = _mac(
        keyring,
        sealed.key_id,
        study_id=study_id,
        command=command,
        body=body,
        idempotency_key=idempotency_key,
        issued_at=sealed.issued_at,
    )
    if not hmac.compare_digest(mac, sealed.mac):
        raise SealRefused(
            "the command's seal does not match it: the command, its actor, its study id or its update id was changed, "
            "or the seal was forged"
        )
    if not check_age:
        return
    age = now - sealed.issued_at
    if age > SEAL_MAX_AGE:
        raise SealRefused(
            f"the command's seal is stale: issued {int(age.total_seconds())} s ago, at most {SEAL_MAX_AGE}"
        )
    if -age > SEAL_CLOCK_SKEW:
        raise SealRefused(f"the command's seal is issued {int(-age.total_seconds())} s in the future")
