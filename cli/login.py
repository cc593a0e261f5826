"""`trial login`, `whoami` and `logout`: the credential every staff and supervisor command is sent with.

With an OpenID provider configured on the API (`GET /auth/config`), `trial login` signs in there with the device
authorization grant (RFC 8628: a code confirmed in a browser); otherwise it takes a personal API token, once,
checked against the API (`GET /me`) before it is saved. The credential stays in the user's config directory."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli.api_client import (
    DEFAULT_API_URL,
    USAGE_ERROR_EXIT_CODE,
    ApiClient,
    ApiOption,
    ProfileOption,
    call_api,
    fail,
)
from cli.common import JsonOption, json_help, print_json
from cli.credentials import DEFAULT_PROFILE, Credential, CredentialsFileError, CredentialStore, normalized_url
from cli.device_login import discover, http_client, poll_for_tokens, request_device_code
from domain.roles import Actor
from security.oidc import SignInConfig

PANEL = "Signing in (the API's credential)"

app = typer.Typer()


def _profile_words(profile: str) -> str:
    return "" if profile == DEFAULT_PROFILE else f" (profile {profile})"


def _sign_in_config(client: ApiClient) -> SignInConfig | None:
    document = client.request("GET", "/auth/config", authenticated=False).json()
    oidc = document.get("oidc") if isinstance(document, dict) else None
    return SignInConfig.model_validate(oidc) if oidc else None


def _actor(client: ApiClient, token: str) -> Actor:
    return Actor.model_validate(client.request("GET", "/me", token=token).json())


def _personal_token(client: ApiClient, token: str) -> Credential:
    actor = _actor(client, token)
    return Credential(kind="token", access_token=token, user_id=actor.user_id, role=actor.role.value)


def _device_sign_in(client: ApiClient, sign_in: SignInConfig) -> Credential:
    with http_client() as http:
        endpoints = discover(http, sign_in.issuer)
        code = request_device_code(http, endpoints, sign_in.client_id, sign_in.scopes)
        typer.echo(f"To sign in, open {code.verification_uri} in a browser and enter the code {code.user_code}")
        if code.verification_uri_complete:
            typer.echo(f"  (or open {code.verification_uri_complete})")
        typer.echo(f"Waiting for the sign-in at {sign_in.issuer} to be confirmed...")
        sys.stdout.flush()
        tokens = poll_for_tokens(http, endpoints, sign_in.client_id, code)
    actor = _actor(client, tokens.access_token)
    return Credential(
        kind="oidc",
        access_token=tokens.access_token,
        user_id=actor.user_id,
        role=actor.role.value,
        expires_at=tokens.expires_at,
        refresh_token=tokens.refresh_token,
        token_endpoint=endpoints.token_endpoint,
        client_id=sign_in.client_id,
        issuer=sign_in.issuer,
    )


@app.command(
    rich_help_panel=PANEL,
    help=(
        "Sign in to the trialflow API. When the API names an OpenID provider, a code is shown to confirm in a "
        "browser (device sign-in); otherwise the personal API token an administrator gave you is asked for once "
        "(hidden), or read from stdin with --token-stdin. It is checked with the API, then kept in your config "
        "directory (owner-only), for this API and profile."
    ),
)
def login(
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read a personal API token from stdin instead of signing in.")
    ] = False,
    api: ApiOption = DEFAULT_API_URL,
    profile: ProfileOption = DEFAULT_PROFILE,
) -> None:
    def signed_in(client: ApiClient) -> Credential:
        sign_in = None if token_stdin else _sign_in_config(client)
        if sign_in is not None:
            return _device_sign_in(client, sign_in)
        if token_stdin:
            token = sys.stdin.readline().strip()
        else:
            token = typer.prompt(f"Personal API token for {client.api_url} (not shown)", hide_input=True).strip()
        if not token:
            fail(
                "no token was given: paste the token an administrator made for you (`trial admin token new`)",
                USAGE_ERROR_EXIT_CODE,
            )
        return _personal_token(client, token)

    credential = call_api(api, profile, signed_in, as_json=False)
    store = CredentialStore()
    try:
        store.put(api, profile, credential)
    except CredentialsFileError as error:
        fail(str(error))
    typer.echo(
        f"Signed in to {normalized_url(api)} as {credential.user_id} ({credential.role}){_profile_words(profile)}. "
        f"Credential kept in {store.path}."
    )


@app.command(
    rich_help_panel=PANEL,
    help="Who the saved credential identifies, as the API says.\n\n" + json_help(Actor),
)
def whoami(
    as_json: JsonOption = False, api: ApiOption = DEFAULT_API_URL, profile: ProfileOption = DEFAULT_PROFILE
) -> None:
    actor = Actor.model_validate(call_api(api, profile, lambda client: client.get("/me"), as_json))
    if as_json:
        print_json(actor)
        return
    typer.echo(f"{actor.user_id} ({actor.role.value}) at {normalized_url(api)}{_profile_words(profile)}")


@app.command(rich_help_panel=PANEL, help="Forget the saved credential for this API and profile.")
def logout(api: ApiOption = DEFAULT_API_URL, profile: ProfileOption = DEFAULT_PROFILE) -> None:
    try:
        removed = CredentialStore().remove(api, profile)
    except CredentialsFileError as error:
        fail(str(error))
    where = f"{normalized_url(api)}{_profile_words(profile)}"
    typer.echo(f"Signed out of {where}." if removed else f"No credential was kept for {where}.")
