"""Text staff type never reaches a notification (finding 5 of issue 14): a lot number that is a name and a birth
date, and a reason naming the family, recorded on the dev server through the trial client, appear in the record
only; the e-mail, the webhook body and every log line the worker and the client write carry none of it."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import pytest_asyncio
from pydantic import SecretStr
from structlog.testing import capture_logs

from domain.journey import commands as cmd
from domain.roles import Role
from domain.site_time import site_date
from facade import TrialClient
from notifications import ChannelKind, EmailChannel, Notifier, SmtpConfig, WebhookChannel
from notifications.directory import ADDRESSABLE_ROLES
from records.deliveries import DeliveryLedger
from simulation.journey_steps import Milestone, PathPatient, entered_late, send
from tests.facade.journeys import RULES, enrollment
from tests.notifications.people import directory_of, staff_entry
from tests.notifications.servers import SmtpServer, WebhookServer
from tests.servers import Stack
from tests.waiting import poll
from workers.worker import journey_worker

TYPED_NAME = "ZHANG WEI 2017-07-21"
TYPED_REASON = "Family of Zhang Wei moved to Harbin"
WORDS_THAT_MUST_NOT_LEAK = ("ZHANG", "Zhang", "2017-07-21", "Harbin")


@dataclasses.dataclass
class Notifying:
    trial: TrialClient
    smtp: SmtpServer
    webhooks: WebhookServer


@pytest_asyncio.fixture(loop_scope="session")
async def notifying(stack: Stack) -> AsyncIterator[Notifying]:
    """A worker on the dev server whose notifier sends e-mail and webhooks to every role, and a client for it."""
    with SmtpServer() as smtp, WebhookServer() as webhooks:
        directory = directory_of(
            [
                staff_entry(role, email=[f"{role.value}@hospital.example"], webhooks=[webhooks.url(f"/{role.value}")])
                for role in ADDRESSABLE_ROLES
            ]
        )
        config = SmtpConfig(host="127.0.0.1", port=smtp.port, starttls=False, sender="trialflow@hospital.example")
        channels = {
            ChannelKind.EMAIL: EmailChannel(config),
            ChannelKind.WEBHOOK: WebhookChannel(SecretStr("no-typed-text-key"), timeout_seconds=5),
        }
        notifier = Notifier(directory, DeliveryLedger(stack.store.engine), channels)
        task_queue = f"no-typed-text-{uuid.uuid4()}"
        try:
            async with journey_worker(
                stack.temporal, stack.store, task_queue=task_queue, notifier=notifier, seal_keys=stack.seal_keys
            ):
                yield Notifying(
                    TrialClient(stack.temporal, stack.store, task_queue=task_queue, seal_keys=stack.seal_keys),
                    smtp,
                    webhooks,
                )
        finally:
            notifier.close()


async def test_a_lot_number_and_a_reason_staff_typed_reach_no_email_webhook_or_log_line(
    notifying: Notifying, caplog: pytest.LogCaptureFixture
) -> None:
    study_id = "NT-001"
    trial = notifying.trial
    day_zero = site_date(datetime.now(UTC) + timedelta(days=3), RULES)
    patient = PathPatient(study_id=study_id, lot_number=TYPED_NAME)
    steps = entered_late(Milestone.PRESCRIBED, patient, day_zero, trial.protocol)
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        await trial.enroll(enrollment(study_id, site_date(steps[0].at, RULES)))
        await send(steps, partial(trial.record, study_id))
        await trial.record(study_id, cmd.TakeOffStudy(actor=patient.actor(Role.INVESTIGATOR), reason=TYPED_REASON))

        async def off_study_told() -> list[object] | None:
            mail = [m for m in notifying.smtp.messages() if "off study" in str(m.message["Subject"])]
            hooks = [r for r in notifying.webhooks.received() if b"off study" in r.body]
            return [*mail, *hooks] if len(mail) >= 2 and len(hooks) >= 2 else None

        await poll(off_study_told, "the off-study notifications by e-mail and webhook")

    # The typed values are in the record: the test would prove nothing if they had never been recorded.
    recorded = " ".join(str(e.payload) + str(e.reason) for e in trial.store.events_for(study_id))
    assert TYPED_NAME in recorded and TYPED_REASON in recorded

    mails = notifying.smtp.messages()
    hooks = notifying.webhooks.received()
    released = [m for m in mails if "product released" in str(m.message["Subject"])]
    assert released and any(b"product released" in r.body for r in hooks)
    sent = [str(m.message["Subject"]) + m.message.get_content() for m in mails]
    sent += [r.body.decode() for r in hooks]
    logged = [str(line) for line in logs] + [record.getMessage() for record in caplog.records]
    # The log lines were caught: the notification channel's own line of the release among them.
    assert any("product released" in line for line in logged)
    for words in WORDS_THAT_MUST_NOT_LEAK:
        assert not [text for text in sent if words in text], f"{words!r} reached a notification"
        assert not [line for line in logged if words in line], f"{words!r} reached a log line"
