"""Routing: a notification names a role; the directory names the people; each person's channels are deliveries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from domain.journey.notifications import Notification
from domain.protocol import FrozenModel
from notifications.directory import StaffDirectory
from notifications.identity import webhook_label
from records.deliveries import DeliveryTarget


class ChannelKind(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class PlannedDelivery(FrozenModel):
    """One person x one channel address for one notification. `target` is its ledger key; `address` is where
    it goes (for a webhook, the secret URL, which never leaves this object)."""

    target: DeliveryTarget
    channel: ChannelKind
    address: str = Field(repr=False)

    @property
    def recipient(self) -> str:
        return self.target.recipient


def plan_deliveries(notification: Notification, directory: StaffDirectory) -> list[PlannedDelivery]:
    """Every delivery `notification` needs: each holder of its role on each of their channels, an address
    shared by several people once. Empty when nobody holds the role (no directory): the log channel only."""
    planned: list[PlannedDelivery] = []
    seen: set[tuple[ChannelKind, str]] = set()
    for person in directory.people_for(notification.role):
        addresses = [(ChannelKind.EMAIL, a, a) for a in person.email]
        addresses += [(ChannelKind.WEBHOOK, url, webhook_label(url)) for url in person.webhooks]
        for channel, address, recipient in addresses:
            if (channel, address) in seen:
                continue
            seen.add((channel, address))
            target = DeliveryTarget(
                notification_key=notification.key,
                study_id=notification.study_id,
                role=notification.role.value,
                staff_id=person.id,
                channel=channel.value,
                recipient=recipient,
            )
            planned.append(PlannedDelivery(target=target, channel=channel, address=address))
    return planned
