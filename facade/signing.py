"""Electronic signatures at the moment of signing: the signer re-authenticates with their signing PIN, then the
command is signed with their printed name, the site's time and the meaning they give. Three wrong PINs in a row
(the protocol's `signatures` rules) lock that person's signing for a while and alert supervisors at once.

Both doors use it: the API (`TrialClient.record(..., signing=...)`) and any local tool holding a TrialClient.
The PIN goes no further than this module: never into the command, Temporal, the record or a log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

from pydantic import BaseModel, Field, SecretStr

from domain.journey.notifications import Notification, signing_locked_alert
from domain.protocol import FrozenModel, TrialProtocol
from domain.roles import Actor
from domain.signature import PrintedName, SignatureMeaning, sign
from facade.errors import TrialError
from notifications.directory import StaffDirectory
from notifications.notifier import Notifier, log_channel_fields
from observability.logging import get_logger
from records.deliveries import DeliveryLedger
from records.signing_pins import PinRecord, SigningPinStore
from security.signing_pins import hash_pin, pin_matches, pin_problems

C = TypeVar("C", bound=BaseModel)

# Where an alert about a PIN change (no patient in question) is filed in the notification ledger.
NO_PATIENT = "trial"
PIN_HOW = "set it with PUT /me/signing-pin"

log = get_logger("trialflow.audit")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SigningRequest(FrozenModel):
    """What a signer gives at the moment of signing; `printed_name` comes from their credential when it has one."""

    pin: SecretStr = Field(description="The signer's signing PIN: checked, then forgotten")
    meaning: SignatureMeaning = SignatureMeaning.AUTHOR
    printed_name: PrintedName | None = None


class SignatureRefused(TrialError):
    """Signing was refused (wrong PIN, no PIN, no printed name): nothing was recorded."""

    code = "signature_refused"

    def __init__(self, study_id: str, reasons: Sequence[str]) -> None:
        super().__init__(study_id, "the electronic signature was refused: " + "; ".join(reasons), reasons)


class SigningLocked(SignatureRefused):
    """Signing is locked for this person after too many wrong PINs."""

    code = "signing_locked"


class PinChangeRefused(Exception):
    """A new signing PIN was refused; `reasons` names every problem. Nothing was changed.

    `unauthenticated`: the current PIN was missing or wrong, or signing is locked (else only the new PIN's rules)."""

    def __init__(self, reasons: Sequence[str], unauthenticated: bool = False) -> None:
        self.reasons = tuple(reasons)
        self.unauthenticated = unauthenticated
        super().__init__("; ".join(self.reasons))


class SigningDesk:
    """Signing PINs and signatures over the trial record's database; alerts go through `notifier`."""

    def __init__(
        self,
        pins: SigningPinStore,
        protocol: TrialProtocol,
        notifier: Notifier,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._pins = pins
        self._rules = protocol.signatures
        self._site_zone = timezone(timedelta(minutes=protocol.schedule.site_utc_offset_minutes))
        self._notifier = notifier
        self._clock = clock

    @classmethod
    def log_only(cls, pins: SigningPinStore, ledger: DeliveryLedger, protocol: TrialProtocol) -> SigningDesk:
        """Alerts on the log channel only (no staff directory): tests and the embedded stack without one."""
        return cls(pins, protocol, Notifier.log_only(ledger))

    def close(self) -> None:
        self._notifier.close()

    @property
    def directory(self) -> StaffDirectory:
        return self._notifier.directory

    @property
    def _lockout(self) -> timedelta:
        return timedelta(minutes=self._rules.lockout_minutes)

    # ------------------------------------------------------------ signing

    async def sign(self, study_id: str, command: C, request: SigningRequest) -> C:
        """`command` signed by its actor, once their PIN is checked; SignatureRefused (SigningLocked) naming why."""
        actor: Actor = getattr(command, "actor")  # noqa: B009 - every staff command has one
        user = actor.user_id
        record = await asyncio.to_thread(self._pins.find, user)
        now = self._clock()
        if record is None or record.pin_hash is None:
            raise SignatureRefused(study_id, [f"{user} has no signing PIN yet: {PIN_HOW}, then sign again"])
        if record.locked_at(now):
            raise SigningLocked(study_id, [self._locked_words(user, record)])
        printed_name = request.printed_name or self._display_name(user)
        if printed_name is None:
            raise SignatureRefused(
                study_id,
                [
                    f"no printed name is known for {user}: a signature shows the signer's name; ask an "
                    "administrator to give your credential a name, or your staff directory entry a display_name"
                ],
            )
        if not await asyncio.to_thread(pin_matches, record.pin_hash, request.pin.get_secret_value()):
            raise await self._wrong_pin(study_id, user, now, "the signing PIN is wrong")
        await asyncio.to_thread(self._pins.record_success, user)
        return sign(
            command,
            signer_user_id=user,
            printed_name=printed_name,
            signed_at=now.astimezone(self._site_zone),
            meaning=request.meaning,
        )

    def _display_name(self, user_id: str) -> str | None:
        return next((person.display_name for person in self.directory.staff if person.id == user_id), None)

    def _locked_words(self, user_id: str, record: PinRecord) -> str:
        assert record.locked_until is not None
        until = record.locked_until.astimezone(self._site_zone)
        return (
            f"signing is locked for {user_id} until {until.isoformat(timespec='minutes')} after "
            f"{self._rules.max_failed_attempts} wrong signing PINs in a row; try again then (a supervisor was alerted)"
        )

    async def _wrong_pin(self, study_id: str, user_id: str, now: datetime, what: str) -> SignatureRefused:
        """Count a wrong PIN; the refusal to raise, SigningLocked (and supervisors alerted) when it locks."""
        rules = self._rules
        after = await asyncio.to_thread(
            self._pins.record_failure, user_id, now, rules.max_failed_attempts, self._lockout
        )
        if after.locked_at(now):
            assert after.locked_until is not None
            await self._alert(signing_locked_alert(study_id, user_id, rules.max_failed_attempts, after.locked_until))
            return SigningLocked(study_id, [what, self._locked_words(user_id, after)])
        left = rules.max_failed_attempts - after.failed_attempts
        plural = "" if left == 1 else "s"
        return SignatureRefused(
            study_id, [f"{what} ({left} more wrong PIN{plural} lock signing for {rules.lockout_minutes} minutes)"]
        )

    async def _alert(self, notification: Notification) -> None:
        """The log channel at once, then every supervisor on their channels; a failed delivery stays in the
        notification ledger (`trial notifications`), never hides the refusal."""
        log.warning(
            "signing_locked",
            **log_channel_fields(notification),
        )
        try:
            outcome = await asyncio.to_thread(self._notifier.deliver, notification)
        except Exception as error:  # the ledger's database away: the log line above has it
            log.error("signing_locked_alert_not_delivered", key=notification.key, error=type(error).__name__)
            return
        if outcome.failures:
            log.error("signing_locked_alert_not_delivered", key=notification.key, failure=outcome.failure_summary())

    # ------------------------------------------------------------ setting a PIN

    async def set_pin(self, user_id: str, new_pin: SecretStr, current_pin: SecretStr | None = None) -> None:
        """Set `user_id`'s signing PIN. Once one is set, changing it needs the current one (a wrong one counts
        toward the lockout). PinChangeRefused names every problem; nothing changes then."""
        new = new_pin.get_secret_value()
        problems = [f"the new {problem.removeprefix('the ')}" for problem in pin_problems(new)]
        record = await asyncio.to_thread(self._pins.find, user_id)
        now = self._clock()
        if record is not None and record.pin_hash is not None:
            if record.locked_at(now):
                raise PinChangeRefused([self._locked_words(user_id, record)], unauthenticated=True)
            if current_pin is None:
                needed = "your current signing PIN is needed to change it (an administrator can reset a forgotten one)"
                raise PinChangeRefused([needed, *problems], unauthenticated=True)
            if not await asyncio.to_thread(pin_matches, record.pin_hash, current_pin.get_secret_value()):
                refusal = await self._wrong_pin(NO_PATIENT, user_id, now, "the current signing PIN is wrong")
                raise PinChangeRefused([*refusal.reasons, *problems], unauthenticated=True)
        if problems:
            raise PinChangeRefused(problems)
        pin_hash = await asyncio.to_thread(hash_pin, new)
        await asyncio.to_thread(self._pins.set_pin, user_id, pin_hash, now)
        log.info("signing_pin_set", actor_user_id=user_id)
