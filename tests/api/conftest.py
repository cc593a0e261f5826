"""The API over the facade tests' real dev server and worker, with one configured token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest_asyncio
from fastapi import FastAPI

from api import TokenAuthenticator, TokenEntry, create_app, hash_token
from domain.roles import Role
from tests.servers import Stack

# A token per person; the configuration holds only their hashes.
TOKENS: dict[Role, str] = {role: f"token-of-the-{role.value}" for role in Role if role is not Role.SYSTEM}
USERS: dict[Role, str] = {role: f"{role.value.replace('_', '.')}.api" for role in TOKENS}


def authenticator() -> TokenAuthenticator:
    return TokenAuthenticator(
        [TokenEntry(sha256=hash_token(token), user_id=USERS[role], role=role) for role, token in TOKENS.items()]
    )


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
        yield Api(app, http, stack)
