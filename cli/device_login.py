"""Signing in at an OpenID provider from a terminal: the OAuth 2.0 Device Authorization Grant (RFC 8628), and
refreshing the access token it gave (RFC 6749 §6). The person confirms the code in a browser, on any device."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import httpx

from cli.credentials import utc_now

DEVICE_CODE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL_SECONDS: Final = 5  # RFC 8628 §3.2: when the provider names none
SLOW_DOWN_STEP_SECONDS: Final = 5  # RFC 8628 §3.5: slow_down adds 5 s to every later wait
HTTP_TIMEOUT_SECONDS: Final = 15.0


class SignInFailed(Exception):
    """The sign-in did not give a token; the message says why in words."""


@dataclass(frozen=True)
class ProviderEndpoints:
    issuer: str
    device_authorization_endpoint: str
    token_endpoint: str


@dataclass(frozen=True)
class DeviceCode:
    """What the person is shown: where to go and the code to enter there."""

    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    device_code: str
    interval: int
    expires_at: datetime


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_at: datetime | None
    refresh_token: str | None


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        raise SignInFailed(f"{what} answered HTTP {response.status_code} without a JSON document") from None
    if not isinstance(document, dict):
        raise SignInFailed(f"{what} answered something other than a JSON object")
    return document


def discover(http: httpx.Client, issuer: str) -> ProviderEndpoints:
    """The provider's device and token endpoints from its discovery document, which must name the same issuer."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        response = http.get(url)
    except httpx.HTTPError:
        raise SignInFailed(f"cannot reach the OpenID provider at {issuer}") from None
    document = _json(response, f"the OpenID provider's discovery document ({url})")
    if document.get("issuer") != issuer:
        raise SignInFailed(f"the discovery document at {url} does not name {issuer} as its issuer")
    device = document.get("device_authorization_endpoint")
    token = document.get("token_endpoint")
    if not isinstance(device, str) or not isinstance(token, str):
        raise SignInFailed(f"the OpenID provider {issuer} offers no device sign-in (no device_authorization_endpoint)")
    return ProviderEndpoints(issuer, device, token)


def request_device_code(
    http: httpx.Client, endpoints: ProviderEndpoints, client_id: str, scopes: tuple[str, ...]
) -> DeviceCode:
    """RFC 8628 §3.1-3.2: a device code for this client and the code the person enters."""
    try:
        response = http.post(
            endpoints.device_authorization_endpoint, data={"client_id": client_id, "scope": " ".join(scopes)}
        )
    except httpx.HTTPError:
        raise SignInFailed(f"cannot reach the OpenID provider at {endpoints.issuer}") from None
    document = _json(response, "the device authorization endpoint")
    if response.status_code != 200:
        raise SignInFailed(f"the OpenID provider refused the sign-in: {_oauth_error(document)}")
    try:
        return DeviceCode(
            user_code=str(document["user_code"]),
            verification_uri=str(document["verification_uri"]),
            verification_uri_complete=document.get("verification_uri_complete"),
            device_code=str(document["device_code"]),
            interval=int(document.get("interval", DEFAULT_INTERVAL_SECONDS)),
            expires_at=utc_now() + timedelta(seconds=int(document["expires_in"])),
        )
    except (KeyError, TypeError, ValueError):
        raise SignInFailed("the OpenID provider's device authorization answer lacks a required field") from None


def _oauth_error(document: dict[str, Any]) -> str:
    error = str(document.get("error", "unknown error"))
    description = document.get("error_description")
    return f"{error} ({description})" if description else error


def _tokens(document: dict[str, Any]) -> Tokens:
    access = document.get("access_token")
    if not isinstance(access, str) or not access:
        raise SignInFailed("the OpenID provider's answer holds no access token")
    expires_in = document.get("expires_in")
    return Tokens(
        access_token=access,
        expires_at=utc_now() + timedelta(seconds=int(expires_in)) if isinstance(expires_in, int | float) else None,
        refresh_token=document.get("refresh_token") if isinstance(document.get("refresh_token"), str) else None,
    )


def poll_for_tokens(
    http: httpx.Client,
    endpoints: ProviderEndpoints,
    client_id: str,
    code: DeviceCode,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = utc_now,
) -> Tokens:
    """RFC 8628 §3.4-3.5: ask the token endpoint every `interval` seconds until the person has confirmed (or
    refused, or the code expired); slow_down lengthens the interval for good."""
    interval = max(code.interval, 1)
    while True:
        if now() >= code.expires_at:
            raise SignInFailed("the code expired before it was confirmed: run `trial login` again")
        sleep(interval)
        try:
            response = http.post(
                endpoints.token_endpoint,
                data={"grant_type": DEVICE_CODE_GRANT, "device_code": code.device_code, "client_id": client_id},
            )
        except httpx.TransportError:
            continue  # a network hiccup: the code stays valid until it expires
        document = _json(response, "the token endpoint")
        if response.status_code == 200:
            return _tokens(document)
        error = document.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP_SECONDS
            continue
        if error == "expired_token":
            raise SignInFailed("the code expired before it was confirmed: run `trial login` again")
        if error == "access_denied":
            raise SignInFailed("the sign-in was refused in the browser")
        raise SignInFailed(f"the OpenID provider refused the sign-in: {_oauth_error(document)}")


def refreshed(http: httpx.Client, token_endpoint: str, client_id: str, refresh_token: str) -> Tokens:
    """A new access token from the refresh token; the provider may rotate the refresh token too."""
    try:
        response = http.post(
            token_endpoint,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id},
        )
    except httpx.HTTPError:
        raise SignInFailed("cannot reach the OpenID provider to renew the sign-in") from None
    document = _json(response, "the token endpoint")
    if response.status_code != 200:
        raise SignInFailed(f"the sign-in could not be renewed ({_oauth_error(document)}): run `trial login` again")
    tokens = _tokens(document)
    return tokens if tokens.refresh_token else Tokens(tokens.access_token, tokens.expires_at, refresh_token)


def http_client() -> httpx.Client:
    return httpx.Client(timeout=HTTP_TIMEOUT_SECONDS, follow_redirects=False)
