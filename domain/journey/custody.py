"""The chain of custody's order: the hand-offs of one collection's cells, and who records each (protocol,
"Product logistics"). Collection and release are steps of their own; the infusion ends the chain."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

from domain.roles import Role

# The hand-offs in their order; here, not with the commands, so the views and `trial status` need not import them.
CustodyStep = Literal[
    "shipped_to_manufacturer",
    "received_by_manufacturer",
    "manufacturing_started",
    "shipped_to_site",
    "received_at_site",
    "stored",
    "thawed",
]

CUSTODY_ORDER: tuple[str, ...] = get_args(CustodyStep)
BEFORE_RELEASE = frozenset({"shipped_to_manufacturer", "received_by_manufacturer", "manufacturing_started"})
AFTER_RELEASE = frozenset(CUSTODY_ORDER) - BEFORE_RELEASE

# Who hands the cells on at each step: the apheresis unit ships them, the cell lab deals with the manufacturer
# and receives, stores and thaws the bag at the site (a nurse may thaw it at the bedside).
CUSTODY_ROLES: Mapping[str, frozenset[Role]] = MappingProxyType(
    {
        "shipped_to_manufacturer": frozenset({Role.APHERESIS_UNIT, Role.CELL_LAB}),
        "received_by_manufacturer": frozenset({Role.CELL_LAB}),
        "manufacturing_started": frozenset({Role.CELL_LAB}),
        "shipped_to_site": frozenset({Role.CELL_LAB}),
        "received_at_site": frozenset({Role.CELL_LAB}),
        "stored": frozenset({Role.CELL_LAB}),
        "thawed": frozenset({Role.CELL_LAB, Role.NURSE}),
    }
)
CUSTODY_ROLE_SET: frozenset[Role] = frozenset(role for roles in CUSTODY_ROLES.values() for role in roles)

STEP_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "collected": "collected",
        "shipped_to_manufacturer": "shipped to the manufacturer",
        "received_by_manufacturer": "received by the manufacturer",
        "manufacturing_started": "in manufacturing",
        "released": "released by the cell lab",
        "shipped_to_site": "shipped to the site",
        "received_at_site": "received at the site",
        "stored": "stored at the site",
        "thawed": "thawed",
        "infused": "infused",
    }
)
