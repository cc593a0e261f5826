"""Signing in through the OpenID provider: the authorization-code flow with PKCE (RFC 7636, S256) as a public
client, by Authlib. The access token it brings back is the same bearer token the API accepts; the session keeps it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

from security.oidc import DISCOVERY_PATH
from web.config import OidcWebClient

HTTP_TIMEOUT_SECONDS: Final = 10.0


class SignInFailed(Exception):
    """The provider did not sign the person in; the message says why in words."""


@dataclass(frozen=True)
class ProviderEndpoints:
    authorization: str
    token: str


@dataclass(frozen=True)
class ProviderTokens:
    """The access token (the API's bearer token) and, when the provider gives one, the refresh token that renews it."""

    access: str
    refresh: str | None


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    code_verifier: str


class OidcSignIn:
    def __init__(self, client: OidcWebClient) -> None:
        self._client = client
        self._endpoints: ProviderEndpoints | None = None
        self._lock = asyncio.Lock()

    async def endpoints(self) -> ProviderEndpoints:
        """The provider's endpoints from its discovery document, fetched once."""
        async with self._lock:
            if self._endpoints is None:
                url = self._client.issuer.rstrip("/") + DISCOVERY_PATH
                try:
                    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
                        answer = await http.get(url)
                    answer.raise_for_status()
                    document: dict[str, Any] = answer.json()
                    self._endpoints = ProviderEndpoints(
                        str(document["authorization_endpoint"]), str(document["token_endpoint"])
                    )
                except (httpx.HTTPError, ValueError, KeyError) as error:
                    raise SignInFailed(f"the sign-in service cannot be reached ({type(error).__name__})") from None
            return self._endpoints

    def _oauth(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client.client_id,
            scope=" ".join(self._client.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="none",
            timeout=HTTP_TIMEOUT_SECONDS,
        )

    async def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        """Where to send the browser: the provider's authorization endpoint with a fresh state and PKCE challenge."""
        endpoints = await self.endpoints()
        verifier = generate_token(64)
        # OpenID Connect Core §11: a request for offline_access (a refresh token) asks for consent.
        extra = {"prompt": "consent"} if "offline_access" in self._client.scopes else {}
        async with self._oauth(redirect_uri) as oauth:
            url, state = oauth.create_authorization_url(endpoints.authorization, code_verifier=verifier, **extra)
        return AuthorizationRequest(url=url, state=state, code_verifier=verifier)

    async def tokens(self, code: str, code_verifier: str, redirect_uri: str) -> ProviderTokens:
        """The tokens the provider gives for `code` and the verifier of its challenge."""
        endpoints = await self.endpoints()
        async with self._oauth(redirect_uri) as oauth:
            try:
                token = await oauth.fetch_token(endpoints.token, code=code, code_verifier=code_verifier)
            except OAuthError as error:
                raise SignInFailed(f"the sign-in service refused the sign-in: {error.error}") from None
            except httpx.HTTPError as error:
                raise SignInFailed(f"the sign-in service cannot be reached ({type(error).__name__})") from None
        return _provider_tokens(token)

    async def renewed(self, refresh_token: str) -> ProviderTokens:
        """New tokens for an expired access token, from the refresh token (the person is not asked again)."""
        endpoints = await self.endpoints()
        async with self._oauth("") as oauth:
            try:
                token = await oauth.refresh_token(endpoints.token, refresh_token=refresh_token)
            except OAuthError as error:
                raise SignInFailed(f"the sign-in service refused to renew the sign-in: {error.error}") from None
            except httpx.HTTPError as error:
                raise SignInFailed(f"the sign-in service cannot be reached ({type(error).__name__})") from None
        renewed = _provider_tokens(token)
        # A provider that does not rotate refresh tokens answers without one: the old one still holds.
        return renewed if renewed.refresh else ProviderTokens(renewed.access, refresh_token)


def _provider_tokens(token: dict[str, Any]) -> ProviderTokens:
    access, refresh = token.get("access_token"), token.get("refresh_token")
    if not isinstance(access, str) or not access:
        raise SignInFailed("the sign-in service gave no access token")
    return ProviderTokens(access, refresh if isinstance(refresh, str) and refresh else None)
