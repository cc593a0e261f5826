"""`GET /me`: who the credential identifies; `GET /auth/config`: how to sign in (read by `trial login`, no
authentication)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import Field

from api.dependencies import Reader
from api.problems import problem_responses
from domain.protocol import FrozenModel
from domain.roles import Actor
from security.oidc import SignInConfig

router = APIRouter(tags=["identity"])


class AuthConfig(FrozenModel):
    """How to get a credential this API accepts."""

    oidc: SignInConfig | None = Field(
        description="The OpenID provider to sign in with (device authorization grant for the CLI); null: a personal "
        "API token issued by an administrator (`trial admin token new`)"
    )


@router.get("/auth/config", response_model=AuthConfig, summary="How to sign in (no authentication)")
async def auth_config(request: Request) -> AuthConfig:
    return AuthConfig(oidc=getattr(request.app.state.authenticator, "sign_in", None))


@router.get(
    "/me",
    response_model=Actor,
    responses=problem_responses(401, 503),
    summary="The user and study role the credential identifies",
)
async def me(who: Reader) -> Actor:
    return who
