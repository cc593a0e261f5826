"""The API over the facade tests' real dev server and worker, with one configured token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio
from fastapi import FastAPI

from api import TokenAuthenticator, TokenEntry, create_app, hash_token
from domain.journey.command_registry import STAFF_COMMANDS, Signed
from domain.roles import Role
from tests.servers import Stack

# A token per person; the configuration holds only their hashes.
TOKENS: dict[Role, str] = {role: f"token-of-the-{role.value}" for role in Role if role is not Role.SYSTEM}
USERS: dict[Role, str] = {role: f"{role.value.replace('_', '.')}.api" for role in TOKENS}


# Every person's signing PIN in these tests (set by the `api` fixture through PUT /me/signing-pin).
SIGNING_PIN = "4711-2468"


def printed_name(role: Role) -> str:
    return f"{role.value.replace('_', ' ').title()} of the API tests"


def authenticator() -> TokenAuthenticator:
    return TokenAuthenticator(
        [
            TokenEntry(sha256=hash_token(token), user_id=USERS[role], role=role, name=printed_name(role))
            for role, token in TOKENS.items()
        ]
    )


def with_signature(body: dict[str, Any]) -> dict[str, Any]:
    """`body` signed with the tests' PIN when its step may be signed (and is not signed or unsigned on purpose)."""
    entry = STAFF_COMMANDS.get(str(body.get("kind")))
    if entry is None or entry.signed is Signed.NEVER or "signature" in body:
        return body
    return {**body, "signature": {"pin": SIGNING_PIN}}


def as_role(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@dataclass(frozen=True)
class Api:
    app: FastAPI
    http: httpx.AsyncClient
    stack: Stack


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(stack: Stack) -> AsyncIterator[Api]:
    app = create_app(stack.trial, authenticator())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://trialflow.test") as http:
        for role in TOKENS:  # the current PIN is ignored until one is set: this sets it, or sets it again
            pin = {"new_pin": SIGNING_PIN, "current_pin": SIGNING_PIN}
            answer = await http.put("/me/signing-pin", json=pin, headers=as_role(role))
            assert answer.status_code == 204, answer.text
        yield Api(app, http, stack)
