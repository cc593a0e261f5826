"""Electronic signatures through the API: each person sets a signing PIN (PUT /me/signing-pin); a signed step
carries it (`signature`), the API re-authenticates the signer and records the signature (printed name, time with
its UTC offset, meaning, hash) inside the hash chain; a wrong PIN is refused (403, nothing recorded, the attempt
kept), three in a row lock signing for 15 minutes and alert supervisors at once; timeline and audit show it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest_asyncio

from api import TokenAuthenticator, TokenEntry, create_app, hash_token
from domain.journey.notifications import Notification
from domain.protocol import PROTOCOL_V1
from domain.roles import Role
from facade import TrialClient
from facade.signing import SigningDesk
from notifications.directory import StaffDirectory, StaffMember
from notifications.notifier import Notifier
from notifications.routing import ChannelKind, PlannedDelivery
from records.deliveries import DeliveryLedger
from records.signing_pins import SigningPinStore
from tests.facade.audit_check import chain_problems_in_export, csv_rows, jsonl_rows
from tests.facade.journeys import enrollment
from tests.servers import Stack

PIN = "2718-2818"
SITE_OFFSET = timedelta(minutes=PROTOCOL_V1.schedule.site_utc_offset_minutes)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


class RecordingChannel:
    """A webhook channel that keeps what it is given; the notifier and its ledger in front of it are the real ones."""

    kind = ChannelKind.WEBHOOK

    def __init__(self) -> None:
        self.sent: list[tuple[Notification, str]] = []

    def send(self, notification: Notification, delivery: PlannedDelivery) -> None:
        self.sent.append((notification, delivery.target.staff_id))


# user id -> (role, printed name on the token)
PEOPLE: dict[str, tuple[Role, str | None]] = {
    "dr.li": (Role.INVESTIGATOR, "Dr Li Wei"),
    "dr.lock": (Role.INVESTIGATOR, "Dr Lock Test"),
    "dr.zhou": (Role.INVESTIGATOR, None),  # named by the staff directory only
    "dr.nobody": (Role.INVESTIGATOR, None),  # named nowhere
    "nurse.pin": (Role.NURSE, "Nurse Pin Rules"),
    "sup.ma": (Role.SUPERVISOR, "Ma Lin"),
    "dr.pinless": (Role.INVESTIGATOR, "Dr Pin Less"),  # never sets a PIN
}
DIRECTORY = StaffDirectory(
    staff=(
        StaffMember(id="sup.ma", display_name="Ma Lin", roles=(Role.SUPERVISOR,), webhooks=("https://alerts.test/a",)),
        StaffMember(id="dr.zhou", display_name="Dr Zhou Min", roles=(Role.INVESTIGATOR,), webhooks=("https://b.test",)),
    )
)


def bearer(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-of-{user_id}"}


@dataclass
class Signing:
    http: httpx.AsyncClient
    trial: TrialClient
    clock: Clock
    channel: RecordingChannel

    async def set_pin(self, user_id: str, pin: str = PIN, current: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"new_pin": pin} | ({"current_pin": current} if current is not None else {})
        return await self.http.put("/me/signing-pin", json=body, headers=bearer(user_id))

    async def confirm(self, study_id: str, user_id: str, signature: dict[str, Any] | None) -> httpx.Response:
        body: dict[str, Any] = {"kind": "confirm_eligibility"} | ({"signature": signature} if signature else {})
        return await self.http.post(f"/patients/{study_id}/commands", json=body, headers=bearer(user_id))

    async def enrolled(self, study_id: str) -> str:
        await self.trial.enroll(enrollment(study_id))
        return study_id

    async def audit(self, study_id: str, audit_format: str = "jsonl") -> str:
        answer = await self.http.get(f"/patients/{study_id}/audit?format={audit_format}", headers=bearer("dr.li"))
        assert answer.status_code == 200, answer.text
        return answer.text

    async def refused(self, study_id: str) -> list[dict[str, Any]]:
        return [row for row in jsonl_rows(await self.audit(study_id)) if row["entry"] == "refused_attempt"]

    async def timeline(self, study_id: str) -> list[dict[str, Any]]:
        answer = await self.http.get(f"/patients/{study_id}/timeline", headers=bearer("sup.ma"))
        assert answer.status_code == 200, answer.text
        entries: list[dict[str, Any]] = answer.json()["entries"]
        return entries


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def signing(stack: Stack) -> AsyncIterator[Signing]:
    # Half an hour behind the dev server's: the lockout's 15 minutes pass on it without dating a signature ahead of
    # the workflow's clock (the decider refuses a signature dated in the future).
    clock = Clock(datetime.now(UTC) - timedelta(minutes=30))
    channel = RecordingChannel()
    notifier = Notifier(DIRECTORY, DeliveryLedger(stack.store.engine), {ChannelKind.WEBHOOK: channel})
    desk = SigningDesk(SigningPinStore(stack.store.engine), PROTOCOL_V1, notifier, clock=clock)
    trial = TrialClient(
        stack.temporal, stack.store, task_queue=stack.task_queue, seal_keys=stack.seal_keys, signing=desk
    )
    tokens = TokenAuthenticator(
        [
            TokenEntry(sha256=hash_token(f"token-of-{user}"), user_id=user, role=role, name=name)
            for user, (role, name) in PEOPLE.items()
        ]
    )
    transport = httpx.ASGITransport(app=create_app(trial, tokens))
    async with httpx.AsyncClient(transport=transport, base_url="http://trialflow.test") as http:
        yield Signing(http, trial, clock, channel)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert document["type"].endswith("/" + code), document
    return document


# ---------------------------------------------------------------- the PIN


async def test_a_new_pin_is_refused_naming_every_problem_and_changing_it_needs_the_current_one(
    signing: Signing,
) -> None:
    refused = problem(await signing.set_pin("nurse.pin", "777"), 422, "invalid-input")
    assert refused["reasons"] == [
        "the new PIN must have at least 6 digits or characters (it has 3)",
        "the new PIN must not be one character repeated",
    ]
    assert (await signing.set_pin("nurse.pin", "135790")).status_code == 204

    without = problem(await signing.set_pin("nurse.pin", "246802"), 403, "signing-pin-refused")
    assert without["reasons"] == [
        "your current signing PIN is needed to change it (an administrator can reset a forgotten one)"
    ]
    wrong = problem(await signing.set_pin("nurse.pin", "246802", current="000000x"), 403, "signing-pin-refused")
    assert wrong["reasons"] == ["the current signing PIN is wrong (2 more wrong PINs lock signing for 15 minutes)"]
    assert (await signing.set_pin("nurse.pin", "246802", current="135790")).status_code == 204
    stored = SigningPinStore(signing.trial.store.engine).find("nurse.pin")
    assert stored is not None and stored.pin_hash is not None
    assert stored.pin_hash.startswith("$argon2id$") and "246802" not in stored.pin_hash
    assert stored.failed_attempts == 0  # the right PIN starts the count again


# ---------------------------------------------------------------- signing a step


async def test_a_signed_step_needs_the_right_pin_and_shows_its_signature_in_timeline_and_audit(
    signing: Signing,
) -> None:
    study = await signing.enrolled("SG-1001")
    assert (await signing.set_pin("dr.li")).status_code == 204
    before = await signing.timeline(study)

    unsigned = problem(await signing.confirm(study, "dr.li", None), 409, "command-refused")
    assert unsigned["reasons"] == [
        "this step must be electronically signed: it is one of the protocol's signed steps; sign it with your "
        "signing PIN"
    ]
    wrong = problem(await signing.confirm(study, "dr.li", {"pin": "999999x"}), 403, "signature-refused")
    assert wrong["title"] == "Signature refused"
    assert wrong["reasons"] == ["the signing PIN is wrong (2 more wrong PINs lock signing for 15 minutes)"]
    assert await signing.timeline(study) == before  # nothing recorded

    signed_at = signing.clock.now
    accepted = await signing.confirm(study, "dr.li", {"pin": PIN, "meaning": "approval"})
    assert accepted.status_code == 200, accepted.text
    [event] = accepted.json()["events"]
    signature = event["signature"]
    assert signature["signer_user_id"] == "dr.li" and signature["printed_name"] == "Dr Li Wei"
    assert signature["meaning"] == "approval" and len(signature["signed_sha256"]) == 64
    assert datetime.fromisoformat(signature["signed_at"]) == signed_at
    assert datetime.fromisoformat(signature["signed_at"]).utcoffset() == SITE_OFFSET  # the site's clock

    [*_, last] = await signing.timeline(study)
    assert last["type"] == "eligibility_confirmed" and last["signature"] == signature

    export = await signing.audit(study)
    assert chain_problems_in_export(jsonl_rows(export)) == []  # the signature is inside the hash chain
    [signed_row] = [row for row in jsonl_rows(export) if row["entry"] == "event" and row["signer_user_id"]]
    assert signed_row["event_type"] == "eligibility_confirmed"
    assert signed_row["signer_printed_name"] == "Dr Li Wei" and signed_row["signature_meaning"] == "approval"
    assert (
        signed_row["signed_at"] == signature["signed_at"] and signed_row["signed_sha256"] == signature["signed_sha256"]
    )
    assert json.loads(signed_row["payload"])["signature"] == signature
    [csv_row] = [row for row in csv_rows(await signing.audit(study, "csv")) if row["signer_user_id"]]
    assert csv_row["signer_printed_name"] == "Dr Li Wei" and csv_row["signed_at"] == signature["signed_at"]

    refusals = [(row["refusal"], row["refusal_reasons"]) for row in await signing.refused(study)]
    assert refusals == [("command_refused", unsigned["reasons"]), ("signature_refused", wrong["reasons"])]
    assert PIN not in export and "999999x" not in export  # the PIN is kept nowhere


async def test_three_wrong_pins_lock_signing_for_15_minutes_and_alert_a_supervisor_at_once(signing: Signing) -> None:
    study = await signing.enrolled("SG-1002")
    assert (await signing.set_pin("dr.lock")).status_code == 204
    for left in (2, 1):
        refused = problem(await signing.confirm(study, "dr.lock", {"pin": "wrong-pin"}), 403, "signature-refused")
        assert refused["reasons"][0].startswith(f"the signing PIN is wrong ({left} more wrong PIN")
    assert not [n for n, _ in signing.channel.sent if "signing-locked" in n.key]

    third = problem(await signing.confirm(study, "dr.lock", {"pin": "wrong-pin"}), 403, "signing-locked")
    until = (signing.clock.now + timedelta(minutes=15)).astimezone(UTC)
    assert third["reasons"][0] == "the signing PIN is wrong"
    assert third["reasons"][1].startswith("signing is locked for dr.lock until")
    [(alert, staff_id)] = [(n, who) for n, who in signing.channel.sent if "signing-locked" in n.key]
    assert alert.role is Role.SUPERVISOR and staff_id == "sup.ma" and alert.study_id == study
    assert f"locked until {until:%Y-%m-%d %H:%M} UTC" in alert.body and "dr.lock" in alert.subject

    # Locked: even the right PIN is refused, and the PIN is not even checked.
    signing.clock.now += timedelta(minutes=14, seconds=59)
    still = problem(await signing.confirm(study, "dr.lock", {"pin": PIN}), 403, "signing-locked")
    assert still["reasons"][0].startswith("signing is locked for dr.lock until")
    assert [entry["type"] for entry in await signing.timeline(study)][-1] == "eligibility_assessed"

    signing.clock.now += timedelta(seconds=1)
    accepted = await signing.confirm(study, "dr.lock", {"pin": PIN})
    assert accepted.status_code == 200, accepted.text
    assert [row["refusal"] for row in await signing.refused(study)] == [
        "signature_refused",
        "signature_refused",
        "signing_locked",
        "signing_locked",
    ]


async def test_the_printed_name_comes_from_the_credential_else_the_staff_directory_else_signing_is_refused(
    signing: Signing,
) -> None:
    named_by_directory = await signing.enrolled("SG-1003")
    assert (await signing.set_pin("dr.zhou")).status_code == 204
    accepted = await signing.confirm(named_by_directory, "dr.zhou", {"pin": PIN})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["events"][0]["signature"]["printed_name"] == "Dr Zhou Min"

    nameless = await signing.enrolled("SG-1004")
    assert (await signing.set_pin("dr.nobody")).status_code == 204
    refused = problem(await signing.confirm(nameless, "dr.nobody", {"pin": PIN}), 403, "signature-refused")
    assert refused["reasons"][0].startswith("no printed name is known for dr.nobody")


async def test_signing_is_refused_without_a_pin_set_to_a_read_only_role_and_on_a_step_never_signed(
    signing: Signing,
) -> None:
    study = await signing.enrolled("SG-1005")
    no_pin = problem(await signing.confirm(study, "dr.pinless", {"pin": PIN}), 403, "signature-refused")
    assert no_pin["reasons"] == ["dr.pinless has no signing PIN yet: set it with PUT /me/signing-pin, then sign again"]
    refused = problem(await signing.confirm(study, "sup.ma", {"pin": PIN}), 403, "forbidden")
    # A supervisor writes nothing, signed or not: refused before any PIN is asked for.
    assert refused["reasons"] == [
        "supervisors can read the record but not confirm eligibility; this must be done by an investigator"
    ]
    nobody_yet = await signing.http.post(
        f"/patients/{study}/commands",
        json={"kind": "approve_infusion_outside_window", "reason": "x", "signature": {"pin": PIN}},
        headers=bearer("dr.li"),
    )
    problem(nobody_yet, 422, "invalid-input")  # a step never signed takes no signature
